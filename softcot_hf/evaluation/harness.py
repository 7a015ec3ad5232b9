"""`run_evaluation`: one method on one task over several seeds, with predictions and a summary written to disk."""

import datetime
import json
import statistics
import time
from pathlib import Path
from typing import Any

import datasets
from tqdm.auto import tqdm
from transformers import PreTrainedModel, set_seed

from .. import __version__
from ..data import Task, get_task, list_tasks
from ..generation import sampling_settings
from ..methods import Method, get_method
from .arguments import EvaluationArguments
from .metrics import load_metric
from .voting import majority_vote


def _dataset(task: Task, dataset, data_dir, split: str, limit: int | None, options: dict) -> datasets.Dataset:
    if dataset is None:
        dataset = task.load(split, data_dir=data_dir, **options)
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    if len(dataset) == 0:
        raise ValueError(f"No examples to evaluate for {task.name} ({split}); check data_dir, split and limit.")
    return dataset


def _accuracy(metric, predictions: list[str | None], golds: list[str], correct: list[bool]) -> float:
    """Answer accuracy through the shipped `evaluate` module; the scored mean for a task outside the registry."""
    if metric is None:
        return sum(correct) / len(correct)
    return metric.compute(predictions=[p or "" for p in predictions], references=golds)["accuracy"]


def _model_name(model: Any, backbone) -> str | None:
    if model is None:
        return None if backbone is None else str(backbone)
    if isinstance(model, str | Path):
        return str(model)
    return getattr(model, "name_or_path", None) or type(model).__name__


def _predict(
    runner,
    task: Task,
    questions: list[str],
    golds: list[str],
    seed: int,
    batch_size: int,
    num_samples: int,
    generation: dict,
    method: Method,
) -> list[dict]:
    """The predictions.jsonl rows of one seed: `num_samples` paths per question, their answers and the vote."""
    rows = []
    progress = tqdm(range(0, len(questions), batch_size), desc=f"{task.name} {method.name} seed {seed}", unit="batch")
    for start in progress:
        batch = questions[start : start + batch_size]
        texts, counts = runner.generate(batch, **generation)
        for offset, question in enumerate(batch):
            index, paths = start + offset, slice(offset * num_samples, (offset + 1) * num_samples)
            extracted = [task.extract_answer(text) for text in texts[paths]]
            prediction = majority_vote(extracted)
            rows.append(
                {
                    "seed": seed,
                    "index": index,
                    "question": question,
                    "generated": texts[paths],
                    "extracted": extracted,
                    "prediction": prediction,
                    "gold": golds[index],
                    "correct": prediction is not None and task.score(prediction, golds[index]),
                    "generated_tokens": counts[paths],
                }
            )
    return rows


def run_evaluation(
    task: str | Task,
    method: str | Method,
    model: PreTrainedModel | str | Path | None = None,
    *,
    tokenizer: Any = None,
    dataset: datasets.Dataset | None = None,
    device: str | None = None,
    **settings,
) -> dict:
    """
    Evaluates `method` (a name of `softcot_hf.methods.METHODS` or a `Method`) on `task` and returns the summary.
    `model` is the method's artifact (a folder or Hub id) or a loaded model with its `tokenizer` (a `SoftCoTProcessor`
    for softcot/cot_unk); `dataset` replaces the task's split; `settings` are the other `EvaluationArguments`.

    For each seed (`transformers.set_seed`, so a seed reproduces its predictions) the questions are generated in
    left-padded batches of `batch_size`; `num_samples` > 1 samples that many paths per question (`temperature`,
    `top_p`) and takes the majority vote of their extracted answers (`majority_vote`); one path is greedy unless
    `do_sample`. assist_cot's assistant writes `num_hint_tokens` hint tokens. `dtype` goes to `from_pretrained`.

    With `output_dir`, writes `predictions.jsonl` (one row per seed and example: seed, index, question, generated,
    extracted, prediction, gold, correct, generated_tokens) and `summary.json` (the returned dict: accuracy as the
    mean over seeds in [0, 1], accuracy_std (population std over seeds), accuracy_per_seed, mean_generated_tokens
    per generated path, wall_time_s, settings, ...).
    """
    args = EvaluationArguments(task=task, method=method, model=model, **settings)
    return evaluate(args, tokenizer=tokenizer, dataset=dataset, device=device)


def evaluate(
    args: EvaluationArguments,
    tokenizer: Any = None,
    dataset: datasets.Dataset | None = None,
    device: str | None = None,
) -> dict:
    """`run_evaluation` from its arguments (what `softcot-hf eval` parses)."""
    task = get_task(args.task) if isinstance(args.task, str) else args.task
    method = get_method(args.method)
    generation = {
        **sampling_settings(args.num_samples, args.do_sample, args.temperature, args.top_p, args.top_k),
        "max_new_tokens": args.max_new_tokens,
    }
    dataset_given = dataset is not None
    dataset = _dataset(task, dataset, args.data_dir, args.split, args.limit, args.data_options or {})
    questions, golds = list(dataset["question"]), [str(answer) for answer in dataset["answer"]]
    load_kwargs = {} if args.dtype is None else {"dtype": args.dtype}
    if args.num_thought_tokens is not None:
        load_kwargs["num_thought_tokens"] = args.num_thought_tokens
    runner = method.load_runner(
        task,
        args.model,
        tokenizer,
        backbone=args.backbone,
        assistant=args.assistant,
        num_hint_tokens=args.num_hint_tokens,
        device=device,
        **load_kwargs,
    )

    registered = task.name in list_tasks() and get_task(task.name) is task
    accuracy_metric = load_metric("answer_accuracy", task.name) if registered else None
    started = time.perf_counter()
    rows, accuracies = [], []
    for seed in args.seeds:
        set_seed(seed)
        seed_rows = _predict(
            runner, task, questions, golds, seed, args.batch_size, args.num_samples, generation, method
        )
        predictions, correct = [row["prediction"] for row in seed_rows], [row["correct"] for row in seed_rows]
        accuracies.append(_accuracy(accuracy_metric, predictions, golds, correct))
        rows.extend(seed_rows)
    wall_time = time.perf_counter() - started

    summary = {
        "task": task.name,
        "method": method.name,
        "model": _model_name(args.model, args.backbone),
        "split": args.split,
        "num_examples": len(questions),
        "num_samples": args.num_samples,
        "seeds": args.seeds,
        "accuracy": statistics.fmean(accuracies),
        "accuracy_std": statistics.pstdev(accuracies),
        "accuracy_per_seed": accuracies,
        "mean_generated_tokens": load_metric("mean_generated_tokens").compute(
            predictions=[count for row in rows for count in row["generated_tokens"]]
        )["mean_generated_tokens"],
        "wall_time_s": wall_time,
        "settings": {
            "backbone": None if args.backbone is None else str(args.backbone),
            "assistant": None if args.assistant is None else str(args.assistant),
            "data_dir": None if args.data_dir is None else str(args.data_dir),
            "data_options": args.data_options,
            "dataset_given": dataset_given,
            "limit": args.limit,
            "batch_size": args.batch_size,
            "max_new_tokens": args.max_new_tokens,
            "do_sample": generation["do_sample"],
            "temperature": args.temperature if generation["do_sample"] else None,
            "top_p": args.top_p if generation["do_sample"] else None,
            "top_k": args.top_k if generation["do_sample"] else None,
            "num_hint_tokens": getattr(runner, "num_hint_tokens", None),
            "num_thought_tokens": getattr(getattr(runner, "processor", None), "num_thought_tokens", None),
            "dtype": None if args.dtype is None else str(args.dtype),
        },
        "softcot_hf_version": __version__,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    if args.output_dir is not None:
        output_dir = Path(args.output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        with open(output_dir / "predictions.jsonl", "w") as file:
            for row in rows:
                file.write(json.dumps(row) + "\n")
        (output_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
