"""The settings of the SoftCoT++ loss (`thought_set_loss.py`), light: the training arguments take their defaults from
here without importing torch."""

from dataclasses import dataclass, fields
from typing import Literal

SET_LOSS_REDUCTIONS = ("mean", "sum_over_sets")
CONTRASTIVE_POOLINGS = ("mean", "flatten")
CONTRASTIVE_DROPOUT_PLACES = ("assistant_states", "projected_thoughts")


@dataclass(frozen=True)
class ThoughtSetLossSettings:
    """How the SoftCoT++ loss is computed (`softcot_hf.training.thought_set_loss`); the defaults are ours,
    `official(M)` the official code's `scaling-nce` run."""

    reduction: Literal["mean", "sum_over_sets"] = "mean"
    contrastive_weight: float = 1.0
    contrastive_temperature: float = 0.05
    contrastive_dropout: float = 0.1
    contrastive_dropout_on: Literal["assistant_states", "projected_thoughts"] = "assistant_states"
    contrastive_pooling: Literal["mean", "flatten"] = "mean"

    def __post_init__(self):
        for name, allowed in (
            ("reduction", SET_LOSS_REDUCTIONS),
            ("contrastive_pooling", CONTRASTIVE_POOLINGS),
            ("contrastive_dropout_on", CONTRASTIVE_DROPOUT_PLACES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Unknown {name} {getattr(self, name)!r}; use one of {allowed}.")

    @classmethod
    def official(cls, num_sets: int) -> "ThoughtSetLossSettings":
        """The official `scaling-nce` loss: summed set losses, flattened thoughts, dropout 0.5 on them, weight 1/M,
        similarities x 20."""
        return cls("sum_over_sets", 1 / num_sets, 0.05, 0.5, "projected_thoughts", "flatten")

    @classmethod
    def from_args(cls, args) -> "ThoughtSetLossSettings":
        """The settings held by training arguments (`SoftCoTPPTrainingArguments`: `thought_set_loss_reduction` and the
        `contrastive_*` fields)."""
        values = {field.name: getattr(args, field.name) for field in fields(cls) if field.name != "reduction"}
        return cls(reduction=args.thought_set_loss_reduction, **values)


__all__ = ["CONTRASTIVE_DROPOUT_PLACES", "CONTRASTIVE_POOLINGS", "SET_LOSS_REDUCTIONS", "ThoughtSetLossSettings"]
