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


# What every evaluation summary holds (what the tables and the model card read).
SUMMARY_FIELDS = ("task", "method", "num_samples", "accuracy", "accuracy_std", "mean_generated_tokens")


def read_summary(path: Path) -> dict:
    """One `summary.json` of the evaluation harness; anything else is a `ValueError` naming the file."""
    fix = "pass the summary.json files `softcot-hf eval` writes, or folders that hold them"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a JSON evaluation summary ({error}): {fix}.") from None
    missing = [key for key in SUMMARY_FIELDS if key not in summary] if isinstance(summary, dict) else ["a mapping"]
    if missing:
        raise ValueError(f"{path} is not an evaluation summary (it has no {', '.join(missing)}): {fix}.")
    return summary


def load_summaries(paths: list[str | Path]) -> list[dict]:
    """The summaries in `paths`: `summary.json` files, or folders searched recursively for them (sorted)."""
    summaries = []
    for path in map(Path, paths):
        files = sorted(path.rglob("summary.json")) if path.is_dir() else [path]
        if not files or not files[0].is_file():
            raise FileNotFoundError(f"No summary.json at {path}: pass summary files or folders that contain them.")
        summaries.extend(read_summary(file) for file in files)
    return summaries


# The settings that make two evaluations of the same model different rows (besides the method, the model, the task
# and the number of sampled paths); the rest of `summary["settings"]` (batch size, where the data came from) does not.
ROW_SETTINGS = ("do_sample", "temperature", "top_p", "max_new_tokens", "num_hint_tokens", "dtype", "limit")


def _row_key(summary: dict) -> tuple:
    """What was evaluated, task aside: method, number of paths, model id or path (as given), split and settings."""
    settings = summary.get("settings") or {}
    chosen = tuple((name, settings.get(name)) for name in ROW_SETTINGS)
    return summary["method"], summary["num_samples"], summary.get("model") or "", summary.get("split"), chosen


def _label(key: tuple, keys: list[tuple]) -> str:
    """A row's label: the method's title (+ SC), then the model and the settings that tell it from the rows of the
    same method, only when there are several."""
    method, num_samples, model, split, settings = key
    text = METHODS[method].title if method in METHODS else method
    if num_samples > 1:
        text += f" + SC ({num_samples})"
    siblings = [other for other in keys if other[:2] == key[:2]]
    if len({other[2] for other in siblings}) > 1:
        text += f" [{model}]"
    if len({other[3] for other in siblings}) > 1:
        text += f" ({split})"
    differing = [i for i in range(len(settings)) if len({other[4][i] for other in siblings}) > 1]
    if differing:
        text += " (" + ", ".join(f"{settings[i][0]}={settings[i][1]}" for i in differing) + ")"
    return text


def _rows(summaries: list[dict]) -> tuple[list[str], list[str], dict[tuple[str, str], dict]]:
    """(row labels, task names, {(row label, task): summary}), rows in the paper's method order; one row per
    evaluated thing (`_row_key`), so runs whose folders share a name never merge."""
    methods = list(METHODS)
    keys = sorted(
        {_row_key(s) for s in summaries},
        key=lambda key: (methods.index(key[0]) if key[0] in methods else len(methods), key[0], key[1], repr(key[2:])),
    )
    labels = {key: _label(key, keys) for key in keys}
    order = list_tasks()
    tasks = sorted({s["task"] for s in summaries}, key=lambda t: (order.index(t) if t in order else len(order), t))
    cells = {}
    for summary in summaries:
        row = labels[_row_key(summary)]
        if (row, summary["task"]) in cells:
            raise ValueError(
                f"Two summaries for {row!r} on {summary['task']} with the same model and settings: pass one result "
                "per method, model, task and settings."
            )
        cells[(row, summary["task"])] = summary
    return [labels[key] for key in keys], tasks, cells


def _accuracy_cell(summary: dict) -> str:
    """ "mean ± std" in % over several seeds; the single number for one run (a greedy run is one run)."""
    value = f"{100 * summary['accuracy']:.2f}"
    if len(summary.get("accuracy_per_seed") or summary.get("seeds") or ()) > 1:
        value += f" ± {100 * summary['accuracy_std']:.2f}"
    return value


def summarize_table(summaries: list[dict], show_tokens: bool = False) -> str:
    """
    A markdown table, rows (what was evaluated) x tasks, each cell "accuracy % mean ± std over seeds" (the mean alone
    for a single run) and "/ N tok", the mean generated tokens per path, with `show_tokens`; "-" where a row was not
    run on a task.
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
            value = _accuracy_cell(summary)
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
