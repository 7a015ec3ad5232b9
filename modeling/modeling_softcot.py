"""PyTorch SoftCoT (arXiv 2502.12134): soft thoughts from a frozen assistant LM, projected into a frozen backbone."""

import os
from dataclasses import dataclass

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
    starts_the_sequence,
)
from .configuration_softcot import SoftCoTConfig
from .frozen_models import FrozenModelsCheckpoint, model_and_tokenizer, pinned_revision
from .hub_push import push_model
from .thought_inspection import ThoughtInspectionOutput, inspect_thought_vectors
from .thought_sets import (
    SoftCoTThoughtSets,
    assistant_inputs_with_sets,
    assistant_needs_grad,
    dropout_copy,
    expand_for_thought_sets,
)
from .thought_tokens import rows_with_wrong_count, select_thought_tokens, suppress_internal_tokens
from .weights_record import WeightsRecordMixin


@dataclass
class SoftCoTCausalLMOutputWithPast(CausalLMOutputWithPast):
    r"""
    Outputs of [`SoftCoTForCausalLM`]: the backbone's causal-LM outputs plus the thoughts it read.

    loss (`torch.FloatTensor` of shape `(1,)`, *optional*, returned when `labels` is provided):
        Next-token loss over the positions whose label is not -100.
    logits (`torch.FloatTensor` of shape `(batch_size, sequence_length, vocab_size)`):
        Backbone logits.
    cache (`Cache`, *optional*):
        The backbone's KV cache (named `past_key_values` before transformers 5.24); decoding steps reuse it and never
        recompute the thoughts.
    soft_thoughts (`torch.FloatTensor` of shape `(batch_size, num_thought_tokens, backbone_hidden_size)`, *optional*):
        The projected soft thoughts written into the slots, when this call computed them.
    dropout_soft_thoughts (`torch.FloatTensor` of shape `(batch_size, N, backbone_hidden_size)`, *optional*):
        With `assistant_states_dropout=p`: the soft thoughts projected from a dropout copy of the assistant states
        (SoftCoT++'s contrastive positives), in the backbone's dtype.
    """

    soft_thoughts: torch.FloatTensor | None = None
    dropout_soft_thoughts: torch.FloatTensor | None = None


class SoftCoTLinearProjection(nn.Module):
    """The paper's projection: `nn.Linear(d_assistant, d_backbone)`, fp32 weights."""

    def __init__(self, config: SoftCoTConfig):
        super().__init__()
        self.linear_1 = nn.Linear(config.assistant_config.hidden_size, config.text_config.hidden_size)

    def forward(self, assistant_states: torch.Tensor) -> torch.Tensor:
        """(batch, N, d_assistant) -> (batch, N, d_backbone), computed in the projection's (fp32) dtype."""
        return self.linear_1(assistant_states.to(self.linear_1.weight.dtype))


class SoftCoTMLPProjection(nn.Module):
    """Linear-GELU-Linear projection, fp32 weights; the hidden width defaults to the backbone's hidden size."""

    def __init__(self, config: SoftCoTConfig):
        super().__init__()
        hidden_size = config.projection_hidden_size or config.text_config.hidden_size
        self.linear_1 = nn.Linear(config.assistant_config.hidden_size, hidden_size)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(hidden_size, config.text_config.hidden_size)

    def forward(self, assistant_states: torch.Tensor) -> torch.Tensor:
        """(batch, N, d_assistant) -> (batch, N, d_backbone), computed in the projection's (fp32) dtype."""
        return self.linear_2(self.act(self.linear_1(assistant_states.to(self.linear_1.weight.dtype))))


PROJECTION_CLASSES = {"linear": SoftCoTLinearProjection, "mlp": SoftCoTMLPProjection}


class SoftCoTPreTrainedModel(WeightsRecordMixin, PreTrainedModel):
    config: SoftCoTConfig
    supports_gradient_checkpointing = True
    _skip_keys_device_placement = ["cache", "past_key_values"]
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    def _init_weights(self, module: nn.Module) -> None:
        """Only the projection is ours to initialise: PyTorch's default `nn.Linear` init, as in the paper."""
        if isinstance(module, nn.Linear):
            module.reset_parameters()


class SoftCoTForCausalLM(WrapperGenerationMixin, SoftCoTPreTrainedModel, GenerationMixin):
    """
    A frozen `assistant` LM reads the question and N placeholders in one forward pass; its last-layer states at the
    placeholders, mapped by the trainable `projection`, replace the embeddings of N slot tokens in the prompt of a
    frozen `backbone` LM, which then generates as usual. Only the projection is trained and saved.
    """

    _trained_module = "projection"  # the only weights a checkpoint or a push holds

    def __init__(
        self,
        config: SoftCoTConfig,
        assistant: PreTrainedModel | None = None,
        backbone: PreTrainedModel | None = None,
    ):
        super().__init__(config)
        if assistant is None:
            assistant = AutoModelForCausalLM.from_config(config.assistant_config)
        if backbone is None:
            backbone = AutoModelForCausalLM.from_config(config.text_config)
        self.assistant, self.backbone = assistant, backbone
        # The config describes exactly the models held, their attention implementation included.
        config.assistant_config, config.text_config = self.assistant.config, self.backbone.config
        self.projection = PROJECTION_CLASSES[config.projection_type](config).float()
        if config.num_thought_sets > 1:  # SoftCoT++: the set vectors are saved with the projection
            self.projection.thought_sets = SoftCoTThoughtSets(
                config.num_thought_sets, config.assistant_config.hidden_size
            )
        self.post_init()

        for frozen in (self.assistant, self.backbone):
            frozen.requires_grad_(False).eval()
        # Checkpoints hold the projection only: config.json names the frozen models.
        self._keys_to_ignore_on_save = {key for key in self.state_dict() if not key.startswith("projection.")}
        self.generation_config = self._backbone_generation_config()

    @classmethod
    def from_assistant_and_backbone(
        cls,
        assistant: PreTrainedModel | str,
        backbone: PreTrainedModel | str,
        num_thought_tokens: int = 4,
        assistant_tokenizer=None,
        backbone_tokenizer=None,
        assistant_revision: str | None = None,
        backbone_revision: str | None = None,
        pin_revisions: bool = True,
        **config_kwargs,
    ) -> "SoftCoTForCausalLM":
        """
        Build a SoftCoT model with a fresh projection. `assistant` and `backbone` are loaded models or Hub ids / paths;
        each side's tokenizer is loaded from the same id/path unless given, and chooses the thought token ids
        (`select_thought_tokens`, the rule `SoftCoTProcessor` also uses). `*_revision` loads (and records in the
        config, so `from_pretrained` loads them again) a branch, tag or commit of each side; without one, a side
        loaded from the Hub is pinned to the commit it came from (`pin_revisions=False` records no revision, so
        the checkpoint follows the repo's main branch). `config_kwargs` go to `SoftCoTConfig`.
        """
        assistant, assistant_tokenizer = model_and_tokenizer(
            "assistant", assistant, assistant_tokenizer, assistant_revision
        )
        backbone, backbone_tokenizer = model_and_tokenizer("backbone", backbone, backbone_tokenizer, backbone_revision)
        tokens = select_thought_tokens(assistant_tokenizer, backbone_tokenizer)
        config = SoftCoTConfig(
            assistant_model_name_or_path=assistant.name_or_path or None,
            backbone_model_name_or_path=backbone.name_or_path or None,
            assistant_revision=pinned_revision(assistant, assistant_revision, pin_revisions),
            backbone_revision=pinned_revision(backbone, backbone_revision, pin_revisions),
            assistant_config=assistant.config.to_dict(),
            text_config=backbone.config.to_dict(),
            num_thought_tokens=num_thought_tokens,
            **tokens.config_kwargs(),
            **config_kwargs,
        )
        return cls(config, assistant=assistant, backbone=backbone)

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *model_args,
        config: SoftCoTConfig | None = None,
        assistant: PreTrainedModel | None = None,
        backbone: PreTrainedModel | None = None,
        frozen_trust_remote_code: bool = False,
        num_thought_tokens: int | None = None,
        **kwargs,
    ) -> "SoftCoTForCausalLM":
        """
        Load the assistant and the backbone by reference (config.json names them, at their pinned revisions if any),
        then the projection. Pass `assistant=` / `backbone=` to reuse models already loaded. `num_thought_tokens`
        replaces the trained N (the projection maps each thought on its own, so any N loads; the official SoftCoT
        README trains with 32 and evaluates with 4); build the processor with the same N.

        `revision`/`subfolder` locate this checkpoint; `token`, `cache_dir`, `local_files_only`, ... locate every file;
        `dtype`, `device_map`, `attn_implementation` and any other loading argument go to the frozen models.
        `trust_remote_code=True` covers this repo only; `frozen_trust_remote_code=True` also runs code that the
        assistant's or the backbone's own repo carries (read it first).
        """
        if model_args:
            raise TypeError(f"{cls.__name__}.from_pretrained takes no positional model arguments, got {model_args}")
        checkpoint = FrozenModelsCheckpoint("SoftCoT", pretrained_model_name_or_path, kwargs, frozen_trust_remote_code)
        if not isinstance(config, SoftCoTConfig):
            config = checkpoint.load_config(SoftCoTConfig)
        if num_thought_tokens is not None:
            if num_thought_tokens < 1:
                raise ValueError(f"num_thought_tokens must be at least 1, got {num_thought_tokens}.")
            config.num_thought_tokens = num_thought_tokens
        if assistant is None:
            assistant = checkpoint.load_frozen_model(config, "assistant", config.assistant_config)
        if backbone is None:
            backbone = checkpoint.load_frozen_model(config, "backbone", config.text_config)
        model = cls(config, assistant=assistant, backbone=backbone)
        model.load_projection(checkpoint.load_state_dict(), source=checkpoint.source)
        model.projection.to(model.backbone.get_input_embeddings().weight.device)
        model.generation_config = checkpoint.load_generation_config() or model.generation_config
        return model.eval()

    def load_projection(self, state_dict: dict[str, torch.Tensor], source: str = "the checkpoint") -> None:
        """Load projection tensors (keys `projection.*`), failing clearly if they were trained for other models."""
        expected = {f"projection.{key}": value.shape for key, value in self.projection.state_dict().items()}
        found = {key: value.shape for key, value in state_dict.items()}
        if expected != found:
            d_in = self.config.assistant_config.hidden_size
            d_out = self.config.text_config.hidden_size
            raise ValueError(
                f"The projection in {source} does not fit these models: it holds {found}, but a "
                f"{self.config.projection_type!r} projection from the assistant "
                f"({self.config.assistant_model_name_or_path}, hidden size {d_in}) to the backbone "
                f"({self.config.backbone_model_name_or_path}, hidden size {d_out}) needs {expected}. Load it with the "
                "assistant and backbone it was trained for (config.json names them), or train a new projection."
            )
        self.projection.load_state_dict({key.removeprefix("projection."): value for key, value in state_dict.items()})

    def push_to_hub(self, repo_id: str, **push_kwargs) -> CommitInfo:
        """Upload the trained weights, config, remote code and model card in one commit (`hub_push.push_model`, whose
        keyword arguments it takes): local paths and frozen models' weights are refused before any request."""
        return push_model(self, repo_id, **push_kwargs)

    def train(self, mode: bool = True) -> "SoftCoTForCausalLM":
        """Switch the projection's mode; the frozen models always stay in eval mode (no dropout)."""
        super().train(mode)
        self.assistant.eval()
        self.backbone.eval()
        return self

    def _backbone_generation_config(self) -> GenerationConfig:
        """Generation settings: the backbone's, never emitting the slot or marker tokens."""
        generation_config = GenerationConfig.from_dict(self.backbone.generation_config.to_dict())
        ids = (self.config.thought_token_id, self.config.thought_start_token_id, self.config.thought_end_token_id)
        suppress_internal_tokens(generation_config, list(ids))
        return generation_config

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

    def get_input_embeddings(self) -> nn.Module:
        return self.backbone.get_input_embeddings()

    def get_output_embeddings(self) -> nn.Module:
        return self.backbone.get_output_embeddings()

    def get_assistant_placeholder_mask(
        self, assistant_input_ids: torch.LongTensor, assistant_attention_mask: torch.Tensor | None = None
    ) -> torch.BoolTensor:
        """(batch, assistant_length) True at the assistant's placeholders; padding never counts, even if same id."""
        mask = assistant_input_ids == self.config.assistant_placeholder_token_id
        return mask if assistant_attention_mask is None else mask & assistant_attention_mask.bool()

    def get_slot_mask(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None
    ) -> torch.BoolTensor:
        """(batch, length) True at the backbone's thought slots; padding never counts, even if same id."""
        mask = input_ids == self.config.thought_token_id
        return mask if attention_mask is None else mask & attention_mask[:, -input_ids.shape[1] :].bool()

    def get_assistant_states(
        self,
        assistant_input_ids: torch.LongTensor,
        assistant_attention_mask: torch.Tensor | None = None,
        thought_set_ids: torch.LongTensor | None = None,
    ) -> torch.Tensor:
        """
        One assistant forward over (batch, assistant_length) inputs; returns its last-layer states at the N
        placeholders, before the projection: (batch, N, assistant_hidden_size). The assistant is frozen, so these
        depend only on the inputs and can be cached across epochs (pass them back as `assistant_hidden_states`).
        With M > 1 thought sets, `thought_set_ids` (batch,) give each row's set (`thought_sets.py`).
        """
        n = self.config.num_thought_tokens
        mask = self.get_assistant_placeholder_mask(assistant_input_ids, assistant_attention_mask)
        if wrong := rows_with_wrong_count(mask, n):
            raise ValueError(
                f"Each assistant prompt must hold exactly num_thought_tokens={n} placeholder tokens "
                f"(id {self.config.assistant_placeholder_token_id}); (row, count) {wrong} do not. Build the inputs "
                "with SoftCoTProcessor, or write exactly N placeholders after each assistant prompt."
            )
        check_positions(self.assistant.config, assistant_input_ids.shape[1], "assistant")
        check_token_ids(assistant_input_ids, self.config.assistant_config.vocab_size, "assistant")
        check_padding_has_mask(
            assistant_input_ids,
            assistant_attention_mask,
            self.config.assistant_config,
            "assistant",
            "assistant_input_ids",
            "assistant_attention_mask",
        )
        if assistant_attention_mask is None:
            assistant_attention_mask = torch.ones_like(assistant_input_ids)
        with torch.set_grad_enabled(assistant_needs_grad(self)):
            outputs = self.assistant.base_model(
                **assistant_inputs_with_sets(self, assistant_input_ids, mask, thought_set_ids),
                attention_mask=assistant_attention_mask,
                position_ids=position_ids_from_attention_mask(assistant_attention_mask, assistant_input_ids.shape[1]),
                use_cache=False,
            )
        return outputs.last_hidden_state[mask].view(assistant_input_ids.shape[0], n, -1)

    def get_soft_thoughts(
        self,
        assistant_input_ids: torch.LongTensor | None = None,
        assistant_attention_mask: torch.Tensor | None = None,
        assistant_hidden_states: torch.Tensor | None = None,
        thought_set_ids: torch.LongTensor | None = None,
    ) -> torch.Tensor:
        """
        Soft thoughts (batch, N, backbone_hidden_size) in the backbone's dtype: the assistant's states at the N
        placeholders (computed from the assistant inputs, or given precomputed as `assistant_hidden_states`,
        (batch, N, assistant_hidden_size)), projected.
        """
        if assistant_hidden_states is None:
            assistant_hidden_states = self.get_assistant_states(
                assistant_input_ids, assistant_attention_mask, thought_set_ids
            )
        expected = (self.config.num_thought_tokens, self.config.assistant_config.hidden_size)
        if tuple(assistant_hidden_states.shape[1:]) != expected:
            raise ValueError(
                f"assistant_hidden_states has shape {tuple(assistant_hidden_states.shape)}; expected (batch, "
                f"{expected[0]}, {expected[1]}) = (batch, num_thought_tokens, assistant hidden size), as returned "
                "by get_assistant_states."
            )
        return self.projection(assistant_hidden_states).to(self.backbone.get_input_embeddings().weight.dtype)

    @torch.no_grad()
    def inspect_thoughts(
        self,
        assistant_input_ids: torch.LongTensor | None = None,
        assistant_attention_mask: torch.Tensor | None = None,
        thought_set_ids: torch.LongTensor | None = None,
        top_k: int = 5,
        tokenizer: PreTrainedTokenizerBase | None = None,
        **backbone_inputs,
    ) -> ThoughtInspectionOutput:
        """
        The backbone's vocabulary tokens nearest to each of the N soft thoughts of each question, as the backbone
        receives them (`get_soft_thoughts`): by the logit lens (the backbone's final norm, then its LM head) and by
        cosine similarity to its input embedding table; `tokenizer` (the backbone's) decodes them. Takes the
        processor's whole output (`model.inspect_thoughts(**processor(questions))`): the backbone inputs are not read.
        Returns a [`ThoughtInspectionOutput`] whose tensors have shape (batch, N, top_k).
        """
        unknown = set(backbone_inputs) - {"input_ids", "attention_mask"}
        if unknown:
            raise TypeError(f"inspect_thoughts got unexpected arguments {sorted(unknown)}.")
        if assistant_input_ids is None:
            raise ValueError("inspect_thoughts needs assistant_input_ids: pass the processor's output.")
        soft_thoughts = self.get_soft_thoughts(assistant_input_ids, assistant_attention_mask, None, thought_set_ids)
        return inspect_thought_vectors(soft_thoughts, self.backbone, top_k, tokenizer)

    def embed_prompt(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        assistant_input_ids: torch.LongTensor | None = None,
        assistant_attention_mask: torch.Tensor | None = None,
        assistant_hidden_states: torch.Tensor | None = None,
        thought_set_ids: torch.LongTensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """
        The backbone's input embeddings of a prompt at prefill, (batch, length, backbone_hidden_size): the token
        embeddings of `input_ids` with the soft thoughts written into the N thought slots of each row. Also returns
        the thoughts, (batch, N, backbone_hidden_size), or `None` when there were no assistant inputs. `forward` feeds
        exactly these to the backbone; a serving engine that reads prompt embeddings (vLLM) takes them too.
        `thought_set_ids` (batch,): each row's thought set, with M > 1 sets (`thought_sets.py`).
        """
        has_assistant_inputs = assistant_input_ids is not None or assistant_hidden_states is not None
        soft_thoughts = None
        check_padding_has_mask(input_ids, attention_mask, self.config.text_config, "backbone")
        slot_mask = self.get_slot_mask(input_ids, attention_mask)
        if not slot_mask.any() and not has_assistant_inputs:
            raise ValueError(
                "These inputs have no thought slots and no assistant inputs, so the backbone would run without "
                "soft thoughts. Build them with the processor: `model.generate(**processor(questions), ...)`; "
                "in a pipeline, pipeline('text-generation', model=FOLDER, trust_remote_code=True), or for a model "
                "object pipeline('text-generation', model=model, processor=processor, "
                "pipeline_class=SoftCoTTextGenerationPipeline). (The plain backbone is `model.backbone`.)"
            )
        if slot_mask.any() and not has_assistant_inputs:
            raise ValueError(
                f"input_ids hold thought slots (id {self.config.thought_token_id}) but no assistant_input_ids "
                "were given, so there are no soft thoughts to put there. Pass the processor's whole output: "
                "`model(**processor(questions))` or `model.generate(**processor(questions), ...)`."
            )
        # The slot id may lie outside the embedding table (added to the tokenizer only): slots read row 0, then
        # receive the thoughts.
        token_ids = input_ids.masked_fill(slot_mask, 0)
        check_token_ids(token_ids, self.config.text_config.vocab_size, "backbone")
        inputs_embeds = self.get_input_embeddings()(token_ids)
        if has_assistant_inputs:
            soft_thoughts = self.get_soft_thoughts(
                assistant_input_ids, assistant_attention_mask, assistant_hidden_states, thought_set_ids
            )
            if soft_thoughts.shape[0] != input_ids.shape[0]:
                raise ValueError(
                    f"The assistant inputs have {soft_thoughts.shape[0]} rows but input_ids has "
                    f"{input_ids.shape[0]}: each backbone prompt needs its own assistant prompt."
                )
            if wrong := rows_with_wrong_count(slot_mask, self.config.num_thought_tokens):
                raise ValueError(
                    f"Each backbone prompt must hold exactly num_thought_tokens={self.config.num_thought_tokens} "
                    f"thought slots (id {self.config.thought_token_id}); (row, count) {wrong} do not. Build the "
                    "inputs with SoftCoTProcessor, or write exactly N slot tokens in each prompt."
                )
            soft_thoughts = soft_thoughts.to(inputs_embeds.device, inputs_embeds.dtype)
            inputs_embeds = inputs_embeds.masked_scatter(slot_mask.unsqueeze(-1), soft_thoughts)
        return inputs_embeds, soft_thoughts

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        assistant_input_ids: torch.LongTensor | None = None,
        assistant_attention_mask: torch.Tensor | None = None,
        assistant_hidden_states: torch.Tensor | None = None,
        thought_set_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        assistant_states_dropout: float | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> SoftCoTCausalLMOutputWithPast:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`):
                Backbone tokens. At prefill (nothing cached yet) each row holds N thought slots
                (`config.thought_token_id`) that receive the soft thoughts; in a decoding step every token, a generated
                slot token included, is an ordinary token.
            attention_mask (`torch.Tensor` of shape `(batch_size, past_len + seq_len)`, *optional*):
                1 for tokens, 0 for padding.
            position_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*):
                Defaults to the count of attended tokens before each position, so left padding does not shift them.
            assistant_input_ids (`torch.LongTensor` of shape `(batch_size, assistant_len)`, *optional*):
                Assistant tokens with N placeholders per row; required at prefill whenever `input_ids` hold slots
                (unless `assistant_hidden_states` are given), and only at prefill.
            assistant_attention_mask (`torch.Tensor` of shape `(batch_size, assistant_len)`, *optional*):
                1 for assistant tokens, 0 for padding.
            assistant_hidden_states (`torch.FloatTensor` of shape `(batch_size, N, d_assistant)`, *optional*):
                Precomputed `get_assistant_states(...)`; skips the assistant forward (a training-time cache).
            thought_set_ids (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
                With `config.num_thought_sets` M > 1 (SoftCoT++), each row's thought set, at prefill with the
                assistant inputs (`expand_for_thought_sets` builds the rows; `generate` does it itself).
            inputs_embeds (`torch.FloatTensor` of shape `(batch_size, seq_len, hidden_size)`, *optional*):
                Instead of `input_ids`, for inputs without thoughts.
            labels (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*):
                Next-token targets (shifted inside); positions set to -100 are ignored.
            assistant_states_dropout (`float`, *optional*):
                SoftCoT++ training, at prefill: also project a copy of the assistant states with dropout of this
                probability (`thought_sets.dropout_copy`, global RNG) and return it as `dropout_soft_thoughts`. Done
                here so that DDP / FSDP / DeepSpeed wrappers see the projection call.
            cache / past_key_values (`Cache`, *optional*):
                The backbone's KV cache, under either name; empty or absent means prefill.
        """
        cache = self._pop_backbone_cache(input_ids, inputs_embeds, kwargs)
        has_assistant_inputs = assistant_input_ids is not None or assistant_hidden_states is not None
        if has_assistant_inputs and inputs_embeds is not None:
            raise ValueError(
                "Assistant inputs came with inputs_embeds, so there are no slot ids to put the thoughts at. Pass "
                "input_ids (the processor's output) with the assistant inputs."
            )
        if has_assistant_inputs and not is_prefill(cache):
            raise ValueError(
                "Soft thoughts are written only at prefill, from an empty cache, but the assistant inputs came with "
                f"a cache that already holds {cached_length(cache)} positions. Start generation from an empty cache; "
                "chunked prefill and continuing a cached prompt are not supported."
            )

        if assistant_states_dropout is not None and not has_assistant_inputs:
            raise ValueError("assistant_states_dropout needs the assistant inputs of a prefill: there are none.")
        soft_thoughts = dropout_soft_thoughts = None
        if assistant_states_dropout is not None:  # the states once, for the thoughts and their dropout copy
            if assistant_hidden_states is None:
                assistant_hidden_states = self.get_assistant_states(
                    assistant_input_ids, assistant_attention_mask, thought_set_ids
                )
            dropout_soft_thoughts = self.get_soft_thoughts(
                assistant_hidden_states=dropout_copy(assistant_hidden_states, assistant_states_dropout)
            )
        if inputs_embeds is None and is_prefill(cache):
            inputs_embeds, soft_thoughts = self.embed_prompt(
                input_ids,
                attention_mask,
                assistant_input_ids,
                assistant_attention_mask,
                assistant_hidden_states,
                thought_set_ids,
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
        return SoftCoTCausalLMOutputWithPast(
            loss=outputs.loss,
            logits=outputs.logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            soft_thoughts=soft_thoughts,
            dropout_soft_thoughts=dropout_soft_thoughts,
            **{CACHE_KWARG: output_cache(outputs)},
        )

    _prefill_only_inputs = (
        "assistant_input_ids",
        "assistant_attention_mask",
        "assistant_hidden_states",
        "thought_set_ids",
    )

    def _decoding_language_model(self) -> PreTrainedModel:
        """The LM that runs the decoding steps: once the cache holds the thoughts, a step is the backbone's own."""
        return self.backbone

    def prepare_inputs_for_generation(self, *args, is_first_iteration: bool | None = False, **kwargs) -> dict:
        """
        The assistant inputs travel only to the prefill: once the backbone's cache holds the prompt, decoding steps
        read the thoughts from it. (A first iteration over a non-empty cache keeps them, so `forward` can refuse it.)
        """
        model_inputs = super().prepare_inputs_for_generation(*args, is_first_iteration=is_first_iteration, **kwargs)
        if not is_first_iteration and not starts_the_sequence(model_inputs, kwargs.get("attention_mask")):
            for name in self._prefill_only_inputs:
                model_inputs.pop(name, None)
        return model_inputs

    def generate(self, inputs: torch.Tensor | None = None, *args, **kwargs):
        """`GenerationMixin.generate`; with M > 1 thought sets, each prompt first becomes M rows, one per set, so
        the output rows are ordered (question, set, sample) (`thought_sets.expand_for_thought_sets`)."""
        if self.config.num_thought_sets > 1 and kwargs.get("thought_set_ids") is None:
            if inputs is not None:
                kwargs["input_ids"], inputs = inputs, None
            kwargs = expand_for_thought_sets(kwargs, self.config.num_thought_sets)
        return super().generate(inputs, *args, **kwargs)


SoftCoTForCausalLM.register_for_auto_class("AutoModelForCausalLM")

# The text-generation pipeline named by the config's `custom_pipelines`: imported here so that it travels with the
# remote code (`save_pretrained` copies this file's relative imports).
from .pipeline_softcot import SoftCoTTextGenerationPipeline  # noqa: E402

__all__ = [
    "SoftCoTCausalLMOutputWithPast",
    "SoftCoTForCausalLM",
    "SoftCoTLinearProjection",
    "SoftCoTMLPProjection",
    "SoftCoTPreTrainedModel",
    "SoftCoTTextGenerationPipeline",
]
