"""What SoftCoT and CoT-Unk share: frozen models referenced by id (never saved), a small trained module saved alone,
and N thought slots in the frozen backbone's prompt whose embeddings that module's output replaces."""

import json
import os
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    PreTrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.cache_utils import Cache
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.utils import CONFIG_NAME, SAFE_WEIGHTS_NAME, cached_file

from .compat import CACHE_KWARG
from .thought_tokens import suppress_internal_tokens

# Keyword arguments of `from_pretrained` that locate files; they apply to the checkpoint and to the frozen models.
HUB_KWARGS = ("cache_dir", "force_download", "proxies", "token", "local_files_only")


def position_ids_from_attention_mask(attention_mask: torch.Tensor, query_length: int) -> torch.LongTensor:
    """(batch, past + query) 0/1 mask -> (batch, query) positions that count attended tokens only (left padding)."""
    position_ids = attention_mask.long().cumsum(-1) - 1
    return position_ids.clamp(min=0)[:, -query_length:]


def rows_with_wrong_count(mask: torch.Tensor, expected: int) -> list[tuple[int, int]]:
    """[(row, count)] for the rows of a (batch, length) bool mask that do not hold exactly `expected` Trues."""
    counts = mask.sum(-1).tolist()
    return [(row, count) for row, count in enumerate(counts) if count != expected]


def model_and_tokenizer(
    side: str,
    model: PreTrainedModel | str,
    tokenizer: PreTrainedTokenizerBase | None = None,
    revision: str | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """
    The frozen `side` model (loaded at `revision` if given as a Hub id / path) and its tokenizer: `tokenizer` if given,
    else the one at the model's `name_or_path` (and `revision`).
    """
    model = AutoModelForCausalLM.from_pretrained(model, revision=revision) if isinstance(model, str) else model
    if tokenizer is None:
        if not model.name_or_path:
            raise ValueError(
                f"The {side} model has no name_or_path to load its tokenizer from: pass `{side}_tokenizer=` (or the "
                f"{side} as a Hub id / local path)."
            )
        tokenizer = AutoTokenizer.from_pretrained(model.name_or_path, revision=revision)
    return model, tokenizer


@contextmanager
def _name_missing_file(checkpoint_kind: str, name_or_path: str | os.PathLike, filename: str):
    """Re-raise a failed lookup of the checkpoint's `filename` with the repo, the file and how to fix it."""
    try:
        yield
    except OSError as error:
        raise OSError(
            f"Could not get {filename} of the {checkpoint_kind} checkpoint {str(name_or_path)!r}. Offline or with "
            f"local_files_only=True it must already be in the cache: download it once (`hf download {name_or_path}`) "
            f"or pass a local folder. Otherwise check the id, the revision and your access to it. The loader said: "
            f"{error}"
        ) from error


class ThoughtSlotsPreTrainedModel(PreTrainedModel):
    """
    Base of the models that fill N thought slots in the prompt of a frozen `backbone` LM. Each model class names its
    frozen models (`_frozen_models`: attribute -> sub-config holding its config; the config also holds
    `<attribute>_model_name_or_path`), its trained module (`_trained_module`, the only weights saved), how errors name
    its checkpoints (`_checkpoint_kind`) and how to build its inputs (`_inputs_hint`).
    """

    supports_gradient_checkpointing = True
    _skip_keys_device_placement = ["cache", "past_key_values"]
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    _frozen_models: dict[str, str] = {"backbone": "text_config"}
    _trained_module: str
    _checkpoint_kind: str
    _inputs_hint: str

    def _hold_frozen_models(self, **models: PreTrainedModel | None) -> None:
        """
        Hold each frozen model (given, or built from its sub-config) and share its live config with `self.config`, so
        the config describes exactly the models held (and their attention setting). Generation starts from the
        backbone's generation config, which never emits the slot or marker tokens (`suppress_internal_tokens`).
        """
        for name, sub_config in self._frozen_models.items():
            model = models.get(name)
            if model is None:
                model = AutoModelForCausalLM.from_config(getattr(self.config, sub_config))
            setattr(self, name, model)
            setattr(self.config, sub_config, model.config)
        self.generation_config = GenerationConfig.from_dict(self.backbone.generation_config.to_dict())
        marker_ids = [
            self.config.thought_token_id,
            self.config.thought_start_token_id,
            self.config.thought_end_token_id,
        ]
        suppress_internal_tokens(self.generation_config, marker_ids)

    def _freeze_frozen_models(self) -> None:
        """After `post_init`: no gradients and eval mode for the frozen models; checkpoints hold the trained module
        only (the frozen models are referenced by id in the config)."""
        for name in self._frozen_models:
            getattr(self, name).requires_grad_(False)
            getattr(self, name).eval()
        prefix = f"{self._trained_module}."
        self._keys_to_ignore_on_save = {key for key in self.state_dict() if not key.startswith(prefix)}

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *model_args,
        config: PreTrainedConfig | None = None,
        revision: str | None = None,
        subfolder: str = "",
        **kwargs,
    ) -> "ThoughtSlotsPreTrainedModel":
        """
        Load the frozen models by reference (their ids are in `config.json`), then the trained module.

        `revision`/`subfolder` locate this checkpoint; `dtype`, `device_map`, `attn_implementation` and any other
        loading argument go to the frozen models; `token`, `cache_dir`, `local_files_only`, ... go to all of them.
        Pass a frozen model already loaded under its name (`backbone=`; SoftCoT also `assistant=`) to reuse it.
        """
        if model_args:
            raise TypeError(f"{cls.__name__}.from_pretrained takes no positional model arguments, got {model_args}")
        frozen = {name: kwargs.pop(name, None) for name in cls._frozen_models}
        # `adapter_kwargs` (the Auto classes pass this repo's resolved revision there) describe this repo, not the
        # frozen models: forwarding them would look for the frozen models at this repo's commit.
        kwargs = {key: value for key, value in kwargs.items() if not key.startswith("_") and key != "adapter_kwargs"}
        hub_kwargs = {key: kwargs[key] for key in HUB_KWARGS if key in kwargs}
        location = {"revision": revision, "subfolder": subfolder, **hub_kwargs}
        source = str(pretrained_model_name_or_path)
        if not isinstance(config, cls.config_class):
            with _name_missing_file(cls._checkpoint_kind, source, CONFIG_NAME):
                config = cls.config_class.from_pretrained(pretrained_model_name_or_path, **location)
        for name, model in frozen.items():
            if model is None:
                frozen[name] = cls._load_frozen(config, name, kwargs, source)
        model = cls(config, **frozen)

        with _name_missing_file(cls._checkpoint_kind, source, SAFE_WEIGHTS_NAME):
            weights_file = cached_file(pretrained_model_name_or_path, SAFE_WEIGHTS_NAME, **location)
        model._load_trained_weights(load_file(weights_file), source=source)
        getattr(model, cls._trained_module).to(model.backbone.get_input_embeddings().weight.device)
        generation_file = cached_file(
            pretrained_model_name_or_path,
            "generation_config.json",
            _raise_exceptions_for_missing_entries=False,
            **location,
        )
        if generation_file is not None:
            model.generation_config = GenerationConfig.from_dict(json.loads(Path(generation_file).read_text()))
        return model.eval()

    @classmethod
    def _load_frozen(cls, config: PreTrainedConfig, name: str, kwargs: dict, source: str) -> PreTrainedModel:
        """Load the frozen model `name` by reference, at the config's `{name}_revision` if pinned. An attention
        implementation that `AutoModel*.from_pretrained` absorbed into the config (it sets it on every sub-config)
        still applies."""
        name_or_path = getattr(config, f"{name}_model_name_or_path")
        revision = getattr(config, f"{name}_revision", None)
        if not name_or_path:
            raise ValueError(
                f"config.json does not name the {name} model ({name}_model_name_or_path is empty): pass `{name}=` a "
                f"loaded model, or set `config.{name}_model_name_or_path` to its Hub id or path before saving."
            )
        sub_config = getattr(config, cls._frozen_models[name])
        if sub_config._attn_implementation is not None:
            kwargs = {"attn_implementation": sub_config._attn_implementation, **kwargs}
        try:
            return AutoModelForCausalLM.from_pretrained(name_or_path, revision=revision, **kwargs)
        except OSError as error:
            raise OSError(
                f"Could not load the frozen {name} model {name_or_path!r}"
                f"{'' if revision is None else f' at revision {revision!r}'} that {source} references "
                f"({name}_model_name_or_path in its config.json). A {cls._checkpoint_kind} checkpoint holds only the "
                f"{cls._trained_module.replace('_', ' ')}; the {name} comes from its own repo. Offline or with "
                f"local_files_only=True it must already be in the cache: download it once (`hf download "
                f"{name_or_path}`), or pass `{name}=` a loaded model. Otherwise check the id and your access to it. "
                f"The loader said: {error}"
            ) from error

    def _load_trained_weights(self, state_dict: dict[str, torch.Tensor], source: str) -> None:
        """Load the trained module's tensors from a checkpoint's `state_dict`, failing clearly if they do not fit."""
        raise NotImplementedError

    def train(self, mode: bool = True) -> "ThoughtSlotsPreTrainedModel":
        """Switch the trained module's mode; the frozen models always stay in eval mode (no dropout)."""
        super().train(mode)
        for name in self._frozen_models:
            getattr(self, name).eval()
        return self

    def get_input_embeddings(self) -> nn.Module:
        return self.backbone.get_input_embeddings()

    def get_output_embeddings(self) -> nn.Module:
        return self.backbone.get_output_embeddings()

    def get_placeholder_mask(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None
    ) -> torch.BoolTensor:
        """(batch, length) True at the backbone's thought slots; padding never counts, even if same id."""
        mask = input_ids == self.config.thought_token_id
        if attention_mask is not None:
            mask = mask & attention_mask[:, -input_ids.shape[1] :].bool()
        return mask

    def _embed_tokens(self, input_ids: torch.LongTensor) -> torch.Tensor:
        """(batch, length) ids -> (batch, length, hidden) backbone input embeddings. The slot id may lie outside the
        embedding table (added to the tokenizer only): ids outside the table read row 0. At prefill the slots are then
        overwritten by the thoughts; in a decoding step every id is an ordinary token."""
        embeddings = self.get_input_embeddings()
        return embeddings(input_ids.masked_fill(input_ids >= embeddings.weight.shape[0], 0))

    def _check_slot_counts(self, slots: torch.BoolTensor) -> None:
        """Raise unless each row of the (batch, length) slot mask holds exactly N slots."""
        n = self.config.num_thought_tokens
        if wrong := rows_with_wrong_count(slots, n):
            raise ValueError(
                f"Each backbone prompt must hold exactly num_thought_tokens={n} thought slots "
                f"(id {self.config.thought_token_id}); (row, count) {wrong} do not. Build the inputs with "
                f"{self._inputs_hint}, or write exactly N slot tokens in each prompt."
            )

    def _forward_backbone(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_ids: torch.LongTensor | None,
        cache: Cache | None,
        labels: torch.LongTensor | None,
        use_cache: bool | None,
        logits_to_keep: int | torch.Tensor,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        """The backbone over (batch, length, hidden) embeddings; positions count attended tokens (left padding)."""
        if position_ids is None and attention_mask is not None:
            position_ids = position_ids_from_attention_mask(attention_mask, inputs_embeds.shape[1])
        return self.backbone(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            labels=labels,
            use_cache=use_cache,
            logits_to_keep=logits_to_keep,
            **{CACHE_KWARG: cache},
            **kwargs,
        )


__all__ = ["ThoughtSlotsPreTrainedModel", "model_and_tokenizer", "position_ids_from_attention_mask"]
