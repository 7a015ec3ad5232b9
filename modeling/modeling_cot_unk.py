"""PyTorch Zero-Shot CoT-Unk (SoftCoT paper's baseline): N trainable embeddings in the thought slots of a frozen LM."""

import os

import torch
from huggingface_hub import CommitInfo
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    GenerationConfig,
    GenerationMixin,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.cache_utils import Cache
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs
from transformers.utils.generic import can_return_tuple

from .compat import (
    CACHE_KWARG,
    WrapperGenerationMixin,
    cached_length,
    check_padding_has_mask,
    check_positions,
    check_token_ids,
    is_prefill,
    output_cache,
    pop_cache,
    position_ids_from_attention_mask,
)
from .configuration_cot_unk import CoTUnkConfig
from .frozen_models import FrozenModelsCheckpoint, model_and_tokenizer, pinned_revision
from .hub_push import push_model
from .thought_inspection import ThoughtInspectionOutput, inspect_thought_vectors
from .thought_tokens import rows_with_wrong_count, select_thought_tokens, suppress_internal_tokens
from .weights_record import WeightsRecordMixin


class CoTUnkThoughtEmbeddings(nn.Module):
    """The N trainable thought embeddings, `weight` of shape (N, backbone_hidden_size), kept in fp32."""

    def __init__(self, config: CoTUnkConfig):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(config.num_thought_tokens, config.text_config.hidden_size))


class CoTUnkPreTrainedModel(WeightsRecordMixin, PreTrainedModel):
    config: CoTUnkConfig
    supports_gradient_checkpointing = True
    _skip_keys_device_placement = ["cache", "past_key_values"]
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """
        Only the thought embeddings are ours to initialise, like a typical row of the backbone's (vocab, hidden)
        embedding table: each entry drawn from N(mean, std) of its column (per-dimension statistics over the rows), in
        fp32, from torch's RNG.
        """
        if isinstance(module, CoTUnkThoughtEmbeddings):
            table = self.backbone.get_input_embeddings().weight.float().to(module.weight.device)
            noise = torch.randn(module.weight.shape, device=module.weight.device)
            module.weight.copy_(table.mean(0) + table.std(0) * noise)


class CoTUnkForCausalLM(WrapperGenerationMixin, CoTUnkPreTrainedModel, GenerationMixin):
    """
    A frozen `backbone` LM reads SoftCoT's prompt in which the N thought slots hold N trainable embeddings
    (`thought_embeddings`, the same for every question): prompt tuning at the slots. Only those are trained and saved.
    """

    _trained_module = "thought_embeddings"  # the only weights a checkpoint or a push holds

    def __init__(self, config: CoTUnkConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config)
        self.backbone = backbone if backbone is not None else AutoModelForCausalLM.from_config(config.text_config)
        # The config describes exactly the model held, its attention implementation included.
        config.text_config = self.backbone.config
        self.thought_embeddings = CoTUnkThoughtEmbeddings(config).float()
        self.post_init()

        self.backbone.requires_grad_(False).eval()
        # Checkpoints hold the thought embeddings only: config.json names the backbone.
        self._keys_to_ignore_on_save = {key for key in self.state_dict() if not key.startswith("thought_embeddings.")}
        self.generation_config = self._backbone_generation_config()

    @classmethod
    def from_backbone(
        cls,
        backbone: PreTrainedModel | str,
        num_thought_tokens: int = 4,
        backbone_tokenizer=None,
        backbone_revision: str | None = None,
        pin_revisions: bool = True,
        **config_kwargs,
    ) -> "CoTUnkForCausalLM":
        """
        Build a CoT-Unk model with fresh embeddings (torch's RNG: seed first). `backbone` is a loaded model or a Hub id
        / path; its tokenizer (loaded from the same id/path unless given) chooses the slot token by SoftCoT's rule
        (`select_thought_tokens`, backbone side). `backbone_revision` loads (and records in the config) a branch, tag
        or commit of the backbone; without one, a backbone from the Hub is pinned to the commit it came from
        (`pin_revisions=False`: follow its main branch). `config_kwargs` go to `CoTUnkConfig`.
        """
        backbone, backbone_tokenizer = model_and_tokenizer("backbone", backbone, backbone_tokenizer, backbone_revision)
        tokens = select_thought_tokens(backbone_tokenizer, backbone_tokenizer)  # only the backbone side is used
        config = CoTUnkConfig(
            backbone_model_name_or_path=backbone.name_or_path or None,
            backbone_revision=pinned_revision(backbone, backbone_revision, pin_revisions),
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
        frozen_trust_remote_code: bool = False,
        **kwargs,
    ) -> "CoTUnkForCausalLM":
        """
        Load the backbone by reference (config.json names it, at its pinned revision if any), then the thought
        embeddings. Pass `backbone=` to reuse a model already loaded.

        `revision`/`subfolder` locate this checkpoint; `token`, `cache_dir`, `local_files_only`, ... locate every file;
        `dtype`, `device_map`, `attn_implementation` and any other loading argument go to the backbone.
        `trust_remote_code=True` covers this repo only; `frozen_trust_remote_code=True` also runs code that the
        backbone's own repo carries (read it first).
        """
        if model_args:
            raise TypeError(f"{cls.__name__}.from_pretrained takes no positional model arguments, got {model_args}")
        checkpoint = FrozenModelsCheckpoint("CoT-Unk", pretrained_model_name_or_path, kwargs, frozen_trust_remote_code)
        if not isinstance(config, CoTUnkConfig):
            config = checkpoint.load_config(CoTUnkConfig)
        if backbone is None:
            backbone = checkpoint.load_frozen_model(config, "backbone", config.text_config)
        model = cls(config, backbone=backbone)
        model.load_thought_embeddings(checkpoint.load_state_dict(), source=checkpoint.source)
        model.thought_embeddings.to(model.backbone.get_input_embeddings().weight.device)
        model.generation_config = checkpoint.load_generation_config() or model.generation_config
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

    def push_to_hub(self, repo_id: str, **push_kwargs) -> CommitInfo:
        """Upload the trained weights, config, remote code and model card in one commit (`hub_push.push_model`, whose
        keyword arguments it takes): local paths and frozen models' weights are refused before any request."""
        return push_model(self, repo_id, **push_kwargs)

    @torch.no_grad()
    def inspect_thoughts(
        self, top_k: int = 5, tokenizer: PreTrainedTokenizerBase | None = None
    ) -> ThoughtInspectionOutput:
        """
        The backbone's vocabulary tokens nearest to each of the N learned thought embeddings, in the backbone's dtype
        as its slots receive them (the same N for every question, so the batch is 1): by the logit lens (the
        backbone's final norm, then its LM head) and by cosine similarity to its input embedding table; `tokenizer`
        (the backbone's) decodes them. Returns a [`ThoughtInspectionOutput`] whose tensors have shape (1, N, top_k).
        """
        embeddings = self.get_input_embeddings().weight
        thoughts = self.thought_embeddings.weight.to(embeddings.device, embeddings.dtype)[None]
        return inspect_thought_vectors(thoughts, self.backbone, top_k, tokenizer)

    def train(self, mode: bool = True) -> "CoTUnkForCausalLM":
        """Switch the thought embeddings' mode; the frozen backbone always stays in eval mode (no dropout)."""
        super().train(mode)
        self.backbone.eval()
        return self

    # Copied from modeling_softcot.SoftCoTForCausalLM._backbone_generation_config
    def _backbone_generation_config(self) -> GenerationConfig:
        """Generation settings: the backbone's, never emitting the slot or marker tokens."""
        generation_config = GenerationConfig.from_dict(self.backbone.generation_config.to_dict())
        ids = (self.config.thought_token_id, self.config.thought_start_token_id, self.config.thought_end_token_id)
        suppress_internal_tokens(generation_config, list(ids))
        return generation_config

    # Copied from modeling_softcot.SoftCoTForCausalLM._pop_backbone_cache
    def _pop_backbone_cache(
        self, input_ids: torch.LongTensor | None, inputs_embeds: torch.Tensor | None, kwargs: dict
    ) -> Cache | None:
        """Check one of `input_ids` / `inputs_embeds` came and fits the backbone's positions after what is cached;
        pop the KV cache from `kwargs` (under either name) and return it."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        cache = pop_cache(kwargs)
        length = (input_ids if inputs_embeds is None else inputs_embeds).shape[1]
        check_positions(self.backbone.config, cached_length(cache) + length, "backbone")
        return cache

    # Copied from modeling_softcot.SoftCoTForCausalLM._backbone_forward
    def _backbone_forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_ids: torch.LongTensor | None,
        cache: Cache | None,
        **backbone_kwargs,
    ) -> CausalLMOutputWithPast:
        """The frozen backbone over (batch, length, hidden) embeddings; positions count attended tokens only."""
        if position_ids is None and attention_mask is not None:
            position_ids = position_ids_from_attention_mask(attention_mask, inputs_embeds.shape[1])
        return self.backbone(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            **{CACHE_KWARG: cache},
            **backbone_kwargs,
        )

    # Copied from modeling_softcot.SoftCoTForCausalLM.get_input_embeddings
    def get_input_embeddings(self) -> nn.Module:
        return self.backbone.get_input_embeddings()

    # Copied from modeling_softcot.SoftCoTForCausalLM.get_output_embeddings
    def get_output_embeddings(self) -> nn.Module:
        return self.backbone.get_output_embeddings()

    # Copied from modeling_softcot.SoftCoTForCausalLM.get_slot_mask
    def get_slot_mask(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None
    ) -> torch.BoolTensor:
        """(batch, length) True at the backbone's thought slots; padding never counts, even if same id."""
        mask = input_ids == self.config.thought_token_id
        return mask if attention_mask is None else mask & attention_mask[:, -input_ids.shape[1] :].bool()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs: Unpack[TransformersKwargs],
    ) -> CausalLMOutputWithPast:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`):
                Backbone tokens. At prefill (nothing cached yet) each row holds N thought slots
                (`config.thought_token_id`) that receive the thought embeddings; in a decoding step every token, a
                generated slot token included, is an ordinary token.
            attention_mask (`torch.Tensor` of shape `(batch_size, past_len + seq_len)`, *optional*):
                1 for tokens, 0 for padding.
            position_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*):
                Defaults to the count of attended tokens before each position, so left padding does not shift them.
            inputs_embeds (`torch.FloatTensor` of shape `(batch_size, seq_len, hidden_size)`, *optional*):
                Instead of `input_ids`, for inputs without slots.
            labels (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*):
                Next-token targets (shifted inside); positions set to -100 are ignored.
            cache / past_key_values (`Cache`, *optional*):
                The backbone's KV cache, under either name; empty or absent means prefill.
        """
        cache = self._pop_backbone_cache(input_ids, inputs_embeds, kwargs)

        if inputs_embeds is None and is_prefill(cache):
            check_padding_has_mask(input_ids, attention_mask, self.config.text_config, "backbone")
            slot_mask = self.get_slot_mask(input_ids, attention_mask)
            if wrong := rows_with_wrong_count(slot_mask, self.config.num_thought_tokens):
                raise ValueError(
                    f"Each backbone prompt must hold exactly num_thought_tokens={self.config.num_thought_tokens} "
                    f"thought slots (id {self.config.thought_token_id}); (row, count) {wrong} do not. Build the "
                    "inputs with SoftCoTProcessor(None, backbone_tokenizer, num_thought_tokens=N), or write exactly N "
                    "slot tokens in each prompt."
                )
            # The slot id may lie outside the embedding table (added to the tokenizer only): slots read row 0, then
            # receive the thought embeddings, the same N for every row.
            token_ids = input_ids.masked_fill(slot_mask, 0)
            check_token_ids(token_ids, self.config.text_config.vocab_size, "backbone")
            inputs_embeds = self.get_input_embeddings()(token_ids)
            thoughts = self.thought_embeddings.weight.to(inputs_embeds.device, inputs_embeds.dtype)
            inputs_embeds = inputs_embeds.masked_scatter(
                slot_mask.unsqueeze(-1), thoughts.expand(input_ids.shape[0], -1, -1)
            )
        elif inputs_embeds is None:
            # A decoding step: every token, a generated slot token included, is an ordinary token.
            inputs_embeds = self.get_input_embeddings()(input_ids)

        outputs = self._backbone_forward(
            inputs_embeds,
            attention_mask,
            position_ids,
            cache,
            labels=labels,
            use_cache=use_cache,
            logits_to_keep=logits_to_keep,
            **kwargs,
        )
        return CausalLMOutputWithPast(
            loss=outputs.loss,
            logits=outputs.logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            **{CACHE_KWARG: output_cache(outputs)},
        )

    # Copied from modeling_softcot.SoftCoTForCausalLM._decoding_language_model
    def _decoding_language_model(self) -> PreTrainedModel:
        """The LM that runs the decoding steps: once the cache holds the thoughts, a step is the backbone's own."""
        return self.backbone


CoTUnkForCausalLM.register_for_auto_class("AutoModelForCausalLM")

__all__ = ["CoTUnkForCausalLM", "CoTUnkPreTrainedModel", "CoTUnkThoughtEmbeddings"]
