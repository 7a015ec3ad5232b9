"""Charts of results over several training seeds: accuracy and generated tokens per answer per method, one figure per
task, and accuracy across Coconut's curriculum stages. Every bar and point carries its value; error bars (± std over
seeds) appear only where there was more than one run; reference lines (chance, majority answer) are labelled."""

from collections.abc import Mapping, Sequence
from pathlib import Path

REFERENCE_STYLES = ("--", ":", "-.")  # one line style per reference line, in the order given


def _runs(row: Mapping) -> int:
    """How many runs a row pools: its per-seed accuracies (a frozen model evaluated once has one)."""
    return len(row["accuracy_per_seed"])


def _accuracy_panel(axes, rows: Sequence[Mapping]) -> None:
    """Bars of mean accuracy (%) with their values; ± std error bars only on rows pooled over several runs."""
    positions = list(range(len(rows)))
    means = [100 * row["accuracy_mean"] for row in rows]
    axes.bar(positions, means, color="tab:blue")
    errors = {position: 100 * row["accuracy_std"] for position, row in enumerate(rows) if _runs(row) > 1}
    if errors:
        x = list(errors)
        axes.errorbar(x, [means[p] for p in x], yerr=list(errors.values()), fmt="none", ecolor="black", capsize=4)
    for position, mean in enumerate(means):
        top = mean + errors.get(position, 0.0) + 1.5
        axes.text(position, top, f"{mean:.1f}", ha="center", va="bottom", fontsize="small")
    axes.set_xticks(positions, [row["label"] for row in rows], rotation=30, ha="right", fontsize="small")
    axes.set_xlabel("method")
    axes.set_ylabel("accuracy on the test questions (%)")
    axes.set_ylim(0, 110)
    axes.set_yticks(range(0, 101, 20))


def _tokens_panel(axes, rows: Sequence[Mapping]) -> None:
    """Bars of generated tokens per answer (mean over seeds) with their values."""
    positions = list(range(len(rows)))
    bars = axes.bar(positions, [row["tokens_mean"] for row in rows], color="tab:orange")
    axes.bar_label(bars, fmt="%.1f", fontsize="small", padding=2)
    axes.set_xticks(positions, [row["label"] for row in rows], rotation=30, ha="right", fontsize="small")
    axes.set_xlabel("method")
    axes.set_ylabel("generated tokens per answer")
    axes.margins(y=0.15)


def _stage_panel(axes, stage_curve: Sequence[Mapping]) -> None:
    """Accuracy (%) after each curriculum stage, with each point's value; ± std over seeds when there are several."""
    stages = [point["stage"] for point in stage_curve]
    means = [100 * point["accuracy_mean"] for point in stage_curve]
    several = all(len(point["accuracy_per_seed"]) > 1 for point in stage_curve)
    errors = [100 * point["accuracy_std"] for point in stage_curve] if several else None
    axes.errorbar(stages, means, yerr=errors, marker="o", capsize=4, color="tab:blue")
    for stage, mean, error in zip(stages, means, errors or [0.0] * len(means), strict=True):
        axes.text(stage, mean + error + 1.5, f"{mean:.1f}", ha="center", va="bottom", fontsize="small")
    axes.set_xticks(stages)
    axes.set_xlim(min(stages) - 0.5, max(stages) + 0.5)
    axes.set_xlabel("Coconut stage (steps replaced by thoughts)")
    axes.set_ylabel("accuracy after the stage (%)")
    axes.set_ylim(0, 110)
    axes.set_yticks(range(0, 101, 20))


def _reference_lines(axes, references: Mapping[str, float]) -> None:
    """A labelled horizontal line per reference accuracy (in [0, 1]), e.g. chance or the majority answer."""
    for (label, value), style in zip(references.items(), REFERENCE_STYLES, strict=False):
        axes.axhline(100 * value, color="gray", linestyle=style, linewidth=1, label=f"{label}: {100 * value:.1f}%")


def methods_figure(
    rows: Sequence[Mapping],
    title: str,
    stage_curve: Sequence[Mapping] | None = None,
    references: Mapping[str, float] | None = None,
):
    """
    A matplotlib `Figure`: accuracy (%) per method and generated tokens per answer; with `stage_curve`, a third panel
    with accuracy after each curriculum stage. A row is `{"label", "accuracy_mean", "accuracy_std",
    "accuracy_per_seed", "tokens_mean"}` (accuracies in [0, 1]); a stage point is `{"stage", "accuracy_mean",
    "accuracy_std", "accuracy_per_seed"}`. A row evaluated once (a frozen model, or a single seed) gets no error bar.
    `references` ({label: accuracy in [0, 1]}, at most 3): labelled lines on the accuracy panels, e.g.
    `{"chance (2 options)": 0.5}` or `{"majority answer": 0.12}`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not rows:
        raise ValueError("Nothing to plot: pass at least one method's row.")
    references = dict(references or {})
    if len(references) > len(REFERENCE_STYLES):
        raise ValueError(f"At most {len(REFERENCE_STYLES)} reference lines, got {list(references)}.")
    if any(not 0 <= value <= 1 for value in references.values()):
        raise ValueError(f"Reference accuracies are fractions in [0, 1], got {references}.")
    panels = 3 if stage_curve else 2
    figure = Figure(figsize=(4.2 * panels, 3.8), layout="constrained")
    FigureCanvasAgg(figure)
    accuracy_axes = [figure.add_subplot(1, panels, 1)]
    _accuracy_panel(accuracy_axes[0], rows)
    _tokens_panel(figure.add_subplot(1, panels, 2), rows)
    if stage_curve:
        accuracy_axes.append(figure.add_subplot(1, panels, 3))
        _stage_panel(accuracy_axes[-1], stage_curve)
    for axes in accuracy_axes:
        _reference_lines(axes, references)
        if references:  # above the panel, clear of the bars
            axes.legend(fontsize="x-small", loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    figure.suptitle(title, fontsize="medium")
    return figure


def plot_methods(
    rows: Sequence[Mapping],
    path: str | Path,
    title: str,
    stage_curve: Sequence[Mapping] | None = None,
    references: Mapping[str, float] | None = None,
) -> Path:
    """Saves `methods_figure(rows, title, stage_curve, references)` as a PNG at `path`; returns the path."""
    figure = methods_figure(rows, title, stage_curve, references)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


__all__ = ["methods_figure", "plot_methods"]
