"""Charts of results over several training seeds: accuracy with error bars and generated tokens per answer, one
figure per task, and accuracy across Coconut's curriculum stages."""

from collections.abc import Sequence
from pathlib import Path


def plot_methods(
    rows: Sequence[dict],
    path: str | Path,
    title: str,
    stage_curve: Sequence[dict] | None = None,
    chance: float | None = None,
) -> Path:
    """
    Saves a PNG at `path`: accuracy (%) per method, mean with ± std error bars over seeds, and generated tokens per
    answer; with `stage_curve`, a third panel with accuracy after each curriculum stage. A row is
    `{"label", "accuracy_mean", "accuracy_std", "tokens_mean"}` (accuracies in [0, 1]); a stage point is
    `{"stage", "accuracy_mean", "accuracy_std"}`. `chance` (in [0, 1]): a dashed line on the accuracy panels, e.g. the
    rate of guessing between two options.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not rows:
        raise ValueError("Nothing to plot: pass at least one method's row.")
    panels = 3 if stage_curve else 2
    figure = Figure(figsize=(4.4 * panels, 3.8), layout="constrained")
    FigureCanvasAgg(figure)
    labels = [row["label"] for row in rows]
    positions = range(len(rows))

    accuracy = figure.add_subplot(1, panels, 1)
    accuracy.bar(
        positions,
        [100 * row["accuracy_mean"] for row in rows],
        yerr=[100 * row["accuracy_std"] for row in rows],
        capsize=4,
        color="tab:blue",
    )
    accuracy.set_xticks(positions, labels, rotation=30, ha="right", fontsize="small")
    accuracy.set_ylabel("accuracy (%), mean ± std over seeds")
    accuracy.set_ylim(0, 100)
    if chance is not None:
        accuracy.axhline(100 * chance, color="gray", linestyle="--", linewidth=1, label="chance (guessing)")
        accuracy.legend(fontsize="small")

    tokens = figure.add_subplot(1, panels, 2)
    tokens.bar(positions, [row["tokens_mean"] for row in rows], color="tab:orange")
    tokens.set_xticks(positions, labels, rotation=30, ha="right", fontsize="small")
    tokens.set_ylabel("generated tokens per answer")

    if stage_curve:
        curve = figure.add_subplot(1, panels, 3)
        curve.errorbar(
            [point["stage"] for point in stage_curve],
            [100 * point["accuracy_mean"] for point in stage_curve],
            yerr=[100 * point["accuracy_std"] for point in stage_curve],
            marker="o",
            capsize=4,
        )
        curve.set_xticks([point["stage"] for point in stage_curve])
        curve.set_xlabel("Coconut stage (steps replaced by thoughts)")
        curve.set_ylabel("accuracy (%) after the stage")
        curve.set_ylim(0, 100)
        if chance is not None:
            curve.axhline(100 * chance, color="gray", linestyle="--", linewidth=1)

    figure.suptitle(title, fontsize="medium")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path


__all__ = ["plot_methods"]
