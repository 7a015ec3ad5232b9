"""CODI's training loss (Shen et al., arXiv 2502.21074, sections 3.2-3.4), written from the paper's text (its code has
no licence and was not read).

One forward over a batch of 2B rows (`collate_codi`): rows 0..B-1 are the teacher's sequences (question, written
steps, answer), rows B..2B-1 the student's (question, K continuous thoughts, answer). Each row names its distilled
position: the last token before the answer, aligned in both. The loss is

    student CE + distill_weight x distillation + teacher_weight x teacher CE

where each CE is the mean over its rows' labelled tokens, and the distillation is, per distilled layer l, the
Smooth-L1 distance between the student's and the stop-gradient teacher's states at the distilled positions divided by
the standard deviation of those teacher states, averaged over the layers (the mean over layers is our choice: the
paper's sum or mean only scales `distill_weight`).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class CodiLossSettings:
    """The weights of the three terms and the distilled layers (indices into the LM's `hidden_states`: 0 is the
    embeddings, l the output of layer l; None: every layer's output, 1..L)."""

    distill_weight: float = 1.0
    teacher_weight: float = 1.0
    distill_layers: tuple[int, ...] | None = None


def token_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(rows, seq_len, vocab) logits and (rows, seq_len) labels (-100: ignored) -> the mean next-token cross-entropy
    over the labelled tokens (labels shifted left by one inside)."""
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=-100)


def distillation_loss(student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor]) -> torch.Tensor:
    """One (batch, hidden) tensor per distilled layer on each side -> the mean over layers of
    SmoothL1(student, sg(teacher)) / std(sg(teacher)); no gradient reaches the teacher's states."""
    if len(student) != len(teacher) or not student:
        raise ValueError(f"Need the same, nonzero number of layers on both sides; got {len(student)}, {len(teacher)}.")
    per_layer = []
    for student_states, teacher_states in zip(student, teacher, strict=True):
        target = teacher_states.detach().float()
        per_layer.append(F.smooth_l1_loss(student_states.float(), target) / target.std().clamp_min(1e-6))
    return torch.stack(per_layer).mean()


def distilled_layers(num_states: int, layers: tuple[int, ...] | None) -> tuple[int, ...]:
    """The indices into a `hidden_states` tuple of `num_states` entries (embeddings + L layers) that are distilled."""
    if layers is None:
        return tuple(range(1, num_states))
    wrong = [layer for layer in layers if not 0 <= layer < num_states]
    if wrong:
        raise ValueError(
            f"distill_layers {wrong} out of range: the model has hidden states 0 (embeddings) to {num_states - 1}."
        )
    return tuple(layers)


def codi_loss(
    logits: torch.Tensor,
    hidden_states: Sequence[torch.Tensor],
    labels: torch.Tensor,
    distill_positions: torch.LongTensor,
    settings: CodiLossSettings,
) -> dict[str, torch.Tensor]:
    """
    CODI's loss on one teacher-then-student batch (see the module docstring).

    Args:
        logits: (2B, seq_len, vocab). hidden_states: the embeddings' and every layer's (2B, seq_len, hidden).
        labels: (2B, seq_len), -100 where nothing is predicted. distill_positions: (2B,), the distilled column of
        each row.

    Returns:
        `{"loss", "student_ce", "teacher_ce", "distillation"}`, scalars (`loss` the weighted sum).
    """
    rows = logits.shape[0]
    if rows % 2:
        raise ValueError(f"A CODI batch holds teacher rows then as many student rows; got {rows} rows.")
    half = rows // 2
    picked = torch.arange(rows, device=distill_positions.device)
    states = [
        hidden_states[layer][picked, distill_positions]
        for layer in distilled_layers(len(hidden_states), settings.distill_layers)
    ]
    student_ce = token_cross_entropy(logits[half:], labels[half:])
    teacher_ce = token_cross_entropy(logits[:half], labels[:half])
    distillation = distillation_loss([s[half:] for s in states], [s[:half] for s in states])
    loss = student_ce + settings.distill_weight * distillation + settings.teacher_weight * teacher_ce
    return {"loss": loss, "student_ce": student_ce, "teacher_ce": teacher_ce, "distillation": distillation}


__all__ = ["CodiLossSettings", "codi_loss", "distillation_loss", "distilled_layers", "token_cross_entropy"]
