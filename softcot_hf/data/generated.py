"""Splits of the package's generated tasks: distinct questions, deterministic, no question in two splits."""

import random
from collections.abc import Callable, Sequence

from .task import Row

MAX_REPEATS = 2000  # draws in a row that all repeat a question: the generator has run out of new ones


def distinct_rows(
    make_row: Callable[[random.Random], Row],
    num_examples: int,
    seed: int,
    exclude: set[str] | frozenset[str] = frozenset(),
) -> list[Row]:
    """`num_examples` rows of `make_row(rng)` with distinct questions, none of them in `exclude`; the same rows for the
    same seed. A `ValueError` when `MAX_REPEATS` draws in a row give no new question (the generator's parameters allow
    too few distinct ones)."""
    if num_examples < 0:
        raise ValueError(f"num_examples must be 0 or more, got {num_examples}.")
    rng = random.Random(seed)
    rows, seen, repeats = [], set(exclude), 0
    while len(rows) < num_examples:
        row = make_row(rng)
        if row["question"] not in seen:
            seen.add(row["question"])
            rows.append(row)
            repeats = 0
        elif (repeats := repeats + 1) == MAX_REPEATS:
            raise ValueError(
                f"Found only {len(rows)} of the {num_examples} distinct questions asked for ({len(exclude)} "
                f"excluded): the last {MAX_REPEATS} draws all repeated one. The generator's parameters allow too few "
                "distinct questions: ask for fewer, or widen them (more steps, larger values, deeper graphs)."
            )
    return rows


def earlier_questions(split: str, order: Sequence[str], rows_of: Callable[[str], Sequence[Row]]) -> frozenset[str]:
    """The questions of the splits before `split` in `order` (e.g. test, validation, train): what `split` must not
    repeat. `rows_of(split)` generates (and should cache) a split."""
    return frozenset(row["question"] for earlier in order[: order.index(split)] for row in rows_of(earlier))
