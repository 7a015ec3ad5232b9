"""What the three models share about the KV cache and positions, and the one place that absorbs the differences
between the transformers releases we accept: setup.py's `install_requires`, the one statement of the range. This file
also runs as remote code without softcot-hf installed, so it checks no version and tells releases apart by what
they have.

- KV cache: 5.24 renamed `past_key_values` to `cache` (the old name is an alias until 5.40). Our models take either
  name, pass it on under the installed release's (`CACHE_KWARG`, read off its output classes) and tell prefill from
  a decoding step by what the cache holds.
- Positions count attended tokens only (`position_ids_from_attention_mask`): left padding never shifts them.
- Static caches and `torch.compile`: `WrapperGenerationMixin`.
- 5.24 renamed `gradient_checkpointing_enable` (`enable_activation_checkpointing`); 5.19 added `SubConfigSpec`
  (`sub_config` converts sub-config dicts as every release accepts).
- Private names of transformers, each with why (tests/test_compat.py fails by name when one moves):
  `cached_file_or_none`, `attn_implementation`.
"""

import os
from collections.abc import Callable

import torch
from transformers import CONFIG_MAPPING, PreTrainedConfig, PreTrainedModel
from transformers.cache_utils import Cache
from transformers.masking_utils import create_masks_for_generate
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.utils import cached_file

# The keyword (and output field) the installed transformers uses for the KV cache.
CACHE_KWARG = "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"


def pop_cache(kwargs: dict) -> Cache | None:
    """Remove the KV cache from `kwargs` under either name and return it (`None` if absent)."""
    cache, legacy = kwargs.pop("cache", None), kwargs.pop("past_key_values", None)
    if cache is not None and legacy is not None and cache is not legacy:
        raise ValueError("Got two different KV caches, as `cache` and as `past_key_values`: pass one.")
    return cache if cache is not None else legacy


def cached_length(cache: Cache | None) -> int:
    """Number of positions the cache already holds (0 for no cache)."""
    return 0 if cache is None else cache.get_seq_length()


def is_prefill(cache: Cache | None) -> bool:
    """True for the first forward of a sequence: nothing is cached yet."""
    return cached_length(cache) == 0


def check_positions(config: PreTrainedConfig, length: int, model: str) -> None:
    """Refuse a sequence longer than `config.max_position_embeddings`: GPT-2's position table would raise an IndexError
    from inside torch, and rotary models would run past their trained range without a word."""
    limit = getattr(config, "max_position_embeddings", None)
    if limit is not None and length > limit:
        raise ValueError(
            f"The {model}'s sequence needs {length} positions, more than its max_position_embeddings={limit}. Shorten "
            "the prompt (or the question), or generate fewer new tokens."
        )


def check_token_ids(input_ids: torch.LongTensor, vocab_size: int, model: str) -> None:
    """Refuse token ids outside the embedding table (inputs made by another tokenizer): torch would raise an IndexError
    from inside the embedding on CPU, a device-side assert on CUDA."""
    outside = (input_ids < 0) | (input_ids >= vocab_size)
    if outside.any():
        raise ValueError(
            f"input_ids hold token id {input_ids[outside][0].item()}, outside the {model}'s embedding table of "
            f"{vocab_size} rows: were they made by another tokenizer? Use the {model}'s own tokenizer (or the "
            "processor)."
        )


def _token_ids(value: int | list[int] | None) -> set[int]:
    return set() if value is None else {value} if isinstance(value, int) else set(value)


def check_padding_has_mask(
    input_ids: torch.LongTensor,
    attention_mask: torch.Tensor | None,
    config: PreTrainedConfig,
    model: str,
    ids_name: str = "input_ids",
    mask_name: str = "attention_mask",
) -> None:
    """
    Refuse a left-padded batch given without its padding mask: the padding would be read as tokens and change every
    result of the padded rows, silently. `ids_name` / `mask_name` name the inputs in the error. A batch looks
    left-padded when some row starts with a pad or EOS id of `config` that is not its BOS id, or when rows start
    differently and one starts with a pad, EOS or BOS id (the ids tokenizers pad with: Qwen pads with its BOS id, GPT-2
    with its EOS, which is also its BOS). One look at the first column, at prefill only.
    """
    if attention_mask is not None or input_ids.shape[1] == 0:
        return
    bos = _token_ids(config.bos_token_id)
    padding = _token_ids(config.pad_token_id) | _token_ids(config.eos_token_id)
    first = input_ids[:, 0].tolist()
    padded = [row for row, token in enumerate(first) if token in padding - bos]
    if not padded and len(set(first)) > 1:
        padded = [row for row, token in enumerate(first) if token in padding | bos]
    if padded:
        row = padded[0]
        raise ValueError(
            f"{ids_name} look left-padded (row {row} starts with token {first[row]}, a pad, EOS or BOS id of the "
            f"{model}) but no {mask_name} was given: the padding would be read "
            f"as text and change the results. Pass the {mask_name} that came with these ids (the processor or "
            f"tokenizer returns it: `model(**processor(questions))`), or an all-ones {mask_name} if the rows hold no "
            "padding."
        )


def position_ids_from_attention_mask(attention_mask: torch.Tensor, query_length: int) -> torch.LongTensor:
    """(batch, past + query) 0/1 mask -> (batch, query) positions that count attended tokens only (left padding)."""
    if not isinstance(attention_mask, torch.Tensor) or attention_mask.ndim != 2:
        is_tensor = isinstance(attention_mask, torch.Tensor)
        shape = tuple(attention_mask.shape) if is_tensor else type(attention_mask).__name__
        raise ValueError(
            f"Positions are counted from a (batch, length) padding mask, but the attention mask is {shape}: pass "
            "position_ids along with a prepared (4D) attention mask."
        )
    position_ids = attention_mask.long().cumsum(-1) - 1
    return position_ids.clamp(min=0)[:, -query_length:]


def starts_the_sequence(model_inputs: dict, padding_mask: torch.Tensor | None) -> bool:
    """
    Whether `generate`'s `model_inputs` (from `GenerationMixin.prepare_inputs_for_generation`) are a prefill, nothing
    cached before them: their `input_ids` cover the whole (batch, length) `padding_mask`. Decided on shapes alone (no
    device sync: a static cache keeps its length on the device); without a 2D mask, by the cache's length.
    """
    input_ids = model_inputs.get("input_ids")
    if isinstance(padding_mask, torch.Tensor) and padding_mask.ndim == 2 and input_ids is not None:
        return input_ids.shape[1] == padding_mask.shape[1]
    return is_prefill(model_inputs.get(CACHE_KWARG))


def padding_mask_at_prefill(model_inputs: dict, padding_mask: torch.Tensor | None) -> dict:
    """
    Give `model_inputs` (from `GenerationMixin.prepare_inputs_for_generation`) the (batch, length) `padding_mask`
    back at the prefill (`starts_the_sequence`): with a compileable cache `generate` has replaced it by a 4D mask,
    but the prefill's latent passes and thought slots read the 2D one. Decoding steps keep the 4D mask, whose fixed
    shape lets `torch.compile` reuse one graph.
    """
    if isinstance(padding_mask, torch.Tensor) and starts_the_sequence(model_inputs, padding_mask):
        model_inputs["attention_mask"] = padding_mask
    return model_inputs


def is_plain_decoding_step(model_inputs: dict, prefill_only: tuple[str, ...] = ()) -> bool:
    """
    True for a decoding step of `generate` over a compileable cache: one new token id per row, with the 4D mask
    `generate` prepared (the prefill always gets the 2D one, see `padding_mask_at_prefill`) and none of the
    `prefill_only` inputs. Such a step reads no latents or thoughts: it is the language model's own step. Decided on
    shapes alone: no device sync.
    """
    input_ids, mask = model_inputs.get("input_ids"), model_inputs.get("attention_mask")
    prepared_mask = mask is not None and not (isinstance(mask, torch.Tensor) and mask.ndim == 2)
    return (
        input_ids is not None
        and input_ids.shape[1] == 1
        and model_inputs.get("inputs_embeds") is None
        and prepared_mask
        and all(model_inputs.get(name) is None for name in prefill_only)
    )


class WrapperGenerationMixin:
    """
    `generate` with any cache kind and under `torch.compile` for a model that wraps a causal LM and reads extra
    inputs at its prefill only (latent passes, thought slots). Put it before `GenerationMixin` in the bases; the
    model names the LM its decoding steps run through (`_decoding_language_model`) and the inputs only a prefill
    takes (`_prefill_only_inputs`).

    - `generate`: a left-padded batch of prompts needs its attention mask (`check_padding_has_mask`);
    - `prepare_inputs_for_generation`: the prefill gets the 2D padding mask back (`padding_mask_at_prefill`);
    - `create_masks_for_generate`: decoding steps over a static cache get masks made for the wrapped LM's config;
    - `get_compiled_call` (what `generate` compiles for decoding steps with a `compile_config`): a plain decoding step
      (`is_plain_decoding_step`) is the wrapped LM's own step, so it runs the LM's compiled call, the graph a plain
      `generate` of the LM compiles, without the wrapper's prefill checks (they read a static cache's length on the
      device: a graph break and a sync per step). Anything else runs the wrapper eagerly. That step does not check
      `max_position_embeddings` (transformers warns when `max_length` exceeds it); the eager prefill does.
    """

    _prefill_only_inputs: tuple[str, ...] = ()

    def _decoding_language_model(self) -> PreTrainedModel:
        raise NotImplementedError

    def prepare_inputs_for_generation(self, *args, **kwargs) -> dict:
        model_inputs = super().prepare_inputs_for_generation(*args, **kwargs)
        return padding_mask_at_prefill(model_inputs, kwargs.get("attention_mask"))

    def generate(self, inputs: torch.Tensor | None = None, *args, **kwargs):
        """`GenerationMixin.generate`, refusing a left-padded batch of prompts without its attention mask
        (`check_padding_has_mask`): `generate` would make an all-ones mask whenever the pad id equals EOS."""
        input_ids = kwargs.get("input_ids", inputs)
        if isinstance(input_ids, torch.Tensor) and input_ids.ndim == 2 and kwargs.get("attention_mask") is None:
            check_padding_has_mask(input_ids, None, self._decoding_language_model().config, "language model")
        return super().generate(inputs, *args, **kwargs)

    def create_masks_for_generate(self, **mask_kwargs):
        mask_kwargs.pop("config", None)
        return create_masks_for_generate(config=self._decoding_language_model().config, **mask_kwargs)

    def get_compiled_call(self, compile_config) -> Callable:
        compiled_step = self._decoding_language_model().get_compiled_call(compile_config)

        def call(**model_inputs):
            if is_plain_decoding_step(model_inputs, self._prefill_only_inputs):
                return compiled_step(**model_inputs)
            return self(**model_inputs)

        return call


def output_cache(outputs) -> Cache | None:
    """The KV cache of a model output, whatever the installed release calls the field."""
    return outputs.get(CACHE_KWARG)


def enable_activation_checkpointing(model: PreTrainedModel, **checkpointing_kwargs) -> None:
    """Turn on activation (gradient) checkpointing, passing `checkpointing_kwargs` to `torch.utils.checkpoint`."""
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=checkpointing_kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=checkpointing_kwargs)


def sub_config(value: dict | PreTrainedConfig | None, default_model_type: str) -> PreTrainedConfig:
    """A sub-config from a config, a dict (its `model_type`, else `default_model_type`) or `None` (defaults)."""
    if isinstance(value, PreTrainedConfig):
        return value
    value = dict(value or {})
    return CONFIG_MAPPING[value.pop("model_type", default_model_type)](**value)


def cached_file_or_none(
    path_or_repo_id: str | os.PathLike, filename: str, *, offline_ok: bool = False, **location
) -> str | None:
    """
    The local path of `filename` in a model folder or Hub repo (`transformers.utils.cached_file` with `location`:
    revision, subfolder, token, ...), or `None` when it holds no such file; with `offline_ok`, also `None` when the
    Hub cannot be reached. `cached_file` takes these as private keyword arguments
    (`_raise_exceptions_for_missing_entries`, `_raise_exceptions_for_connection_errors`); there is no public form.
    """
    return cached_file(
        path_or_repo_id,
        filename,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=not offline_ok,
        **location,
    )


def attn_implementation(config: PreTrainedConfig) -> str | None:
    """The attention implementation `config` was loaded or built with (`None`: not chosen yet). transformers keeps it
    in the private `_attn_implementation` (the public `attn_implementation` is only an init argument)."""
    return config._attn_implementation


__all__ = [
    "CACHE_KWARG",
    "attn_implementation",
    "cached_file_or_none",
    "cached_length",
    "check_padding_has_mask",
    "enable_activation_checkpointing",
    "is_plain_decoding_step",
    "is_prefill",
    "output_cache",
    "padding_mask_at_prefill",
    "pop_cache",
    "position_ids_from_attention_mask",
    "starts_the_sequence",
    "sub_config",
    "WrapperGenerationMixin",
]
