"""`softcot-hf compare`'s results in words and pictures: the page's header (the footing every method shared), the
sweep's figure (accuracy and tokens per answer against the swept option, a line per method), and atomic writes of both.
The table, the comparisons in words and the methods' figure are the quickstart's (`softcot_hf.quickstart.tables`)."""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..evaluation.plots import REFERENCE_STYLES
from ..quickstart.tables import counted

SHIPPED = "softcot_hf/assets/quickstart"  # where the base models of every task's table live


def header(result: Mapping) -> str:
    """What the table stands on: the task, base model, data, seeds, budgets, and the command that made it."""
    setup = result["setup"]
    lines = [
        f"# {result['task']}: {len(result['methods'])} methods on one footing\n",
        f"Command: `{result['command']}`\n",
        f"- base model: the shipped `{SHIPPED}/{setup['backbone']}` (assistant, where a method takes one: "
        f"`{SHIPPED}/{setup['assistant']}`)",
        f"- data: the first {counted(setup['train_examples'], 'training question')} for every method and seed "
        f"(batch {setup['batch_size']}), the first {counted(setup['test_examples'], 'test question')}, greedy, "
        f"{setup['max_new_tokens']} new tokens at most; task options {dict(setup['data_options']) or 'none'}",
        f"- training seeds: {', '.join(map(str, result['seeds']))}; train time is Trainer's train_runtime (s)",
        "- budgets (training options per run): "
        + "; ".join(f"{key}: {options}" for key, options in result["budgets"].items()),
        "",
    ]
    return "\n".join(lines)


def save_figure(figure, path: Path) -> Path:
    """Save `figure` as a PNG at `path` through a temporary file: a reader sees the old figure or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    figure.savefig(partial, dpi=100)
    os.replace(partial, path)
    return path


def sweep_figure(curves: Mapping[str, Sequence[Mapping]], option: str, title: str, references: Mapping[str, float]):
    """A matplotlib `Figure`: accuracy (%) and generated tokens per answer against the values of `option`, a line per
    method. `curves[label]` is that method's rows in value order, each `{"value", "accuracy_mean", "accuracy_std",
    "accuracy_per_seed", "tokens_mean"}` (accuracies in [0, 1]); error bars (± std over seeds) only where a point
    pools several seeds; `references` ({label: accuracy in [0, 1]}) are labelled lines on the accuracy panel."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not curves:
        raise ValueError("Nothing to plot: pass at least one method's curve.")
    figure = Figure(figsize=(9.0, 3.8), layout="constrained")
    FigureCanvasAgg(figure)
    accuracy, tokens = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    values = sorted({point["value"] for curve in curves.values() for point in curve})
    positions = {value: index for index, value in enumerate(values)}  # even spacing for 1 2 4 8
    for label, curve in curves.items():
        x = [positions[point["value"]] for point in curve]
        means = [100 * point["accuracy_mean"] for point in curve]
        several = all(len(point["accuracy_per_seed"]) > 1 for point in curve)
        errors = [100 * point["accuracy_std"] for point in curve] if several else None
        accuracy.errorbar(x, means, yerr=errors, marker="o", capsize=4, label=label)
        tokens.plot(x, [point["tokens_mean"] for point in curve], marker="o", label=label)
    for (label, value), style in zip(references.items(), REFERENCE_STYLES, strict=False):
        accuracy.axhline(100 * value, color="gray", linestyle=style, linewidth=1, label=f"{label}: {100 * value:.1f}%")
    for axes in (accuracy, tokens):
        axes.set_xticks(range(len(values)), [str(value) for value in values])
        axes.set_xlabel(option)
    accuracy.set_ylabel("accuracy on the test questions (%)")
    accuracy.set_ylim(0, 105)
    tokens.set_ylabel("generated tokens per answer")
    tokens.margins(y=0.15)
    accuracy.legend(fontsize="x-small")
    figure.suptitle(title, fontsize="medium")
    return figure


__all__ = ["header", "save_figure", "sweep_figure"]
