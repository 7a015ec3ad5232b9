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


def official_vote(answers: list[str | None]) -> str | None:
    """
    The official SoftCoT evaluation's vote (xuyige/SoftCoT@fa7f537, evaluate_softcot.py:266-278): answers are counted
    in order, but a path with no answer (`None`) resets its count to 1 instead of adding to it; the first answer to
    reach the highest count wins. So `None` can win: alone, or when it comes first and no answer is seen twice.

    >>> official_vote([None, "3", "5"]), official_vote(["3", None, "5", "5"])
    (None, '5')
    """
    counts: dict[str | None, int] = {}
    for answer in answers:
        counts[answer] = counts[answer] + 1 if answer in counts and answer is not None else 1
    best, best_count = None, 0
    for answer, count in counts.items():
        if count > best_count:
            best, best_count = answer, count
    return best


VOTE_RULES = {"ours": majority_vote, "official": official_vote}
