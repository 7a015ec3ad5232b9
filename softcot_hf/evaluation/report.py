"""Results tables and charts from `summary.json` files, shaped like the SoftCoT paper's table (methods x tasks)."""

import json
from pathlib import Path

from ..data import list_tasks
from ..methods import METHODS

TASK_LABELS = {
    "gsm8k": "GSM8K",
    "asdiv_aug": "ASDiv-Aug",
    "aqua": "AQuA",
    "strategyqa": "StrategyQA",
    "date_understanding": "DU",
    "gsm8k_aug": "GSM8k-Aug",
    "prontoqa": "ProntoQA",
    "prosqa": "ProsQA",
}


def load_summaries(paths: list[str | Path]) -> list[dict]:
    """The summaries in `paths`: `summary.json` files, or folders searched recursively for them (sorted)."""
    summaries = []
    for path in map(Path, paths):
        files = sorted(path.rglob("summary.json")) if path.is_dir() else [path]
        if not files or not files[0].is_file():
            raise FileNotFoundError(f"No summary.json at {path}: pass summary files or folders that contain them.")
        summaries.extend(json.loads(file.read_text()) for file in files)
    return summaries


def _rows(summaries: list[dict]) -> tuple[list[str], list[str], dict[tuple[str, str], dict]]:
    """(row labels, task names, {(row label, task): summary}), rows in the paper's method order."""
    methods = list(METHODS)
    keys = sorted(
        {(s["method"], s["num_samples"], s.get("model") or "") for s in summaries},
        key=lambda key: (methods.index(key[0]) if key[0] in methods else len(methods), key[0], key[1], key[2]),
    )
    models_per_method = {}
    for method, num_samples, model in keys:
        models_per_method.setdefault((method, num_samples), set()).add(model)

    def label(method: str, num_samples: int, model: str) -> str:
        text = METHODS[method].title if method in METHODS else method
        if num_samples > 1:
            text += f" + SC ({num_samples})"
        if len(models_per_method[(method, num_samples)]) > 1:
            text += f" [{Path(model).name or model}]"
        return text

    labels = [label(*key) for key in keys]
    order = list_tasks()
    tasks = sorted({s["task"] for s in summaries}, key=lambda t: (order.index(t) if t in order else len(order), t))
    cells = {}
    for summary in summaries:
        row = label(summary["method"], summary["num_samples"], summary.get("model") or "")
        if (row, summary["task"]) in cells:
            raise ValueError(
                f"Two summaries for {row!r} on {summary['task']}: pass one result per method, model and task."
            )
        cells[(row, summary["task"])] = summary
    return labels, tasks, cells


def summarize_table(summaries: list[dict], show_tokens: bool = False) -> str:
    """
    A markdown table, methods x tasks, each cell "accuracy % mean ± std over seeds" (and "/ N tok", the mean
    generated tokens per path, with `show_tokens`); "-" where a method was not run on a task.
    """
    labels, tasks, cells = _rows(summaries)
    lines = [
        "| method | " + " | ".join(TASK_LABELS.get(task, task) for task in tasks) + " |",
        "|---|" + "---|" * len(tasks),
    ]
    for row in labels:
        values = []
        for task in tasks:
            summary = cells.get((row, task))
            if summary is None:
                values.append("-")
                continue
            value = f"{100 * summary['accuracy']:.2f} ± {100 * summary['accuracy_std']:.2f}"
            if show_tokens:
                value += f" / {summary['mean_generated_tokens']:.1f} tok"
            values.append(value)
        lines.append(f"| {row} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def plot_summaries(summaries: list[dict], path: str | Path) -> Path:
    """A grouped bar chart (tasks on the x axis, one bar per method, std over seeds as error bars) saved as `path`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels, tasks, cells = _rows(summaries)
    figure = Figure(figsize=(max(6.0, 1.6 * len(tasks) + 0.25 * len(labels)), 4.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.8 / len(labels)
    for number, row in enumerate(labels):
        present = [i for i, task in enumerate(tasks) if (row, task) in cells]
        axes.bar(
            [i - 0.4 + width * (number + 0.5) for i in present],
            [100 * cells[(row, tasks[i])]["accuracy"] for i in present],
            width,
            yerr=[100 * cells[(row, tasks[i])]["accuracy_std"] for i in present],
            capsize=2,
            label=row,
        )
    axes.set_xticks(range(len(tasks)), [TASK_LABELS.get(task, task) for task in tasks])
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(0, 100)
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    return path


def write_report(summaries: list[dict], output_dir: str | Path) -> tuple[Path, Path]:
    """Writes `results.md` (the table, with generated tokens) and `results.png` (the chart) into `output_dir`."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    table = output_dir / "results.md"
    table.write_text(summarize_table(summaries, show_tokens=True))
    return table, plot_summaries(summaries, output_dir / "results.png")
