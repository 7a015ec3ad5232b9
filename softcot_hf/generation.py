"""Prompt encoding and batched generation shared by every evaluated method."""

from collections.abc import Mapping

import torch
from transformers import (
    CompileConfig,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from .compat import compile_on_every_device
from .processing_softcot import left_pad, render_prompt_ids


def prompt_ids(tokenizer: PreTrainedTokenizerBase, text: str, chat: bool) -> list[int]:
    """
    Token ids of one prompt. `chat=True` (instruction-tuned backbones): the tokenizer's chat template as a user turn
    followed by the generation prompt, or the plain text with the tokenizer's special tokens when it has no template
    (as `SoftCoTProcessor` renders prompts). `chat=False` (models fine-tuned on raw text: cot, no_cot, coconut): the
    text alone, without special tokens, exactly as the Coconut curriculum tokenizes questions for training.
    """
    if not chat:
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    return render_prompt_ids(tokenizer, text)


def pad_token_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The id to pad with: the tokenizer's pad token, else its EOS (LLaMA-3 and GPT-2 have no pad token)."""
    if tokenizer.pad_token_id is not None:
        return tokenizer.pad_token_id
    if tokenizer.eos_token_id is None:
        raise ValueError(
            "The tokenizer has neither a pad nor an EOS token; set tokenizer.pad_token before evaluating."
        )
    return tokenizer.eos_token_id


def encode_prompts(tokenizer: PreTrainedTokenizerBase, prompts: list[str], chat: bool) -> dict[str, torch.Tensor]:
    """Left-padded `input_ids` and `attention_mask`, both (batch, max_prompt_len), of `prompts` (see `prompt_ids`)."""
    rows = [prompt_ids(tokenizer, prompt, chat) for prompt in prompts]
    return {
        "input_ids": left_pad(rows, pad_token_id(tokenizer)),
        "attention_mask": left_pad([[1] * len(row) for row in rows], 0),
    }


def decoding_compile_config(**compile_kwargs) -> CompileConfig:
    """
    A `CompileConfig` (`compile_kwargs`: backend, mode, fullgraph, dynamic, options) that makes
    `generate(..., cache_implementation="static", compile_config=...)` compile the decoding step on any device. By
    itself transformers compiles only on accelerators (CUDA, XPU, ...); this sets its switch for the CPU too. The
    prefill stays eager.
    """
    return compile_on_every_device(CompileConfig(**compile_kwargs))


def stop_token_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """The ids that end an answer: the model's generation config EOS ids and the tokenizer's EOS."""
    configured = model.generation_config.eos_token_id
    ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return sorted(ids)


def sampling_settings(
    num_samples: int,
    do_sample: bool | None,
    temperature: float,
    top_p: float,
    top_k: int | None = 0,
    repetition_penalty: float | None = None,
) -> dict:
    """
    `generate` arguments for `num_samples` paths per question: greedy search for one path unless `do_sample`,
    sampling at `temperature`/`top_p`/`top_k` (0: no limit) otherwise (self-consistency needs different paths, so
    it always samples). `None` for `top_k` or `repetition_penalty`: the backbone's `generation_config` decides
    (`resolve_sampling`), as it does in a plain `generate` call.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}.")
    do_sample = num_samples > 1 if do_sample is None else do_sample
    if num_samples > 1 and not do_sample:
        raise ValueError("Self-consistency (num_samples > 1) needs sampled paths: leave do_sample unset or True.")
    settings = {"do_sample": do_sample, "num_return_sequences": num_samples}
    if repetition_penalty is not None:
        settings["repetition_penalty"] = repetition_penalty
    if do_sample:
        settings.update(temperature=temperature, top_p=top_p, top_k=top_k)
    return settings


# What `generate` uses for a value neither the call nor the model's generation_config sets (transformers 4.x had them
# as GenerationConfig defaults; 5.x applies them inside generate).
UNSET_SAMPLING_DEFAULTS = {"top_k": 50, "repetition_penalty": 1.0}


def resolve_sampling(settings: dict, generation_config: GenerationConfig) -> dict:
    """
    `settings` (from `sampling_settings`) with every value left to the model (`top_k` None when sampling, a missing
    or None `repetition_penalty`) read from `generation_config` (the backbone's, as `generate` would): what the
    backbone really sees. A value the config does not set is transformers' default (top-k 50, repetition penalty 1).
    """
    resolved = dict(settings)
    for name, default in UNSET_SAMPLING_DEFAULTS.items():
        if resolved.get(name) is None and (name != "top_k" or resolved.get("do_sample")):
            value = getattr(generation_config, name, None)
            resolved[name] = default if value is None else value
    return resolved


class PerRowSampler(LogitsProcessor):
    """
    Samples the next token of each group of `rows_per_seed` consecutive rows with the group's own `torch.Generator`
    (after temperature, top-k and top-p, in `generate`'s order), then leaves only that token possible, so `generate`'s
    own sampling picks it. With one row per seed a row's sampled path depends on its seed alone: not on the other rows
    of its batch (size, order) nor on where a run stopped. With a question's paths as one group seeded by the run's
    seed, every question draws its paths from the same fresh stream, as the official SoftCoT evaluation does by
    reseeding before each question. Pass it with `generate`'s own warpers turned off (`per_row_sampling` does both).
    """

    def __init__(
        self, seeds: list[int], temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0, rows_per_seed: int = 1
    ):
        self.seeds = seeds
        self.rows_per_seed = rows_per_seed
        self.generators: list[torch.Generator] | None = None  # made on the scores' device at the first step
        self.warpers = LogitsProcessorList()
        if temperature != 1.0:
            self.warpers.append(TemperatureLogitsWarper(temperature))
        if top_k:
            self.warpers.append(TopKLogitsWarper(top_k))
        if top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(top_p))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """(batch, vocab) scores -> (batch, vocab) with 0 at each row's drawn token and -inf elsewhere."""
        if len(self.seeds) * self.rows_per_seed != scores.shape[0]:
            raise ValueError(f"{len(self.seeds)} seeds of {self.rows_per_seed} rows each for {scores.shape[0]} rows.")
        if self.generators is None:
            self.generators = [torch.Generator(scores.device).manual_seed(seed) for seed in self.seeds]
        probabilities = self.warpers(input_ids, scores).float().softmax(-1)
        groups = probabilities.split(self.rows_per_seed)
        drawn = [torch.multinomial(rows, 1, generator=gen) for rows, gen in zip(groups, self.generators, strict=True)]
        return torch.full_like(scores, -float("inf")).scatter(1, torch.cat(drawn), 0.0)


def per_row_sampling(settings: dict, seeds: list[int], rows_per_seed: int = 1) -> dict:
    """`generate` arguments (from `sampling_settings`, resolved by `resolve_sampling`) that sample each group of
    `rows_per_seed` rows with its seed in `seeds` (see `PerRowSampler`); greedy settings are returned as they are."""
    if not settings.get("do_sample"):
        return settings
    sampler = PerRowSampler(seeds, settings["temperature"], settings["top_p"], settings["top_k"], rows_per_seed)
    return {
        **settings,
        "temperature": 1.0,
        "top_p": 1.0,
        "top_k": 0,
        "logits_processor": LogitsProcessorList([sampler]),
    }


@torch.no_grad()
def generate_texts(
    model: PreTrainedModel,
    inputs: Mapping[str, torch.Tensor],
    tokenizer: PreTrainedTokenizerBase,
    **generate_kwargs,
) -> tuple[list[str], list[int]]:
    """
    Runs `model.generate(**inputs)` on a left-padded batch and returns, for each returned sequence (batch *
    num_return_sequences, grouped by question), its decoded new text and its number of generated tokens: the tokens
    after the prompt up to, not including, the first stop token (`stop_token_ids`). For Coconut the count includes
    the `<|start-latent|>`, latent and `<|end-latent|>` positions that `generate` appends, as the Coconut paper counts.
    """
    device = model.device
    inputs = {key: value.to(device) for key, value in inputs.items()}
    stop_ids = stop_token_ids(model, tokenizer)
    output = model.generate(**inputs, eos_token_id=stop_ids, pad_token_id=pad_token_id(tokenizer), **generate_kwargs)
    new_tokens = output[:, inputs["input_ids"].shape[1] :].cpu()
    is_stop = torch.isin(new_tokens, torch.tensor(stop_ids))
    lengths = torch.where(is_stop.any(1), is_stop.int().argmax(1), new_tokens.shape[1]).tolist()
    rows = zip(new_tokens, lengths, strict=True)
    texts = [tokenizer.decode(row[:length], skip_special_tokens=True).strip() for row, length in rows]
    return texts, lengths
