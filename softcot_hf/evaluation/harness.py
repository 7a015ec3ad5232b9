"""`run_evaluation`: one method on one task over several seeds, with predictions and a summary written to disk."""

import datetime
import json
import statistics
import time
from pathlib import Path
from typing import Any

import datasets
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, set_seed

from .. import __version__
from ..data import Task, get_task, list_tasks
from .generation import sampling_settings
from .methods import load_method
from .metrics import load_metric
from .voting import majority_vote


def _dataset(task: Task, dataset, data_dir, split: str, limit: int | None) -> datasets.Dataset:
    if dataset is None:
        dataset = task.load(split, data_dir=data_dir)
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
    method: str,
) -> list[dict]:
    """The predictions.jsonl rows of one seed: `num_samples` paths per question, their answers and the vote."""
    rows = []
    progress = tqdm(range(0, len(questions), batch_size), desc=f"{task.name} {method} seed {seed}", unit="batch")
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
    method: str,
    model: PreTrainedModel | str | Path | None = None,
    *,
    tokenizer: Any = None,
    backbone: str | Path | None = None,
    assistant: str | Path | None = None,
    dataset: datasets.Dataset | None = None,
    data_dir: str | Path | None = None,
    split: str = "test",
    limit: int | None = None,
    num_samples: int = 1,
    seeds: tuple[int, ...] | list[int] = (41,),
    batch_size: int = 16,
    max_new_tokens: int = 256,
    output_dir: str | Path | None = None,
    do_sample: bool | None = None,
    temperature: float = 0.7,
    top_p: float = 0.95,
    num_hint_tokens: int = 32,
    dtype: str | torch.dtype | None = None,
    device: str | None = None,
) -> dict:
    """
    Evaluates `method` (see `softcot_hf.evaluation.METHODS`) on `task` and returns the summary.

    For each seed (`transformers.set_seed`, so a seed reproduces its predictions) the questions are generated in
    left-padded batches of `batch_size`; `num_samples` > 1 samples that many paths per question (`temperature`,
    `top_p`) and takes the majority vote of their extracted answers (`majority_vote`); one path is greedy unless
    `do_sample`. assist_cot's assistant writes `num_hint_tokens` hint tokens. `dtype` goes to `from_pretrained`.

    With `output_dir`, writes `predictions.jsonl` (one row per seed and example: seed, index, question, generated,
    extracted, prediction, gold, correct, generated_tokens) and `summary.json` (the returned dict: accuracy as the
    mean over seeds in [0, 1], accuracy_std (population std over seeds), accuracy_per_seed, mean_generated_tokens
    per generated path, wall_time_s, settings, ...).
    """
    task = get_task(task) if isinstance(task, str) else task
    seeds = [int(seed) for seed in seeds]
    if not seeds:
        raise ValueError("Pass at least one seed.")
    generation = {**sampling_settings(num_samples, do_sample, temperature, top_p), "max_new_tokens": max_new_tokens}
    dataset_given = dataset is not None
    dataset = _dataset(task, dataset, data_dir, split, limit)
    questions, golds = list(dataset["question"]), [str(answer) for answer in dataset["answer"]]
    load_kwargs = {} if dtype is None else {"dtype": dtype}
    runner = load_method(
        method,
        task,
        model,
        tokenizer,
        backbone,
        assistant,
        num_hint_tokens=num_hint_tokens,
        device=device,
        **load_kwargs,
    )

    registered = task.name in list_tasks() and get_task(task.name) is task
    accuracy_metric = load_metric("answer_accuracy", task.name) if registered else None
    started = time.perf_counter()
    rows, accuracies = [], []
    for seed in seeds:
        set_seed(seed)
        seed_rows = _predict(runner, task, questions, golds, seed, batch_size, num_samples, generation, method)
        predictions, correct = [row["prediction"] for row in seed_rows], [row["correct"] for row in seed_rows]
        accuracies.append(_accuracy(accuracy_metric, predictions, golds, correct))
        rows.extend(seed_rows)
    wall_time = time.perf_counter() - started

    summary = {
        "task": task.name,
        "method": method,
        "model": _model_name(model, backbone),
        "split": split,
        "num_examples": len(questions),
        "num_samples": num_samples,
        "seeds": seeds,
        "accuracy": statistics.fmean(accuracies),
        "accuracy_std": statistics.pstdev(accuracies),
        "accuracy_per_seed": accuracies,
        "mean_generated_tokens": load_metric("mean_generated_tokens").compute(
            predictions=[count for row in rows for count in row["generated_tokens"]]
        )["mean_generated_tokens"],
        "wall_time_s": wall_time,
        "settings": {
            "backbone": None if backbone is None else str(backbone),
            "assistant": None if assistant is None else str(assistant),
            "data_dir": None if data_dir is None else str(data_dir),
            "dataset_given": dataset_given,
            "limit": limit,
            "batch_size": batch_size,
            "max_new_tokens": max_new_tokens,
            "do_sample": generation["do_sample"],
            "temperature": temperature if generation["do_sample"] else None,
            "top_p": top_p if generation["do_sample"] else None,
            "num_hint_tokens": num_hint_tokens if method == "assist_cot" else None,
            "dtype": None if dtype is None else str(dtype),
        },
        "softcot_hf_version": __version__,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    if output_dir is not None:
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        with open(output_dir / "predictions.jsonl", "w") as file:
            for row in rows:
                file.write(json.dumps(row) + "\n")
        (output_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
