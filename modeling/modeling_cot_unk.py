"""PyTorch Zero-Shot CoT-Unk (SoftCoT paper's baseline): N trainable embeddings in the thought slots of a frozen LM."""

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.utils import SAFE_WEIGHTS_NAME, cached_file

from .configuration_cot_unk import CoTUnkConfig
from .modeling_softcot import _HUB_KWARGS, _rows_with_wrong_count, position_ids_from_attention_mask
from .thought_tokens import select_thought_tokens


class CoTUnkThoughtEmbeddings(nn.Module):
    """The N trainable thought embeddings, `weight` of shape (N, backbone_hidden_size), kept in fp32."""

    def __init__(self, config: CoTUnkConfig):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(config.num_thought_tokens, config.text_config.hidden_size))

    @torch.no_grad()
    def reset_from(self, embedding_table: torch.Tensor) -> None:
        """Initialise like a typical row of the backbone's (vocab, hidden) embedding table: each entry drawn from
        N(mean, std) of its column (per-dimension mean and standard deviation over the rows), fp32, torch's RNG."""
        table = embedding_table.float()
        mean, std = table.mean(0), table.std(0)
        noise = torch.randn(self.weight.shape, device=self.weight.device)
        self.weight.copy_(mean.to(self.weight.device) + std.to(self.weight.device) * noise)


class CoTUnkPreTrainedModel(PreTrainedModel):
    config: CoTUnkConfig
    supports_gradient_checkpointing = True
    _skip_keys_device_placement = ["past_key_values"]
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    def _init_weights(self, module: nn.Module) -> None:
        """Only the thought embeddings are ours to initialise (from the backbone's embedding statistics)."""
        if isinstance(module, CoTUnkThoughtEmbeddings) and hasattr(self, "backbone"):
            module.reset_from(self.backbone.get_input_embeddings().weight)


class CoTUnkForCausalLM(CoTUnkPreTrainedModel, GenerationMixin):
    """
    A frozen `backbone` LM reads SoftCoT's prompt in which the N thought slots hold N trainable embeddings
    (`thought_embeddings`, the same for every question): prompt tuning at the slots. Only those are trained and saved.
    """

    def __init__(self, config: CoTUnkConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config)
        self.backbone = backbone if backbone is not None else AutoModelForCausalLM.from_config(config.text_config)
        config.text_config = self.backbone.config  # the live sub-config (keeps its attention implementation)
        self.thought_embeddings = CoTUnkThoughtEmbeddings(config)
        self.generation_config = GenerationConfig.from_dict(self.backbone.generation_config.to_dict())
        self.post_init()
        self.thought_embeddings.reset_from(self.backbone.get_input_embeddings().weight)
        self.thought_embeddings.float()
        self.backbone.requires_grad_(False)
        self.backbone.eval()
        # Checkpoints hold the thought embeddings only; the backbone is referenced by id in the config.
        self._keys_to_ignore_on_save = {key for key in self.state_dict() if not key.startswith("thought_embeddings.")}

    @classmethod
    def from_backbone(
        cls,
        backbone: PreTrainedModel | str,
        num_thought_tokens: int = 4,
        backbone_tokenizer=None,
        **config_kwargs,
    ) -> "CoTUnkForCausalLM":
        """
        Build a CoT-Unk model with fresh embeddings (torch's RNG: seed first). `backbone` is a loaded model or a Hub id
        / path; its tokenizer (loaded from the same id/path unless given) chooses the slot token by SoftCoT's rule
        (`select_thought_tokens`, backbone side). `config_kwargs` go to `CoTUnkConfig`.
        """
        backbone = AutoModelForCausalLM.from_pretrained(backbone) if isinstance(backbone, str) else backbone
        if backbone_tokenizer is None:
            if not backbone.name_or_path:
                raise ValueError(
                    "The backbone has no name_or_path to load its tokenizer from: pass `backbone_tokenizer=` (or the "
                    "backbone as a Hub id / local path)."
                )
            backbone_tokenizer = AutoTokenizer.from_pretrained(backbone.name_or_path)
        tokens = select_thought_tokens(backbone_tokenizer, backbone_tokenizer)  # only the backbone side is used
        config = CoTUnkConfig(
            backbone_model_name_or_path=backbone.name_or_path or None,
            text_config=backbone.config.to_dict(),
            num_thought_tokens=num_thought_tokens,
            thought_token_id=tokens.backbone_slot_id,
            thought_start_token_id=tokens.backbone_start_id,
            thought_end_token_id=tokens.backbone_end_id,
            **config_kwargs,
        )
        return cls(config, backbone=backbone)

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *model_args,
        config: CoTUnkConfig | None = None,
        backbone: PreTrainedModel | None = None,
        revision: str | None = None,
        subfolder: str = "",
        **kwargs,
    ) -> "CoTUnkForCausalLM":
        """
        Load the frozen backbone by reference (its id is in `config.json`), then the thought embeddings.

        `revision`/`subfolder` locate this checkpoint; `dtype`, `device_map`, `attn_implementation` and any other
        loading argument go to the backbone; `token`, `cache_dir`, `local_files_only`, ... go to both. Pass
        `backbone=` to reuse a model already loaded.
        """
        if model_args:
            raise TypeError(f"CoTUnkForCausalLM.from_pretrained takes no positional model arguments, got {model_args}")
        # `adapter_kwargs` (the Auto classes pass this repo's resolved revision there) describe this repo, not the
        # backbone: forwarding them would look for the backbone at this repo's commit.
        kwargs = {key: value for key, value in kwargs.items() if not key.startswith("_") and key != "adapter_kwargs"}
        hub_kwargs = {key: kwargs[key] for key in _HUB_KWARGS if key in kwargs}
        location = {"revision": revision, "subfolder": subfolder, **hub_kwargs}
        if not isinstance(config, CoTUnkConfig):
            config = CoTUnkConfig.from_pretrained(pretrained_model_name_or_path, **location)
        if backbone is None:
            if not config.backbone_model_name_or_path:
                raise ValueError(
                    "config.json does not name the backbone (backbone_model_name_or_path is empty): pass `backbone=` "
                    "a loaded model, or set `config.backbone_model_name_or_path` to its Hub id or path before saving."
                )
            if config.text_config._attn_implementation is not None:
                kwargs = {"attn_implementation": config.text_config._attn_implementation, **kwargs}
            backbone = AutoModelForCausalLM.from_pretrained(config.backbone_model_name_or_path, **kwargs)
        model = cls(config, backbone=backbone)

        weights_file = cached_file(pretrained_model_name_or_path, SAFE_WEIGHTS_NAME, **location)
        model.load_thought_embeddings(load_file(weights_file), source=str(pretrained_model_name_or_path))
        model.thought_embeddings.to(model.backbone.get_input_embeddings().weight.device)
        generation_file = cached_file(
            pretrained_model_name_or_path,
            "generation_config.json",
            _raise_exceptions_for_missing_entries=False,
            **location,
        )
        if generation_file is not None:
            model.generation_config = GenerationConfig.from_dict(json.loads(Path(generation_file).read_text()))
        return model.eval()

    def load_thought_embeddings(self, state_dict: dict[str, torch.Tensor], source: str = "the state dict") -> None:
        """Load `thought_embeddings.weight` (N, hidden) from `state_dict`, with a clear error if the shape differs."""
        key = "thought_embeddings.weight"
        if key not in state_dict:
            raise ValueError(f"{source} holds no {key!r} (keys: {sorted(state_dict)}): not a CoT-Unk checkpoint.")
        expected = tuple(self.thought_embeddings.weight.shape)
        if tuple(state_dict[key].shape) != expected:
            raise ValueError(
                f"{source}: {key} has shape {tuple(state_dict[key].shape)}, but num_thought_tokens and the backbone's "
                f"hidden size give {expected}. Was it trained with another backbone or N?"
            )
        with torch.no_grad():
            self.thought_embeddings.weight.copy_(state_dict[key].float())

    def train(self, mode: bool = True) -> "CoTUnkForCausalLM":
        """Switch the mode; the frozen backbone always stays in eval mode (no dropout)."""
        super().train(mode)
        self.backbone.eval()
        return self

    def get_input_embeddings(self) -> nn.Module:
        return self.backbone.get_input_embeddings()

    def get_output_embeddings(self) -> nn.Module:
        return self.backbone.get_output_embeddings()

    def get_placeholder_mask(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None
    ) -> torch.BoolTensor:
        """(batch, length) True at the thought slots; padding never counts, even if same id."""
        mask = input_ids == self.config.thought_token_id
        if attention_mask is not None:
            mask = mask & attention_mask[:, -input_ids.shape[1] :].bool()
        return mask

    def embed_with_thoughts(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None, fill_slots: bool = True
    ) -> torch.Tensor:
        """
        Backbone input embeddings (batch, length, hidden). With `fill_slots` (the prompt, not a decoding step) each
        row must hold exactly N slots, which receive the N thought embeddings (cast to the backbone's dtype).
        """
        slot_ids = input_ids == self.config.thought_token_id
        # Slot ids may lie outside the embedding table: never look them up.
        embeddings = self.get_input_embeddings()(input_ids.masked_fill(slot_ids, 0))
        if not fill_slots:
            return embeddings
        slots = self.get_placeholder_mask(input_ids, attention_mask)
        n = self.config.num_thought_tokens
        if wrong := _rows_with_wrong_count(slots, n):
            raise ValueError(
                f"Each prompt must hold exactly num_thought_tokens={n} thought slots "
                f"(id {self.config.thought_token_id}); (row, count) {wrong} do not. Build the inputs with "
                "SoftCoTProcessor(None, backbone_tokenizer, num_thought_tokens=N), or write exactly N slot "
                "tokens in each prompt."
            )
        thoughts = self.thought_embeddings.weight.to(embeddings.dtype).expand(input_ids.shape[0], -1, -1)
        return embeddings.masked_scatter(slots.unsqueeze(-1), thoughts)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        r"""
        input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`):
            Backbone tokens; a prompt (nothing cached yet) holds N thought slots per row (`config.thought_token_id`).
        labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
            Targets aligned with `input_ids` (shifted inside); -100 positions are ignored.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        if inputs_embeds is None:
            is_prompt = past_key_values is None or past_key_values.get_seq_length() == 0
            inputs_embeds = self.embed_with_thoughts(input_ids, attention_mask, fill_slots=is_prompt)
        if position_ids is None and attention_mask is not None:
            position_ids = position_ids_from_attention_mask(attention_mask, inputs_embeds.shape[1])
        return self.backbone(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            labels=labels,
            use_cache=use_cache,
            logits_to_keep=logits_to_keep,
            **kwargs,
        )


CoTUnkForCausalLM.register_for_auto_class("AutoModelForCausalLM")

__all__ = ["CoTUnkForCausalLM", "CoTUnkPreTrainedModel", "CoTUnkThoughtEmbeddings"]
