"""Splits of the package's generated tasks: distinct questions, deterministic, no question in two splits."""

import random
from collections.abc import Callable, Sequence

from .task import Row


def distinct_rows(
    make_row: Callable[[random.Random], Row],
    num_examples: int,
    seed: int,
    exclude: set[str] | frozenset[str] = frozenset(),
) -> list[Row]:
    """`num_examples` rows of `make_row(rng)` with distinct questions, none of them in `exclude`; the same rows for the
    same seed."""
    rng = random.Random(seed)
    rows, seen = [], set(exclude)
    while len(rows) < num_examples:
        row = make_row(rng)
        if row["question"] not in seen:
            seen.add(row["question"])
            rows.append(row)
    return rows


def earlier_questions(split: str, order: Sequence[str], rows_of: Callable[[str], Sequence[Row]]) -> frozenset[str]:
    """The questions of the splits before `split` in `order` (e.g. test, validation, train): what `split` must not
    repeat. `rows_of(split)` generates (and should cache) a split."""
    return frozenset(row["question"] for earlier in order[: order.index(split)] for row in rows_of(earlier))
