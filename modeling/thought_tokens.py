"""Which tokens mark the soft thoughts: one rule, used by the model and the processor alike.

The assistant reads N *placeholder* tokens after its prompt; its last-layer states there are the soft thoughts.
The backbone reads N *slot* tokens (optionally between a start and an end *marker*); their embeddings are replaced
by the projected thoughts. The rule, first match wins:

- assistant placeholder: `<|end_of_text|>` (LLaMA-3, the paper's), else `<|endoftext|>` (Qwen2.5, the paper's;
  also GPT-2), else the tokenizer's EOS token.
- backbone slot and markers: `<|reserved_special_token_2|>` between `<|reserved_special_token_0|>` and `_1|>`
  (LLaMA-3; the markers are the paper's), else `<|vision_pad|>` between `<|box_start|>` and `<|box_end|>` (Qwen2.5;
  the markers are the paper's), else `<|soft_thought|>`, added to the tokenizer, with no markers.

Slot ids are never looked up in the backbone's embedding table (the model overwrites those positions first), so a
slot token added to a tokenizer needs no embedding row and frozen embeddings are never resized. Placeholders on the
assistant side are read by the assistant, so they are always tokens it already has.
"""

from dataclasses import dataclass

import torch
from transformers import GenerationConfig, PreTrainedTokenizerBase

ADDED_SLOT_TOKEN = "<|soft_thought|>"

_ASSISTANT_PLACEHOLDERS = ("<|end_of_text|>", "<|endoftext|>")
_BACKBONE_SLOTS_AND_MARKERS = (
    ("<|reserved_special_token_2|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>"),
    ("<|vision_pad|>", "<|box_start|>", "<|box_end|>"),
)


@dataclass(frozen=True)
class ThoughtTokens:
    """The token strings and ids that carry soft thoughts on each side (markers may be `None`)."""

    assistant_placeholder: str
    assistant_placeholder_id: int
    backbone_slot: str
    backbone_slot_id: int
    backbone_start: str | None = None
    backbone_start_id: int | None = None
    backbone_end: str | None = None
    backbone_end_id: int | None = None

    def config_kwargs(self) -> dict[str, int | None]:
        """The ids as `SoftCoTConfig` fields."""
        return {
            "assistant_placeholder_token_id": self.assistant_placeholder_id,
            "thought_token_id": self.backbone_slot_id,
            "thought_start_token_id": self.backbone_start_id,
            "thought_end_token_id": self.backbone_end_id,
        }


def _single_token_id(tokenizer: PreTrainedTokenizerBase, token: str) -> int | None:
    """The id of `token` if it is one token of the vocabulary (added tokens included), else `None`."""
    return tokenizer.get_vocab().get(token)


def select_thought_tokens(
    assistant_tokenizer: PreTrainedTokenizerBase, backbone_tokenizer: PreTrainedTokenizerBase
) -> ThoughtTokens:
    """Apply the rule above. May add `<|soft_thought|>` to `backbone_tokenizer` (the only side effect)."""
    # One vocabulary per side: `get_vocab` builds a dict of the whole vocabulary (0.4 s for Qwen2.5's) at each call.
    assistant_vocab, backbone_vocab = assistant_tokenizer.get_vocab(), backbone_tokenizer.get_vocab()
    known = (tok for tok in _ASSISTANT_PLACEHOLDERS if tok in assistant_vocab)
    placeholder = next(known, assistant_tokenizer.eos_token)
    if placeholder is None:
        raise ValueError(
            "The assistant tokenizer has no `<|end_of_text|>`/`<|endoftext|>` token and no EOS token to use as the "
            "soft-thought placeholder: set `assistant_tokenizer.eos_token` first."
        )
    found = [names for names in _BACKBONE_SLOTS_AND_MARKERS if all(tok in backbone_vocab for tok in names)]
    if found:
        slot, start, end = found[0]
    else:
        if ADDED_SLOT_TOKEN not in backbone_vocab:
            backbone_tokenizer.add_special_tokens(
                {"extra_special_tokens": [ADDED_SLOT_TOKEN]}, replace_extra_special_tokens=False
            )
            backbone_vocab = backbone_tokenizer.get_vocab()
        slot, start, end = ADDED_SLOT_TOKEN, None, None
    return ThoughtTokens(
        assistant_placeholder=placeholder,
        assistant_placeholder_id=assistant_vocab.get(placeholder),
        backbone_slot=slot,
        backbone_slot_id=backbone_vocab.get(slot),
        backbone_start=start,
        backbone_start_id=None if start is None else backbone_vocab.get(start),
        backbone_end=end,
        backbone_end_id=None if end is None else backbone_vocab.get(end),
    )


def rows_with_wrong_count(mask: torch.BoolTensor, expected: int) -> list[tuple[int, int]]:
    """[(row, count)] for the rows of a (batch, length) placeholder or slot mask that do not hold `expected` Trues."""
    return [(row, count) for row, count in enumerate(mask.sum(-1).tolist()) if count != expected]


def suppress_internal_tokens(generation_config: GenerationConfig, token_ids: list[int | None]) -> None:
    """
    Add `token_ids` (the tokens that only carry thoughts: slots, markers, Coconut's latent tokens; `None`s skipped) to
    `generation_config.suppress_tokens`, so `generate` never emits them by default. Emitted anyway, they would be
    ordinary tokens, but meaningless ones. To allow them: `generate(..., suppress_tokens=[])`, or edit the model's
    `generation_config.suppress_tokens` (it is saved with the model).
    """
    suppressed = list(generation_config.suppress_tokens or [])
    suppressed += [token_id for token_id in token_ids if token_id is not None and token_id not in suppressed]
    generation_config.suppress_tokens = suppressed


__all__ = [
    "ADDED_SLOT_TOKEN",
    "ThoughtTokens",
    "rows_with_wrong_count",
    "select_thought_tokens",
    "suppress_internal_tokens",
]
