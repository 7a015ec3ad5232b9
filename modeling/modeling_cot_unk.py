"""PyTorch Zero-Shot CoT-Unk (SoftCoT paper's baseline): N trainable embeddings in the thought slots of a frozen LM."""

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

from .compat import is_prefill, pop_cache
from .configuration_cot_unk import CoTUnkConfig
from .hub_push import HubPushMixin
from .thought_slots import ThoughtSlotsPreTrainedModel, model_and_tokenizer
from .thought_tokens import select_thought_tokens

_CARD = """\
Zero-Shot CoT-Unk, the prompt-tuning baseline of the SoftCoT paper (Xu et al., ACL 2025): $num_thought_tokens
trainable placeholder embeddings are inserted into the chain-of-thought prompt of the frozen backbone
`$backbone_model_name_or_path`. This repo holds only those embeddings ($num_parameters parameters), the config naming
the backbone and the processor; the backbone is loaded from its own repo, under its own licence.

## Usage

```python
import softcot_hf  # pip install softcot-hf: registers CoT-Unk with the Auto classes
from transformers import AutoModelForCausalLM, AutoProcessor

model = AutoModelForCausalLM.from_pretrained("$repo_id")  # fetches the embeddings, then the frozen backbone
processor = AutoProcessor.from_pretrained("$repo_id")

inputs = processor(["Tom has 4 apples and buys 3 more. How many apples does Tom have?"])
output = model.generate(**inputs, max_new_tokens=256, do_sample=False)
print(processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)[0])
```

$sections

## Limitations

- Only the placeholder embeddings were trained: the model cannot know more than its frozen backbone.
- The embeddings fit exactly this backbone; with another one they fail to load.
- Loading downloads the backbone (gated repos need an accepted licence and a token).

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


class CoTUnkPreTrainedModel(ThoughtSlotsPreTrainedModel):
    config: CoTUnkConfig
    _trained_module = "thought_embeddings"
    _checkpoint_kind = "CoT-Unk"
    _inputs_hint = "SoftCoTProcessor(None, backbone_tokenizer, num_thought_tokens=N)"

    def _init_weights(self, module: nn.Module) -> None:
        """Only the thought embeddings are ours to initialise (from the backbone's embedding statistics)."""
        if isinstance(module, CoTUnkThoughtEmbeddings) and hasattr(self, "backbone"):
            module.reset_from(self.backbone.get_input_embeddings().weight)


class CoTUnkForCausalLM(HubPushMixin, CoTUnkPreTrainedModel, GenerationMixin):
    """
    A frozen `backbone` LM reads SoftCoT's prompt in which the N thought slots hold N trainable embeddings
    (`thought_embeddings`, the same for every question): prompt tuning at the slots. Only those are trained and saved.
    """

    _hub_card = _CARD
    _hub_card_settings = {
        "num_thought_tokens": "num_thought_tokens",
        "backbone (frozen)": "backbone_model_name_or_path",
    }
    _hub_tags = ("softcot-hf", "cot-unk", "latent-reasoning", "chain-of-thought")
    _hub_commit_message = "Upload CoT-Unk thought embeddings"

    def __init__(self, config: CoTUnkConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config)
        self._hold_frozen_models(backbone=backbone)
        self.thought_embeddings = CoTUnkThoughtEmbeddings(config)
        self.post_init()
        self.thought_embeddings.reset_from(self.backbone.get_input_embeddings().weight)
        self.thought_embeddings.float()
        self._freeze_frozen_models()

    @classmethod
    def from_backbone(
        cls,
        backbone: PreTrainedModel | str,
        num_thought_tokens: int = 4,
        backbone_tokenizer=None,
        backbone_revision: str | None = None,
        **config_kwargs,
    ) -> "CoTUnkForCausalLM":
        """
        Build a CoT-Unk model with fresh embeddings (torch's RNG: seed first). `backbone` is a loaded model or a Hub id
        / path; its tokenizer (loaded from the same id/path unless given) chooses the slot token by SoftCoT's rule
        (`select_thought_tokens`, backbone side). `backbone_revision` loads (and records in the config) a branch, tag
        or commit of the backbone. `config_kwargs` go to `CoTUnkConfig`.
        """
        backbone, backbone_tokenizer = model_and_tokenizer("backbone", backbone, backbone_tokenizer, backbone_revision)
        tokens = select_thought_tokens(backbone_tokenizer, backbone_tokenizer)  # only the backbone side is used
        config = CoTUnkConfig(
            backbone_model_name_or_path=backbone.name_or_path or None,
            backbone_revision=backbone_revision,
            text_config=backbone.config.to_dict(),
            num_thought_tokens=num_thought_tokens,
            thought_token_id=tokens.backbone_slot_id,
            thought_start_token_id=tokens.backbone_start_id,
            thought_end_token_id=tokens.backbone_end_id,
            **config_kwargs,
        )
        return cls(config, backbone=backbone)

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

    _load_trained_weights = load_thought_embeddings

    @staticmethod
    def _hub_base_models(config: dict) -> list[str | None]:
        """The frozen backbone a saved config.json names: the card's `base_model`."""
        return [config.get("backbone_model_name_or_path")]

    def embed_with_thoughts(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None, fill_slots: bool = True
    ) -> torch.Tensor:
        """
        Backbone input embeddings (batch, length, hidden). With `fill_slots` (the prompt, not a decoding step) each
        row must hold exactly N slots, which receive the N thought embeddings (cast to the backbone's dtype).
        """
        embeddings = self._embed_tokens(input_ids)
        if not fill_slots:
            return embeddings
        slots = self.get_placeholder_mask(input_ids, attention_mask)
        self._check_slot_counts(slots)
        thoughts = self.thought_embeddings.weight.to(embeddings.dtype).expand(input_ids.shape[0], -1, -1)
        return embeddings.masked_scatter(slots.unsqueeze(-1), thoughts)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        r"""
        input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`):
            Backbone tokens. At prefill (nothing cached yet) each row holds N thought slots
            (`config.thought_token_id`); in a decoding step every token, a generated slot included, is an ordinary one.
        labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
            Targets aligned with `input_ids` (shifted inside); -100 positions are ignored.
        cache / past_key_values (`Cache`, *optional*):
            The backbone's KV cache, under either name; empty or absent means prefill.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        cache = pop_cache(kwargs)
        if inputs_embeds is None:
            inputs_embeds = self.embed_with_thoughts(input_ids, attention_mask, fill_slots=is_prefill(cache))
        return self._forward_backbone(
            inputs_embeds, attention_mask, position_ids, cache, labels, use_cache, logits_to_keep, **kwargs
        )


CoTUnkForCausalLM.register_for_auto_class("AutoModelForCausalLM")

__all__ = ["CoTUnkForCausalLM", "CoTUnkPreTrainedModel", "CoTUnkThoughtEmbeddings"]
