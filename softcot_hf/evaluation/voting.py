"""Self-consistency: a majority vote over the answers extracted from several sampled reasoning paths."""

from collections import Counter


def majority_vote(answers: list[str | None]) -> str | None:
    """
    The most frequent answer among `answers` (already extracted and normalised by the task, so equal answers are
    equal strings). Paths with no answer (`None`) never win; the vote is `None` only when every path is `None`.
    Ties go to the tied answer that appears first in `answers` (sample order), so the vote is deterministic.

    >>> majority_vote(["3", None, "5", "5", "3"])
    '3'
    """
    counts = Counter(answer for answer in answers if answer is not None)
    if not counts:
        return None
    best = max(counts.values())
    return next(answer for answer in answers if answer is not None and counts[answer] == best)
