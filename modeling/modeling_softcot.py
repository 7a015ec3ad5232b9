"""PyTorch SoftCoT (arXiv 2502.12134): soft thoughts from a frozen assistant LM, projected into a frozen backbone."""

from dataclasses import dataclass

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

from .compat import CACHE_KWARG, cached_length, output_cache, pop_cache
from .configuration_softcot import SoftCoTConfig
from .hub_push import HubPushMixin
from .thought_slots import (
    ThoughtSlotsPreTrainedModel,
    model_and_tokenizer,
    position_ids_from_attention_mask,
    rows_with_wrong_count,
)
from .thought_tokens import select_thought_tokens


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
    """

    soft_thoughts: torch.FloatTensor | None = None


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


_CARD = """\
A SoftCoT model (Xu et al., ACL 2025): the frozen assistant `$assistant_model_name_or_path` reads the question and
writes $num_thought_tokens soft thoughts in one forward pass, and a trained $projection_type projection maps them into
the input embeddings of the frozen backbone `$backbone_model_name_or_path`, which then reasons and answers as usual.
This repo holds only the projection ($num_parameters parameters), the config naming both frozen models and the
processor; the assistant and backbone are loaded from their own repos, under their own licences.

## Usage

```python
import softcot_hf  # pip install softcot-hf: registers SoftCoT with the Auto classes
from transformers import AutoModelForCausalLM, AutoProcessor

model = AutoModelForCausalLM.from_pretrained("$repo_id")  # fetches the projection, then both frozen models
processor = AutoProcessor.from_pretrained("$repo_id")

inputs = processor(["Tom has 4 apples and buys 3 more. How many apples does Tom have?"])
output = model.generate(**inputs, max_new_tokens=256, do_sample=False)
print(processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)[0])
```

$sections

## Limitations

- Only the projection was trained: the model cannot know more than its frozen backbone, and the soft thoughts help
  most on the kind of questions it was trained on (the paper trains on GSM8K and evaluates other tasks zero-shot).
- The projection fits exactly these two models; with another assistant or backbone it fails to load.
- Loading downloads both frozen models (gated repos need an accepted licence and a token); with
  `local_files_only=True` they must already be in the cache.
- Answers are extracted from free text; check the evaluation settings before comparing numbers across setups.

## Citation

```bibtex
@inproceedings{xu2025softcot,
  title     = {SoftCoT: Soft Chain-of-Thought for Efficient Reasoning with LLMs},
  author    = {Xu, Yige and Guo, Xu and Zeng, Zhiwei and Miao, Chunyan},
  booktitle = {Proceedings of the 63rd Annual Meeting of the Association for Computational Linguistics (ACL)},
  year      = {2025},
  note      = {arXiv:2502.12134}
}
```
"""


class SoftCoTPreTrainedModel(ThoughtSlotsPreTrainedModel):
    config: SoftCoTConfig
    _frozen_models = {"assistant": "assistant_config", "backbone": "text_config"}
    _trained_module = "projection"
    _checkpoint_kind = "SoftCoT"
    _inputs_hint = "SoftCoTProcessor"

    def _init_weights(self, module: nn.Module) -> None:
        """Only the projection is ours to initialise: PyTorch's default `nn.Linear` init, as in the paper."""
        if isinstance(module, nn.Linear):
            module.reset_parameters()


class SoftCoTForCausalLM(HubPushMixin, SoftCoTPreTrainedModel, GenerationMixin):
    """
    A frozen `assistant` LM reads the question and N placeholders in one forward pass; its last-layer states at the
    placeholders, mapped by the trainable `projection`, replace the embeddings of N slot tokens in the prompt of a
    frozen `backbone` LM, which then generates as usual. Only the projection is trained and saved.
    """

    _hub_card = _CARD
    _hub_card_settings = {
        "num_thought_tokens": "num_thought_tokens",
        "projection_type": "projection_type",
        "assistant (frozen)": "assistant_model_name_or_path",
        "backbone (frozen)": "backbone_model_name_or_path",
    }
    _hub_tags = ("softcot-hf", "softcot", "latent-reasoning", "chain-of-thought")
    _hub_commit_message = "Upload SoftCoT projection"

    def __init__(
        self,
        config: SoftCoTConfig,
        assistant: PreTrainedModel | None = None,
        backbone: PreTrainedModel | None = None,
    ):
        super().__init__(config)
        self._hold_frozen_models(assistant=assistant, backbone=backbone)
        self.projection = PROJECTION_CLASSES[config.projection_type](config).float()
        self.post_init()
        self._freeze_frozen_models()

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
        **config_kwargs,
    ) -> "SoftCoTForCausalLM":
        """
        Build a SoftCoT model with a fresh projection. `assistant` and `backbone` are loaded models or Hub ids / paths;
        each side's tokenizer is loaded from the same id/path unless given, and chooses the thought token ids
        (`select_thought_tokens`, the rule `SoftCoTProcessor` also uses). `*_revision` loads (and records in the
        config, so `from_pretrained` loads them again) a branch, tag or commit of each side. `config_kwargs` go to
        `SoftCoTConfig`.
        """
        assistant, assistant_tokenizer = model_and_tokenizer(
            "assistant", assistant, assistant_tokenizer, assistant_revision
        )
        backbone, backbone_tokenizer = model_and_tokenizer("backbone", backbone, backbone_tokenizer, backbone_revision)
        tokens = select_thought_tokens(assistant_tokenizer, backbone_tokenizer)
        config = SoftCoTConfig(
            assistant_model_name_or_path=assistant.name_or_path or None,
            backbone_model_name_or_path=backbone.name_or_path or None,
            assistant_revision=assistant_revision,
            backbone_revision=backbone_revision,
            assistant_config=assistant.config.to_dict(),
            text_config=backbone.config.to_dict(),
            num_thought_tokens=num_thought_tokens,
            **tokens.config_kwargs(),
            **config_kwargs,
        )
        return cls(config, assistant=assistant, backbone=backbone)

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

    _load_trained_weights = load_projection

    @staticmethod
    def _hub_base_models(config: dict) -> list[str | None]:
        """The frozen models a saved config.json names: the card's `base_model`."""
        return [config.get("backbone_model_name_or_path"), config.get("assistant_model_name_or_path")]

    def get_assistant_placeholder_mask(
        self, assistant_input_ids: torch.LongTensor, assistant_attention_mask: torch.Tensor | None = None
    ) -> torch.BoolTensor:
        """(batch, assistant_length) True at the assistant's placeholders; padding never counts, even if same id."""
        mask = assistant_input_ids == self.config.assistant_placeholder_token_id
        return mask if assistant_attention_mask is None else mask & assistant_attention_mask.bool()

    def get_assistant_states(
        self, assistant_input_ids: torch.LongTensor, assistant_attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """
        One assistant forward over (batch, assistant_length) inputs; returns its last-layer states at the N
        placeholders, before the projection: (batch, N, assistant_hidden_size). The assistant is frozen, so these
        depend only on the inputs and can be cached across epochs (pass them back as `assistant_hidden_states`).
        """
        n = self.config.num_thought_tokens
        mask = self.get_assistant_placeholder_mask(assistant_input_ids, assistant_attention_mask)
        if wrong := rows_with_wrong_count(mask, n):
            raise ValueError(
                f"Each assistant prompt must hold exactly num_thought_tokens={n} placeholder tokens "
                f"(id {self.config.assistant_placeholder_token_id}); (row, count) {wrong} do not. Build the inputs "
                "with SoftCoTProcessor, or write exactly N placeholders after each assistant prompt."
            )
        if assistant_attention_mask is None:
            assistant_attention_mask = torch.ones_like(assistant_input_ids)
        with torch.no_grad():
            outputs = self.assistant.base_model(
                input_ids=assistant_input_ids,
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
    ) -> torch.Tensor:
        """
        Soft thoughts (batch, N, backbone_hidden_size) in the backbone's dtype: the assistant's states at the N
        placeholders (computed from the assistant inputs, or given precomputed as `assistant_hidden_states`,
        (batch, N, assistant_hidden_size)), projected.
        """
        if assistant_hidden_states is None:
            assistant_hidden_states = self.get_assistant_states(assistant_input_ids, assistant_attention_mask)
        expected = (self.config.num_thought_tokens, self.config.assistant_config.hidden_size)
        if tuple(assistant_hidden_states.shape[1:]) != expected:
            raise ValueError(
                f"assistant_hidden_states has shape {tuple(assistant_hidden_states.shape)}; expected (batch, "
                f"{expected[0]}, {expected[1]}) = (batch, num_thought_tokens, assistant hidden size), as returned "
                "by get_assistant_states."
            )
        return self.projection(assistant_hidden_states).to(self.backbone.get_input_embeddings().weight.dtype)

    def embed_with_thoughts(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        assistant_input_ids: torch.LongTensor | None = None,
        assistant_attention_mask: torch.Tensor | None = None,
        assistant_hidden_states: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """
        Backbone input embeddings (batch, length, hidden) with the N slots of each row filled by soft thoughts.
        Returns the embeddings and the thoughts (`None` when the inputs hold no slots and no assistant inputs).
        """
        slots = self.get_placeholder_mask(input_ids, attention_mask)
        has_slots = bool(slots.any())
        has_assistant = assistant_input_ids is not None or assistant_hidden_states is not None
        if not has_assistant and has_slots:
            raise ValueError(
                f"input_ids hold thought slots (id {self.config.thought_token_id}) but no assistant_input_ids were "
                "given, so there are no soft thoughts to put there. Pass the processor's whole output: "
                "`model(**processor(questions))` or `model.generate(**processor(questions), ...)`."
            )
        embeddings = self._embed_tokens(input_ids)
        if not has_assistant:
            return embeddings, None
        assistant_rows = (assistant_input_ids if assistant_hidden_states is None else assistant_hidden_states).shape[0]
        if assistant_rows != input_ids.shape[0]:
            raise ValueError(
                f"The assistant inputs have {assistant_rows} rows but input_ids has {input_ids.shape[0]}: "
                "each backbone prompt needs its own assistant prompt."
            )
        self._check_slot_counts(slots)
        thoughts = self.get_soft_thoughts(assistant_input_ids, assistant_attention_mask, assistant_hidden_states)
        embeddings = embeddings.masked_scatter(slots.unsqueeze(-1), thoughts.to(embeddings.dtype))
        return embeddings, thoughts

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        assistant_input_ids: torch.LongTensor | None = None,
        assistant_attention_mask: torch.Tensor | None = None,
        assistant_hidden_states: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs,
    ) -> SoftCoTCausalLMOutputWithPast:
        r"""
        input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`):
            Backbone tokens. At prefill (nothing cached yet) each row holds N thought slots (`config.thought_token_id`)
            that receive the soft thoughts; in a decoding step every token, a generated slot token included, is an
            ordinary token.
        assistant_input_ids (`torch.LongTensor` of shape `(batch_size, assistant_length)`, *optional*):
            Assistant tokens with N placeholders per row; required at prefill whenever `input_ids` hold slots (unless
            `assistant_hidden_states` are given), and only at prefill.
        assistant_hidden_states (`torch.FloatTensor` of shape `(batch_size, N, assistant_hidden_size)`, *optional*):
            Precomputed `get_assistant_states(...)`; skips the assistant forward (a training-time cache).
        labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
            Targets aligned with `input_ids` (shifted inside); -100 positions are ignored.
        cache / past_key_values (`Cache`, *optional*):
            The backbone's KV cache, under either name; empty or absent means prefill.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        cache = pop_cache(kwargs)
        has_assistant = assistant_input_ids is not None or assistant_hidden_states is not None
        if has_assistant and inputs_embeds is not None:
            raise ValueError(
                "Assistant inputs came with inputs_embeds, so there are no slot ids to put the thoughts at. Pass "
                "input_ids (the processor's output) with the assistant inputs."
            )
        if has_assistant and cached_length(cache) > 0:
            raise ValueError(
                "Soft thoughts are written only at prefill, from an empty cache, but the assistant inputs came with "
                f"a cache that already holds {cached_length(cache)} positions. Start generation from an empty cache; "
                "chunked prefill and continuing a cached prompt are not supported."
            )
        soft_thoughts = None
        if inputs_embeds is None and cached_length(cache) == 0:
            inputs_embeds, soft_thoughts = self.embed_with_thoughts(
                input_ids, attention_mask, assistant_input_ids, assistant_attention_mask, assistant_hidden_states
            )
        elif inputs_embeds is None:
            inputs_embeds = self._embed_tokens(input_ids)
        outputs = self._forward_backbone(
            inputs_embeds, attention_mask, position_ids, cache, labels, use_cache, logits_to_keep, **kwargs
        )
        return SoftCoTCausalLMOutputWithPast(
            loss=outputs.loss,
            logits=outputs.logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            soft_thoughts=soft_thoughts,
            **{CACHE_KWARG: output_cache(outputs)},
        )

    def prepare_inputs_for_generation(self, *args, is_first_iteration: bool | None = False, **kwargs) -> dict:
        """
        The assistant inputs travel only to the prefill: once the backbone's cache holds the prompt, decoding steps
        read the thoughts from it. (A first iteration over a non-empty cache keeps them, so `forward` can refuse it.)
        """
        model_inputs = super().prepare_inputs_for_generation(*args, is_first_iteration=is_first_iteration, **kwargs)
        if cached_length(model_inputs.get(CACHE_KWARG)) > 0 and not is_first_iteration:
            for name in ("assistant_input_ids", "assistant_attention_mask", "assistant_hidden_states"):
                model_inputs.pop(name, None)
        return model_inputs


SoftCoTForCausalLM.register_for_auto_class("AutoModelForCausalLM")

__all__ = [
    "SoftCoTCausalLMOutputWithPast",
    "SoftCoTForCausalLM",
    "SoftCoTLinearProjection",
    "SoftCoTMLPProjection",
    "SoftCoTPreTrainedModel",
]
