"""Seeds pooled into the quickstart's numbers: a table row per method (mean ± std over seeds), Coconut's curve across
curriculum stages, and the paired tests of one method against another on the same questions."""

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from ..evaluation.significance import in_words, mcnemar_exact, paired_bootstrap


def correct_per_question(eval_dir: Path) -> list[bool]:
    """The `correct` field of every question in `eval_dir/predictions.jsonl` (one greedy path), in question order."""
    rows = [json.loads(line) for line in (eval_dir / "predictions.jsonl").read_text().splitlines()]
    return [row["correct"] for row in sorted(rows, key=lambda row: row["index"])]


def majority_answer_rate(answers: Sequence[str]) -> float:
    """The accuracy of always giving the most common gold answer: the floor a model that ignores the question
    reaches."""
    if not answers:
        raise ValueError("No answers: the majority-answer rate needs at least one test question.")
    return Counter(answers).most_common(1)[0][1] / len(answers)


def _spread(values: list[float]) -> float:
    """Sample std (n - 1) of `values`; 0 for one value."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def aggregate(label: str, method: str, summaries: list[dict], train_times: list[float] | None) -> dict:
    """One table row from a method's per-seed summaries: accuracy mean and sample std (n - 1; 0 for one run), per
    seed, generated tokens per answer (mean over seeds) and mean training time (None for a frozen model)."""
    accuracies = [summary["accuracy"] for summary in summaries]
    return {
        "label": label,
        "method": method,
        "accuracy_mean": statistics.fmean(accuracies),
        "accuracy_std": _spread(accuracies),
        "accuracy_per_seed": accuracies,
        "tokens_mean": statistics.fmean(summary["mean_generated_tokens"] for summary in summaries),
        "train_time_s_mean": None if train_times is None else statistics.fmean(train_times),
        "num_questions": summaries[0]["num_examples"],
    }


def pool_stage_curves(curves: list[list[dict]]) -> list[dict]:
    """Coconut's accuracy after each stage, one curve ({"stage", "accuracy"} per stage) per seed, pooled into
    {"stage", "accuracy_mean", "accuracy_std", "accuracy_per_seed"} per stage."""
    points = []
    for stage_points in zip(*curves, strict=True):
        accuracies = [point["accuracy"] for point in stage_points]
        points.append(
            {
                "stage": stage_points[0]["stage"],
                "accuracy_mean": statistics.fmean(accuracies),
                "accuracy_std": _spread(accuracies),
                "accuracy_per_seed": accuracies,
            }
        )
    return points


def compare(a: str, b: str, outcomes: dict[str, list[list[bool]]]) -> dict:
    """Paired tests of method `a` against `b` on the same questions. `outcomes[method]` holds one list of per-question
    right/wrong per seed (a frozen greedy method: one list, the same for every seed). The main test is a paired
    bootstrap over questions of the per-question accuracy averaged over seeds; McNemar's exact test is run per seed."""
    runs_a, runs_b = outcomes[a], outcomes[b]
    count = max(len(runs_a), len(runs_b))
    runs_a, runs_b = runs_a * (count // len(runs_a)), runs_b * (count // len(runs_b))

    def averaged(runs: list[list[bool]]) -> list[float]:
        return [statistics.fmean(values) for values in zip(*runs, strict=True)]

    bootstrap = paired_bootstrap(averaged(runs_a), averaged(runs_b))
    per_seed = [asdict(mcnemar_exact(x, y)) for x, y in zip(runs_a, runs_b, strict=True)]
    return {
        "a": a,
        "b": b,
        "difference": bootstrap.difference,
        "ci95": [bootstrap.low, bootstrap.high],
        "p_value": bootstrap.p_value,
        "verdict": in_words(bootstrap.p_value),
        "mcnemar_per_seed": per_seed,
    }
