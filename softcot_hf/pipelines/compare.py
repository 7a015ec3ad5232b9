"""`softcot-hf compare`: methods trained and evaluated on one task, one base model, the same data, over seeds.

Each method's run (its `Budget` on the task, `softcot_hf.compare_settings`, with `--sweep`'s value over it) is trained
once per seed into `OUTPUT_DIR/TASK/runs/RUN/seed-S/model` through `softcot_hf.pipelines.train`, and evaluated
greedily on the same test questions into `.../seed-S/eval`; a method evaluated as it is (zero_shot_cot) runs once on
the frozen backbone (`runs/METHOD/eval`). Both resume by run identity: a rerun trains and evaluates only what is not
finished, and a folder holding a run of other settings is refused (`--overwrite` redoes it). The seeds are pooled
(`softcot_hf.quickstart.pooling`), every method is tested against `--against` on the same questions (paired bootstrap
over questions, McNemar's exact test per seed), and `compare.md`, `compare.json` and `compare.png` (with `--sweep
OPTION ...`: `sweep-OPTION.*`) are written atomically in `OUTPUT_DIR/TASK/`.
"""

import json
import shlex
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..compare_arguments import CompareArguments
from ..compare_settings import TASKS, TaskSetup
from ..data import get_task
from ..evaluation import run_evaluation
from ..evaluation.plots import methods_figure
from ..methods import get_method
from ..quickstart.pooling import aggregate, compare, correct_per_question, majority_answer_rate
from ..quickstart.run import machine, set_cpu_threads
from ..quickstart.settings import shipped_models
from ..quickstart.tables import comparison_sentence, figure_title, results_markdown, results_table
from ..run_files import write_atomic
from .compare_report import header, save_figure, sweep_figure
from .training import train


@dataclass(frozen=True)
class Run:
    """One row of the table: `method` trained with `options` (None: evaluated frozen), named `key` (its folder and
    its name in the comparisons) and `label` (in the table); `value`: the swept option's value, if any."""

    key: str
    label: str
    method: str
    options: dict | None
    value: object = None


def planned_runs(args: CompareArguments) -> list[Run]:
    """The table's rows: each chosen method at its budget, or with `--sweep`, once per value of the option. A value
    equal to the budget's own keeps the method's plain name, so the sweep reuses the table's run."""
    budgets, sweep = TASKS[args.task].budgets, args.sweep_values()
    runs = []
    for name in args.chosen:
        budget = budgets[name]
        title = get_method(name).title
        if budget is None:
            runs.append(Run(name, title, name, None))
            continue
        options = budget.resolved(args.tiny)
        if sweep is None:
            runs.append(Run(name, title, name, options))
            continue
        option, values = sweep
        for value in values:
            key = name if options.get(option) == value else f"{name}-{option}={value}"
            runs.append(Run(key, f"{title}, {option}={value}", name, {**options, option: value}, value))
    return runs


def footing(run: Run, setup: TaskSetup, models: dict, args: CompareArguments, seed: int, output_dir: Path) -> dict:
    """The training options every run of the table shares (`softcot_hf.compare_settings.FOOTING`), for `run`'s
    method and `seed`, into `output_dir`."""
    options = {
        "method": run.method,
        "backbone": models["backbone"],
        "task": args.task,
        "limit": setup.train_examples,
        "seed": seed,
        "per_device_train_batch_size": setup.batch_size,
        "gradient_accumulation_steps": 1,
        "output_dir": str(output_dir),
        "save_total_limit": 1,
        "evaluate": False,  # evaluated below, on the table's questions
        "overwrite": args.overwrite,
    }
    if setup.data_options:
        options["data_options"] = dict(setup.data_options)
    if "assistant" in get_method(run.method).arguments.__dataclass_fields__:
        options["assistant"] = models["assistant"]
    return options


def _train(run: Run, setup: TaskSetup, models: dict, args: CompareArguments, seed: int, output_dir: Path) -> dict:
    """Train `run` for `seed` into `output_dir` (resumed or kept when finished); returns {"already_trained",
    "train_time_s" (Trainer's train_runtime)}."""
    options = footing(run, setup, models, args, seed, output_dir)
    print(f"== {args.task}: training {run.label} (seed {seed}) into {output_dir}")
    outcome = train(get_method(run.method).arguments(**options, **run.options))
    return {
        "already_trained": outcome["already_trained"],
        "train_time_s": (outcome.get("train_metrics") or {}).get("train_runtime"),
    }


def _evaluate(run: Run, model: str | None, evaluation: dict, output_dir: Path) -> dict:
    """Greedy evaluation of `run`'s artifact `model` (None: the frozen backbone) on the table's questions."""
    return run_evaluation(
        evaluation["task"],
        run.method,
        model,
        backbone=evaluation["backbone"] if model is None else None,
        dataset=evaluation["dataset"],
        batch_size=100,
        max_new_tokens=evaluation["max_new_tokens"],
        output_dir=output_dir,
        overwrite=evaluation["overwrite"],
        device="cpu",
    )


def _references(setup: TaskSetup, answers: list[str]) -> dict[str, float]:
    """The floor a model reaches without reading the question: guessing among the options, or the majority answer."""
    if setup.chance is not None:
        return {"chance": setup.chance}
    return {"majority answer": majority_answer_rate(answers)}


def _command(args: CompareArguments) -> str:
    """The command line that makes these results."""
    words = ["softcot-hf", "compare", "--task", args.task]
    if args.methods is not None:
        words += ["--methods", *args.methods]
    words += ["--seeds", *map(str, args.seeds)]
    if args.against != "cot":
        words += ["--against", args.against]
    if args.sweep is not None:
        words += ["--sweep", *map(str, args.sweep)]
    words += ["--output-dir", args.output_dir] + (["--tiny"] if args.tiny else [])
    return shlex.join(words)


def run_compare(args: CompareArguments) -> dict:
    """Train, evaluate, pool, test, plot and write as the module docstring says. Returns what `compare.json` (or
    `sweep-OPTION.json`) holds: {"task", "command", "seeds", "methods", "sweep", "setup", "budgets", "runs", "rows",
    "comparisons", "sentences", "references", "table", "plot", "total_time_s", "total_cpu_s", "machine"}."""
    started, started_cpu = time.perf_counter(), time.process_time()
    setup, seeds, sweep = args.setup, list(args.seeds), args.sweep_values()
    task_dir = Path(args.output_dir) / args.task
    runs = planned_runs(args)
    shipped = shipped_models()
    models = {name: str(shipped / getattr(setup, name)) for name in ("backbone", "assistant")}
    threads = set_cpu_threads()
    test = get_task(args.task).load("test", **setup.data_options).select(range(setup.test_examples))
    evaluation = {"task": args.task, "backbone": models["backbone"], "dataset": test}
    evaluation.update(max_new_tokens=setup.max_new_tokens, overwrite=args.overwrite)
    print(f"{args.task}: {len(runs)} runs x {len(seeds)} seeds, {setup.train_examples} training and "
          f"{setup.test_examples} test questions, {threads} CPU threads")  # fmt: skip

    rows, outcomes, records = [], {}, []
    for run in runs:
        summaries, outcomes[run.key], times = [], [], []
        if run.options is None:  # frozen and greedy: the same answers for every seed, evaluated once
            eval_dir = task_dir / "runs" / run.key / "eval"
            summaries.append(_evaluate(run, None, evaluation, eval_dir))
            outcomes[run.key].append(correct_per_question(eval_dir))
        for seed in seeds if run.options is not None else ():
            seed_dir = task_dir / "runs" / run.key / f"seed-{seed}"
            trained = _train(run, setup, models, args, seed, seed_dir / "model")
            records.append({"run": run.key, "seed": seed, **trained})
            times.append(trained["train_time_s"])
            summaries.append(_evaluate(run, str(seed_dir / "model"), evaluation, seed_dir / "eval"))
            outcomes[run.key].append(correct_per_question(seed_dir / "eval"))
        row = aggregate(run.label, run.key, summaries, None if run.options is None else times)
        rows.append({**row, "value": run.value})

    titles = {run.key: run.label for run in runs}
    others = [run.key for run in runs if run.key != args.against]
    comparisons = [compare(key, args.against, outcomes) for key in others] if args.against in outcomes else []
    name = "compare" if sweep is None else f"sweep-{sweep[0]}"
    result = {
        "task": args.task,
        "command": _command(args),
        "seeds": seeds,
        "methods": args.chosen,
        "sweep": None if sweep is None else {"option": sweep[0], "values": sweep[1]},
        "setup": {key: value for key, value in asdict(setup).items() if key not in ("budgets", "tiny")},
        "budgets": {run.key: run.options for run in runs if run.options is not None},
        "runs": records,
        "rows": rows,
        "comparisons": comparisons,
        "sentences": [comparison_sentence(comparison, titles) for comparison in comparisons],
        "references": _references(setup, test["answer"]),
        "table": results_table(rows),
        "plot": str(task_dir / f"{name}.png"),
    }
    if not comparisons:
        result["sentences"] = [f"No paired tests: --against {args.against} is not among the runs."]
    title = figure_title(args.task, len(seeds), len(test))
    if sweep is None:
        figure = methods_figure(rows, title, None, result["references"])
    else:
        curves: dict[str, list[dict]] = {}
        for run, row in zip(runs, rows, strict=True):
            if run.options is not None:
                curves.setdefault(get_method(run.method).title, []).append(row)
        figure = sweep_figure(curves, sweep[0], title, result["references"])
    save_figure(figure, Path(result["plot"]))
    result.update(total_time_s=time.perf_counter() - started, total_cpu_s=time.process_time() - started_cpu)
    result["machine"] = machine()
    markdown = header(result) + "\n" + results_markdown({args.task: result}, seeds)
    write_atomic(task_dir / f"{name}.md", markdown)
    write_atomic(task_dir / f"{name}.json", json.dumps(result, indent=2, default=str) + "\n")
    print(f"\n{markdown}\ndone in {result['total_time_s']:.0f} s; results in {task_dir / name}.md")
    return result


__all__ = ["Run", "footing", "planned_runs", "run_compare"]
