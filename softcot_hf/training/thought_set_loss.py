"""SoftCoT++ training loss, for a whole batch at once: cross-entropy over all M thought sets plus a contrastive term
that pushes the M projected sets of each question apart.

A batch of B questions becomes B x M rows ordered (question, set) (`expand_for_thought_sets`). Each row's soft
thoughts are its set's assistant states (B x M, N, d_assistant) through the projection; a set's representation is
the mean of its N projected thoughts. The contrastive term is SimCSE's: the anchor is a set's representation, its
positive the representation of a dropout copy of the same assistant states, and its negatives the dropout copies of
the question's other M - 1 sets; InfoNCE over cosine similarities divided by a temperature, averaged over the
B x M anchors. The loss is `cross_entropy + contrastive_weight * contrastive`.

The cross-entropy is either the mean over every labelled token of the B x M rows (`"mean"`, SoftCoT's loss when M = 1)
or the sum over sets of each set's token mean (`"sum_over_sets"`: M separate SoftCoT losses added, the weighting of
adding one loss per set).
"""

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel

from ..modeling.thought_sets import expand_for_thought_sets
from .engines import TrainablePartTrainer

SET_LOSS_REDUCTIONS = ("mean", "sum_over_sets")


@dataclass
class ThoughtSetLosses:
    """The loss to minimise and its two parts (scalars)."""

    loss: torch.Tensor
    cross_entropy: torch.Tensor
    contrastive: torch.Tensor


def cross_entropy_over_sets(
    logits: torch.Tensor, labels: torch.LongTensor, num_sets: int, reduction: Literal["mean", "sum_over_sets"] = "mean"
) -> torch.Tensor:
    """Next-token cross-entropy of (B x M, length, vocab) logits against (B x M, length) labels (-100: ignored), rows
    ordered (question, set); `reduction` as in the module docstring. Computed in fp32."""
    if reduction not in SET_LOSS_REDUCTIONS:
        raise ValueError(f"Unknown set loss reduction {reduction!r}; use one of {SET_LOSS_REDUCTIONS}.")
    targets = labels[:, 1:].to(logits.device)
    token_losses = F.cross_entropy(
        logits[:, :-1].float().flatten(0, 1), targets.flatten(), ignore_index=-100, reduction="none"
    ).view(targets.shape)
    counted = targets != -100
    if reduction == "mean":
        return token_losses.sum() / counted.sum()
    set_sums = token_losses.view(-1, num_sets, targets.shape[1]).sum(dim=(0, 2))
    set_counts = counted.view(-1, num_sets, targets.shape[1]).sum(dim=(0, 2))
    return (set_sums / set_counts).sum()


def contrastive_loss(
    anchors: torch.Tensor, positives: torch.Tensor, num_sets: int, temperature: float
) -> torch.Tensor:
    """InfoNCE of (B x M, D) set representations against their (B x M, D) dropout copies, rows ordered (question,
    set): row (b, m) must pick its own copy among the M copies of question b. 0 when M = 1."""
    anchors = F.normalize(anchors.float(), dim=-1).view(-1, num_sets, anchors.shape[-1])
    positives = F.normalize(positives.float(), dim=-1).view(-1, num_sets, positives.shape[-1])
    similarities = anchors @ positives.transpose(1, 2) / temperature  # (B, M anchors, M copies)
    targets = torch.arange(num_sets, device=similarities.device).repeat(similarities.shape[0])
    return F.cross_entropy(similarities.flatten(0, 1), targets)


def dropout_copy(states: torch.Tensor, dropout: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """`states` with each element zeroed with probability `dropout` and the rest scaled by 1 / (1 - dropout)."""
    if dropout == 0:
        return states
    keep = torch.rand(states.shape, generator=generator, device=states.device) >= dropout
    return states * keep / (1 - dropout)


def set_assistant_states(model: PreTrainedModel, inputs: dict) -> torch.Tensor:
    """(B x M, N, d_assistant) assistant states of expanded `inputs`: the cached ones, or one assistant forward."""
    if inputs.get("assistant_hidden_states") is not None:
        return inputs["assistant_hidden_states"]
    return model.get_assistant_states(
        inputs["assistant_input_ids"], inputs.get("assistant_attention_mask"), inputs.get("thought_set_ids")
    )


def thought_set_losses(
    model: PreTrainedModel,
    inputs: dict,
    temperature: float = 0.05,
    dropout: float = 0.1,
    contrastive_weight: float = 1.0,
    reduction: Literal["mean", "sum_over_sets"] = "mean",
    generator: torch.Generator | None = None,
    forward_model: torch.nn.Module | None = None,
) -> ThoughtSetLosses:
    """
    The SoftCoT++ loss of a batch of B questions (`inputs` as the collator writes them: (B, length) `input_ids`,
    `attention_mask`, `labels` and (B, assistant_length) assistant inputs, or cached `assistant_hidden_states`
    (B, M, N, d_assistant)). `model` is the SoftCoT model; `forward_model` the module to call for the backbone
    forward (a DDP wrapper of `model`; default `model`). `generator` draws the dropout masks.
    """
    num_sets = model.config.num_thought_sets
    expanded = expand_for_thought_sets(inputs, num_sets) if num_sets > 1 else dict(inputs)
    labels = expanded.pop("labels")
    states = set_assistant_states(model, expanded)
    backbone_inputs = {key: expanded[key] for key in ("input_ids", "attention_mask") if key in expanded}
    outputs = (forward_model or model)(**backbone_inputs, assistant_hidden_states=states)
    cross_entropy = cross_entropy_over_sets(outputs.logits, labels, num_sets, reduction)
    if num_sets > 1 and contrastive_weight:
        anchors = model.projection(states).mean(1)
        positives = model.projection(dropout_copy(states.float(), dropout, generator)).mean(1)
        contrastive = contrastive_loss(anchors, positives, num_sets, temperature)
    else:
        contrastive = cross_entropy.new_zeros(())
    return ThoughtSetLosses(cross_entropy + contrastive_weight * contrastive, cross_entropy, contrastive)


class ThoughtSetTrainer(TrainablePartTrainer):
    """`Trainer` with the SoftCoT++ loss (`thought_set_losses`, settings read from the training arguments:
    `contrastive_temperature`, `contrastive_dropout`, `contrastive_weight`, `set_loss_reduction`). Its logs carry
    `cross_entropy` and `contrastive_loss` beside `loss`: their means since the last log, over every process."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.model_accepts_loss_kwargs = False  # the loss is a per-batch mean: Trainer scales it for accumulation
        self._loss_parts: list[torch.Tensor] = []

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        losses = thought_set_losses(
            self.accelerator.unwrap_model(model),
            inputs,
            temperature=self.args.contrastive_temperature,
            dropout=self.args.contrastive_dropout,
            contrastive_weight=self.args.contrastive_weight,
            reduction=self.args.set_loss_reduction,
            forward_model=model,
        )
        if model.training:
            self._loss_parts.append(torch.stack([losses.cross_entropy, losses.contrastive]).detach())
        return (losses.loss, None) if return_outputs else losses.loss

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs and self._loss_parts:
            means = self.accelerator.reduce(torch.stack(self._loss_parts).mean(0), reduction="mean").tolist()
            logs["cross_entropy"], logs["contrastive_loss"] = round(means[0], 4), round(means[1], 4)
            self._loss_parts = []
        super().log(logs, *args, **kwargs)


__all__ = [
    "SET_LOSS_REDUCTIONS",
    "ThoughtSetLosses",
    "ThoughtSetTrainer",
    "contrastive_loss",
    "cross_entropy_over_sets",
    "dropout_copy",
    "thought_set_losses",
]
