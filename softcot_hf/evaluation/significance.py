"""Paired significance tests for two methods answering the same questions.

Two methods evaluated on the same questions give paired outcomes: a question that is hard for one is usually hard for
the other, so comparing two accuracies as if they were independent overstates the noise. Both tests here use the
pairing:

- `mcnemar_exact`: one run each (outcomes 0/1). Only the discordant questions count (right for one method, wrong for
  the other); under "no difference" each is equally likely to go either way, so their split is Binomial(n, 1/2).
- `paired_bootstrap`: per-question scores in [0, 1] (e.g. the fraction of training seeds that got a question right),
  resampling questions with replacement.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05  # the level at which a difference is called "significant"


def in_words(p_value: float, alpha: float = ALPHA) -> str:
    """ "significant" when `p_value < alpha`, else "not significant"."""
    return "significant" if p_value < alpha else "not significant"


def _paired(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(
            f"Need one score per question for both methods, on the same questions (equal, non-empty lists); got "
            f"shapes {a.shape} and {b.shape}."
        )
    if ((a < 0) | (a > 1) | (b < 0) | (b > 1)).any():
        raise ValueError("Per-question scores must lie in [0, 1] (1 = right, 0 = wrong, or a fraction of runs).")
    return a, b


@dataclass(frozen=True)
class McNemarResult:
    """`only_a`: questions method a got right and b wrong; `only_b` the reverse; two-sided exact `p_value`."""

    only_a: int
    only_b: int
    p_value: float


def mcnemar_exact(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> McNemarResult:
    """
    McNemar's exact test on paired right/wrong outcomes (one entry per question, same order for both methods).

    p = min(1, 2 * P(X <= min(only_a, only_b))) with X ~ Binomial(only_a + only_b, 1/2); 1 when no question is
    discordant.
    """
    a, b = _paired(a_correct, b_correct)
    if not np.isin(a, (0, 1)).all() or not np.isin(b, (0, 1)).all():
        raise ValueError("McNemar's test needs right/wrong outcomes (0/1 or booleans); use paired_bootstrap for "
                         "fractional scores.")  # fmt: skip
    only_a, only_b = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    n = only_a + only_b
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return McNemarResult(only_a, only_b, min(1.0, 2 * tail))


@dataclass(frozen=True)
class BootstrapResult:
    """`difference`: mean score of a minus b (in [−1, 1]); `low`, `high`: its percentile confidence interval;
    `p_value`: two-sided, twice the smaller share of resampled differences on either side of 0 (capped at 1)."""

    difference: float
    low: float
    high: float
    p_value: float
    num_resamples: int


def paired_bootstrap(
    a_scores: Sequence[float],
    b_scores: Sequence[float],
    num_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """
    Paired bootstrap of the mean difference `a - b` over questions: draw `num_resamples` sets of as many questions,
    with replacement, and take each set's mean difference. Seeded: the same inputs give the same result.
    """
    a, b = _paired(a_scores, b_scores)
    if num_resamples < 1 or not 0 < confidence < 1:
        raise ValueError(f"Need num_resamples >= 1 and 0 < confidence < 1, got {num_resamples} and {confidence}.")
    differences = a - b
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, differences.size, size=(num_resamples, differences.size))
    means = differences[picks].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    p_value = min(1.0, 2 * min(float((means <= 0).mean()), float((means >= 0).mean())))
    return BootstrapResult(float(differences.mean()), float(low), float(high), p_value, num_resamples)


__all__ = ["ALPHA", "BootstrapResult", "McNemarResult", "in_words", "mcnemar_exact", "paired_bootstrap"]
