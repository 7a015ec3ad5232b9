"""The quickstart's results in words and pictures: markdown tables (per method, per Coconut stage), the paired
comparisons as sentences, the page `results.md`, and one figure per task."""

from collections.abc import Sequence
from pathlib import Path

from ..evaluation.plots import plot_methods


def counted(count: int, noun: str) -> str:
    """`count` and `noun` in the right number: "1 training seed", "3 training seeds"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def comparison_sentence(comparison: dict, titles: dict[str, str]) -> str:
    """The comparison in words: the difference in points with its interval, p-values and significant or not."""
    a, b = titles[comparison["a"]], titles[comparison["b"]]
    low, high = (100 * value for value in comparison["ci95"])
    mcnemar = ", ".join(f"{run['p_value']:.3g}" for run in comparison["mcnemar_per_seed"])
    return (
        f"{a} vs {b}, same questions: {100 * comparison['difference']:+.1f} points "
        f"(95% CI {low:+.1f} to {high:+.1f}); "
        f"paired bootstrap p = {comparison['p_value']:.3g}: {comparison['verdict']} at the 5% level "
        f"(McNemar exact per seed: p = {mcnemar})."
    )


def results_table(rows: list[dict]) -> str:
    """A markdown table: method, accuracy mean ± std over seeds (and per seed), tokens per answer, training time."""
    lines = [
        "| method | accuracy, mean ± std | per seed | tokens / answer | train time (s, mean) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        per_seed = ", ".join(f"{100 * value:.1f}" for value in row["accuracy_per_seed"])
        trained = "- (frozen)" if row["train_time_s_mean"] is None else f"{row['train_time_s_mean']:.1f}"
        lines.append(
            f"| {row['label']} | {100 * row['accuracy_mean']:.1f} ± {100 * row['accuracy_std']:.1f}% | {per_seed} | "
            f"{row['tokens_mean']:.1f} | {trained} |"
        )
    return "\n".join(lines)


def stage_curve_table(points: list[dict]) -> str:
    """Coconut's accuracy after each stage (`pool_stage_curves`), mean ± std over seeds and per seed, in markdown."""
    lines = ["| Coconut stage | accuracy, mean ± std | per seed |", "|---|---|---|"]
    for point in points:
        per_seed = ", ".join(f"{100 * value:.1f}" for value in point["accuracy_per_seed"])
        lines.append(
            f"| {point['stage']} | {100 * point['accuracy_mean']:.1f} ± {100 * point['accuracy_std']:.1f}% | "
            f"{per_seed} |"
        )
    return "\n".join(lines)


def results_markdown(tasks: dict[str, dict], seeds: Sequence[int]) -> str:
    """Both tasks' tables, their comparisons in words, Coconut's stage curve and the figures' file names."""
    parts = []
    for task, result in tasks.items():
        parts.append(f"### {task} ({counted(len(seeds), 'training seed')}: {', '.join(map(str, seeds))})\n")
        parts.append(result["table"] + "\n")
        parts.extend(f"{sentence}\n" for sentence in result["sentences"])
        if "stage_curve_table" in result:
            parts.append("Coconut after each stage of its curriculum (the last: every step a thought):\n")
            parts.append(result["stage_curve_table"] + "\n")
        parts.append(f"![{task}]({Path(result['plot']).name})\n")
    return "\n".join(parts)


def figure_title(task: str, seeds: int, questions: int) -> str:
    """The figure's title: the task, how many training seeds (and what the error bars are), how many questions."""
    bars = ", error bars: ± std over seeds" if seeds > 1 else ""
    return f"{task}: {counted(seeds, 'training seed')}{bars}, {counted(questions, 'test question')}"


def plot_task(result: dict, path: Path, task: str, seeds: int) -> Path:
    """The task's figure (`plot_methods`) at `path`: its rows, Coconut's stage curve if any, and its reference lines
    (`result["references"]`: chance, the majority answer)."""
    title = figure_title(task, seeds, result["rows"][0]["num_questions"])
    return plot_methods(result["rows"], path, title, result.get("stage_curve"), result["references"])
