"""SoftCoT++ training loss: cross-entropy over all M thought sets plus a contrastive term that pushes the M projected
sets of each question apart, from one forward of the (possibly wrapped) model.

A batch of B questions becomes B x M rows ordered (question, set) (`expand_for_thought_sets`); the forward writes each
row's soft thoughts (B x M, N, D) and returns them with the logits. The contrastive term is SimCSE's InfoNCE: each
set's representation against a dropout copy of it, the question's other M - 1 copies as negatives; loss =
cross_entropy + `contrastive_weight` x contrastive. `ThoughtSetLossSettings` holds the choices, ours and the official
code's (docs/softcotpp.md tabulates them). The official contrastive loop is right only at batch size 1 (it overwrites
the tensor it indexes by question); this computes what it intends, per question, for any batch size. (Its
cross-entropy also halves for backbones under 4B: not reproduced; the papers' are 7B and 8B.)

Normalisation: `ThoughtSetLossSums` holds sums and counts; `ThoughtSetTrainer` divides them by the counts of the
whole global batch (all processes, all accumulated micro-batches), so 1 process or N, with or without gradient
accumulation, give the same gradient for the same global batch.
"""

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel

from ..modeling.thought_sets import dropout_copy, expand_for_thought_sets
from .engines import TrainablePartTrainer
from .thought_set_settings import (
    CONTRASTIVE_DROPOUT_PLACES,
    CONTRASTIVE_POOLINGS,
    SET_LOSS_REDUCTIONS,
    ThoughtSetLossSettings,
)

DEFAULT_SETTINGS = ThoughtSetLossSettings()  # ours


@dataclass
class ThoughtSetLosses:
    """The loss to minimise and its two parts (scalars)."""

    loss: torch.Tensor
    cross_entropy: torch.Tensor
    contrastive: torch.Tensor


@dataclass
class ThoughtSetLossSums:
    """A batch's loss as sums, to be divided by counts of this batch or of the whole global batch.

    cross_entropy: the sum of token losses (`"mean"`) or of per-row token means (`"sum_over_sets"`) over B x M rows.
    contrastive: the sum of the B x M anchors' InfoNCE terms. tokens: labelled tokens of the B x M rows (predicted
    positions). questions: B."""

    cross_entropy: torch.Tensor
    contrastive: torch.Tensor
    tokens: torch.Tensor
    questions: int

    def losses(
        self,
        settings: ThoughtSetLossSettings,
        num_sets: int,
        tokens: torch.Tensor | None = None,
        questions: torch.Tensor | int | None = None,
    ) -> ThoughtSetLosses:
        """The losses normalised by this batch's counts, or by the given `tokens` (over B x M rows) and `questions`
        (those of a larger batch this one is part of)."""
        tokens = self.tokens if tokens is None else tokens
        questions = self.questions if questions is None else questions
        cross_entropy = self.cross_entropy / (tokens if settings.reduction == "mean" else questions)
        contrastive = self.contrastive / (num_sets * questions)
        return ThoughtSetLosses(cross_entropy + settings.contrastive_weight * contrastive, cross_entropy, contrastive)


def cross_entropy_sums(
    logits: torch.Tensor, labels: torch.LongTensor, reduction: Literal["mean", "sum_over_sets"]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token cross-entropy of (rows, length, vocab) logits against (rows, length) labels (-100: ignored), in fp32:
    (the sum of token losses, or of each row's token mean (`"sum_over_sets"`; a row without labels adds 0), and the
    number of labelled tokens)."""
    targets = labels[:, 1:].to(logits.device)
    token_losses = F.cross_entropy(
        logits[:, :-1].float().flatten(0, 1), targets.flatten(), ignore_index=-100, reduction="none"
    ).view(targets.shape)
    counted = (targets != -100).sum(1)
    if reduction == "mean":
        return token_losses.sum(), counted.sum()
    return (token_losses.sum(1) / counted.clamp(min=1)).sum(), counted.sum()


def contrastive_sum(anchors: torch.Tensor, positives: torch.Tensor, num_sets: int, temperature: float) -> torch.Tensor:
    """The summed InfoNCE of (B x M, F) set representations against their (B x M, F) dropout copies, rows ordered
    (question, set): row (b, m) must pick its own copy among the M copies of question b. Computed in fp32."""
    anchors = F.normalize(anchors.float(), dim=-1).view(-1, num_sets, anchors.shape[-1])
    positives = F.normalize(positives.float(), dim=-1).view(-1, num_sets, positives.shape[-1])
    similarities = anchors @ positives.transpose(1, 2) / temperature  # (B, M anchors, M copies)
    targets = torch.arange(num_sets, device=similarities.device).repeat(similarities.shape[0])
    return F.cross_entropy(similarities.flatten(0, 1), targets, reduction="sum")


def pooled(thoughts: torch.Tensor, pooling: Literal["mean", "flatten"]) -> torch.Tensor:
    """(rows, N, D) soft thoughts -> (rows, D) mean or (rows, N x D) flattened."""
    return thoughts.mean(1) if pooling == "mean" else thoughts.flatten(1)


def thought_set_loss_sums(
    model: PreTrainedModel,
    inputs: dict,
    settings: ThoughtSetLossSettings,
    forward_model: torch.nn.Module | None = None,
) -> ThoughtSetLossSums:
    """
    The SoftCoT++ loss of a batch of B questions as sums (`inputs` as the collator writes them: (B, length)
    `input_ids`, `attention_mask`, `labels` and (B, assistant_length) assistant inputs, or cached
    `assistant_hidden_states` (B, M, N, d_assistant)), from one call of `forward_model` (the DDP / FSDP / DeepSpeed
    wrapper of `model`; default `model`), which runs the assistant, the projection and the backbone. Dropout masks
    come from the global RNG.
    """
    num_sets = model.config.num_thought_sets
    expanded = expand_for_thought_sets(inputs, num_sets) if num_sets > 1 else dict(inputs)
    labels = expanded.pop("labels")
    contrastive_on = num_sets > 1 and settings.contrastive_weight > 0
    if contrastive_on and settings.contrastive_dropout_on == "assistant_states":
        expanded["assistant_states_dropout"] = settings.contrastive_dropout
    outputs = (forward_model or model)(**expanded)
    cross_entropy, tokens = cross_entropy_sums(outputs.logits, labels, settings.reduction)
    if contrastive_on:
        anchors = outputs.soft_thoughts
        if settings.contrastive_dropout_on == "assistant_states":
            positives = outputs.dropout_soft_thoughts
        else:
            positives = dropout_copy(anchors, settings.contrastive_dropout)
        contrastive = contrastive_sum(
            pooled(anchors, settings.contrastive_pooling),
            pooled(positives, settings.contrastive_pooling),
            num_sets,
            settings.contrastive_temperature,
        )
    else:
        contrastive = cross_entropy.new_zeros(())
    return ThoughtSetLossSums(cross_entropy, contrastive, tokens, labels.shape[0] // num_sets)


def thought_set_losses(
    model: PreTrainedModel,
    inputs: dict,
    settings: ThoughtSetLossSettings = DEFAULT_SETTINGS,
    forward_model: torch.nn.Module | None = None,
) -> ThoughtSetLosses:
    """The SoftCoT++ loss of one batch on its own (`thought_set_loss_sums` normalised by this batch's counts)."""
    sums = thought_set_loss_sums(model, inputs, settings, forward_model)
    return sums.losses(settings, model.config.num_thought_sets)


class ThoughtSetTrainer(TrainablePartTrainer):
    """`Trainer` with the SoftCoT++ loss of `loss_settings` (`ThoughtSetLossSettings.from_args` of the arguments),
    normalised over the global batch: tokens by Trainer's `num_items_in_batch` (labelled tokens of every process and
    accumulated micro-batch; x M for the M rows of each question), questions counted the same way in
    `get_batch_samples`. Its logs carry `cross_entropy` and `contrastive_loss` beside `loss`: per-batch values, their
    means since the last log over every process."""

    def __init__(self, *args, loss_settings: ThoughtSetLossSettings, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_settings = loss_settings
        # compute_loss normalises by the global batch itself, so Trainer must count it and not rescale the loss.
        self.model_accepts_loss_kwargs = True
        self._questions_in_batch: torch.Tensor | None = None
        self._loss_parts: list[torch.Tensor] = []

    def get_batch_samples(self, epoch_iterator, num_batches: int, device: torch.device):
        """Trainer's micro-batches and labelled-token count, and the number of questions in the global batch (all
        processes when Trainer averages tokens across devices, as it does by default)."""
        batch_samples, num_items_in_batch = super().get_batch_samples(epoch_iterator, num_batches, device)
        questions = torch.tensor(sum(len(batch["labels"]) for batch in batch_samples), device=device)
        if self.args.average_tokens_across_devices and self.args.world_size > 1:
            questions = self.accelerator.gather(questions).sum()
        self._questions_in_batch = questions
        return batch_samples, num_items_in_batch

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        unwrapped = self.accelerator.unwrap_model(model)
        num_sets = unwrapped.config.num_thought_sets
        sums = thought_set_loss_sums(unwrapped, inputs, self.loss_settings, forward_model=model)
        batch = sums.losses(self.loss_settings, num_sets)
        if model.training and num_items_in_batch is not None:
            losses = sums.losses(self.loss_settings, num_sets, num_items_in_batch * num_sets, self._questions_in_batch)
            # Each process holds its share of the global sums; DDP / FSDP / DeepSpeed average gradients over processes.
            loss = losses.loss * (self.accelerator.num_processes if self.args.average_tokens_across_devices else 1)
        else:
            loss = batch.loss
        if model.training:
            self._loss_parts.append(torch.stack([batch.cross_entropy, batch.contrastive]).detach())
        return (loss, None) if return_outputs else loss

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs and self._loss_parts:
            means = self.accelerator.reduce(torch.stack(self._loss_parts).mean(0), reduction="mean").tolist()
            logs["cross_entropy"], logs["contrastive_loss"] = round(means[0], 4), round(means[1], 4)
            self._loss_parts = []
        super().log(logs, *args, **kwargs)


__all__ = [
    "CONTRASTIVE_DROPOUT_PLACES",
    "CONTRASTIVE_POOLINGS",
    "SET_LOSS_REDUCTIONS",
    "ThoughtSetLossSettings",
    "ThoughtSetLossSums",
    "ThoughtSetLosses",
    "ThoughtSetTrainer",
    "contrastive_sum",
    "cross_entropy_sums",
    "pooled",
    "thought_set_loss_sums",
    "thought_set_losses",
]
