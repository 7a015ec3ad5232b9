"""`run_evaluation`: one method on one task over several seeds, with predictions and a summary written to disk.

An evaluation with an `output_dir` can be interrupted and rerun: predictions.jsonl grows by one flushed write per
batch, eval_run.json records what the rows were made with (the run's identity: every setting, the package version,
fingerprints of the questions and of local model folders), and summary.json (written atomically, like eval_run.json)
appears only once every row is there. A rerun with the same settings keeps the whole batches already written and
generates the rest, or returns the finished evaluation as it was saved. A folder holding an evaluation of other
settings is refused (`DifferentRunError` names what differs) unless `overwrite`, which replaces its files; so is one
made from a model passed in memory, which cannot be told from another.

With `length_buckets` (the default) each seed generates its questions longest first, so a batch holds questions of
similar length and pads less; predictions.jsonl grows in that order while the run goes and is rewritten in question
order at the end. A path's sampling seed does not depend on its batch (`path_seed`), so the rows are those of a run
in question order.
"""

import contextlib
import datetime
import hashlib
import json
import os
import random
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import datasets
import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, set_seed
from transformers.utils import logging

from .. import __version__
from ..data import Task, get_task, list_tasks
from ..generation import per_row_sampling, resolve_sampling, sampling_settings
from ..methods import Method, get_method
from ..methods.base import Runner
from ..run_files import DifferentRunError, evaluation_identity, write_atomic
from .arguments import EvaluationArguments
from .metrics import load_metric
from .voting import VOTE_RULES

logger = logging.get_logger(f"transformers.{__name__}")

PREDICTIONS = "predictions.jsonl"
SUMMARY = "summary.json"
RUN_FILE = "eval_run.json"


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


def path_seed(seed: int, index: int, sample: int) -> int:
    """The seed of sampled path `sample` of question `index` in the run of `seed`: a path depends on nothing else
    (not the batch size or order, not where a run was interrupted and rerun)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{index}:{sample}".encode()).digest()[:4], "big")


def generation_order(questions: list[str], length_buckets: bool) -> list[int]:
    """Question indices in the order they are generated: longest first with `length_buckets` (the length in
    characters, a tokenizer-free stand-in for the prompt's tokens; ties keep their order), else as given."""
    if not length_buckets:
        return list(range(len(questions)))
    return sorted(range(len(questions)), key=lambda index: (-len(questions[index]), index))


@contextlib.contextmanager
def _caller_random_state_kept() -> Iterator[None]:
    """Restore Python's, NumPy's and torch's (CPU and CUDA) random states when the block ends."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def _predict(
    runner: Runner,
    num_sets: int,
    task: Task,
    questions: list[str],
    golds: list[str],
    seed: int,
    order: list[int],
    generation: dict,
    method: Method,
    args: EvaluationArguments,
) -> Iterator[list[dict]]:
    """The predictions.jsonl rows of one seed for the questions `order` (indices), `args.batch_size` at a time:
    `num_samples` paths per question (per thought set, for a SoftCoT++ runner with M sets: M x num_samples paths
    ordered set, sample), their answers and the vote. `runner` may be the vLLM stand-in for a transformers runner of
    `num_sets` thought sets."""
    num_samples, batch_size = args.num_samples, args.batch_size
    per_question = num_sets * num_samples
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc=f"{task.name} {method.name} seed {seed}", unit="batch"):
        indices = order[start : start + batch_size]
        batch = [questions[index] for index in indices]
        if args.seeding == "official":  # each question's paths from one stream seeded with the run's seed
            sampling = per_row_sampling(generation, [seed] * len(indices), per_question)
        else:
            sampling = per_row_sampling(
                generation, [path_seed(seed, index, path) for index in indices for path in range(per_question)]
            )
        set_seed(seed)
        texts, counts = runner.generate(batch, **sampling)
        if len(texts) != len(batch) * per_question:
            raise ValueError(
                f"{method.name} generated {len(texts)} paths for {len(batch)} questions, expected {per_question} "
                "each: evaluate a model with several thought sets (num_thought_sets in config.json) as softcotpp."
            )
        rows = []
        for offset, (index, question) in enumerate(zip(indices, batch, strict=True)):
            paths = slice(offset * per_question, (offset + 1) * per_question)
            extracted = [task.extract_answer(text, args.scoring) for text in texts[paths]]
            prediction = VOTE_RULES[args.vote](extracted)
            rows.append(
                {
                    "seed": seed,
                    "index": index,
                    "question": question,
                    "generated": texts[paths],
                    "extracted": extracted,
                    "prediction": prediction,
                    "gold": golds[index],
                    "correct": prediction is not None and task.score(prediction, golds[index], args.scoring),
                    "generated_tokens": counts[paths],
                }
            )
            if num_sets > 1:  # which thought set wrote each path
                rows[-1]["thought_sets"] = [path // num_samples for path in range(per_question)]
        yield rows


def _completed_rows(path: Path, seeds: list[int], order: list[int], batch_size: int) -> list[dict]:
    """The rows of `path` (read up to the first line cut short, foreign or repeated) that make up this run's first
    whole batches: seed by seed, `batch_size` questions at a time in the generation `order`. The file may hold them
    in any order: as a run writes them, or in question order once it finished. A whole line that is not text is a
    `ValueError` naming the file and the line (a crash cuts the last line short; it never writes bytes that are not
    text)."""
    expected = {(seed, index) for seed in seeds for index in order}
    found = {}
    with open(path, "rb") as file:
        for number, raw in enumerate(file, start=1):
            try:
                line = raw.decode("utf-8")
                row = json.loads(line) if line.endswith("\n") else None
            except UnicodeDecodeError:
                if not raw.endswith(b"\n"):
                    break
                raise ValueError(
                    f"{path}, line {number} is not text: the file is damaged. Delete it (or pass another "
                    "--output-dir) to start this evaluation over."
                ) from None
            except ValueError:
                break
            key = (row.get("seed"), row.get("index")) if isinstance(row, dict) else None
            if key not in expected or key in found:
                break
            found[key] = row
    rows = []
    for seed in seeds:
        for start in range(0, len(order), batch_size):
            batch = [found.get((seed, index)) for index in order[start : start + batch_size]]
            if None in batch:
                return rows
            rows.extend(batch)
    return rows


def _resume(output_dir: Path, identity: dict, order: list[int], batch_size: int, overwrite: bool) -> dict | list:
    """The finished evaluation in `output_dir` if it has this `identity` (its summary, as saved); else make the folder
    hold this run's files (summary.json removed until the end) and return the rows a previous run with the same
    identity completed. Raises `DifferentRunError` when the folder holds an evaluation of another identity (or of a
    model passed in memory), unless `overwrite`: its files are then replaced."""
    predictions, run_file, summary = output_dir / PREDICTIONS, output_dir / RUN_FILE, output_dir / SUMMARY
    saved = None
    if predictions.is_file() or run_file.is_file():
        try:
            saved = json.loads(run_file.read_text())
        except (OSError, ValueError):
            saved = {}
    ours = saved == identity and not identity.get("model_in_memory")
    if saved is not None and not ours and not overwrite:
        in_memory = "model_in_memory: a model passed in memory cannot be told from another"
        reason = in_memory if saved == identity else None
        raise DifferentRunError(output_dir, "an evaluation", saved, identity, "evaluate", reason)
    if ours and summary.is_file() and predictions.is_file():
        return json.loads(summary.read_text())
    output_dir.mkdir(parents=True, exist_ok=True)
    summary.unlink(missing_ok=True)
    rows = _completed_rows(predictions, identity["seeds"], order, batch_size) if ours else []
    # The rows first, then what they were made with: a crash in between leaves rows no rerun takes for its own.
    write_atomic(predictions, "".join(json.dumps(row) + "\n" for row in rows))
    write_atomic(run_file, json.dumps(identity, indent=2) + "\n")
    return rows


def _append(sink: TextIO | None, rows: list[dict]) -> None:
    """One batch's rows at the end of predictions.jsonl, on disk before the next batch starts."""
    if sink is not None:
        sink.write("".join(json.dumps(row) + "\n" for row in rows))
        sink.flush()
        os.fsync(sink.fileno())


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

    For each seed the questions are generated in left-padded batches of `batch_size`; a sampled path draws from its
    own generator seeded by `path_seed(seed, question index, path)` (`PerRowSampler`), so a seed reproduces its
    predictions whatever the batch size or order, also across an interruption. `num_samples` > 1 samples that many
    paths per question (`temperature`, `top_p`, `top_k`) and takes the majority vote of their extracted answers
    (`majority_vote`); one path is greedy unless `do_sample`. assist_cot's assistant writes `num_hint_tokens` hint
    tokens. `dtype` goes to `from_pretrained`.

    With `output_dir`, writes `predictions.jsonl` (one row per seed and example: seed, index, question, generated,
    extracted, prediction, gold, correct, generated_tokens), a batch at a time, and at the end `summary.json` (the
    returned dict: accuracy as the mean over seeds in [0, 1], accuracy_std (population std over seeds),
    accuracy_per_seed, mean_generated_tokens per generated path, wall_time_s, settings, ...). Reruns resume (the files
    end the same but for wall_time_s and date) or return the finished summary; see the module docstring.
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
        **sampling_settings(
            args.num_samples, args.do_sample, args.temperature, args.top_p, args.top_k, args.repetition_penalty
        ),
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

    generation = resolve_sampling(generation, runner.generation_config)
    settings = {
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
        "top_k": generation["top_k"] if generation["do_sample"] else None,
        **runner.settings(),
        "dtype": None if args.dtype is None else str(args.dtype),
    }
    # New settings join the identity only when they change something, so earlier runs still resume.
    if generation["repetition_penalty"] != 1.0:
        settings["repetition_penalty"] = generation["repetition_penalty"]
    settings.update({name: getattr(args, name) for name in ("scoring", "vote") if getattr(args, name) != "ours"})
    if args.seeding != "per_path":
        settings["seeding"] = args.seeding
    num_sets = runner.num_thought_sets
    if args.backend == "vllm":  # an evaluation through transformers keeps the identity it always had
        from ..serving import vllm_runner

        settings.update(backend=args.backend, vllm_engine_args=args.vllm_engine_args)
        runner = vllm_runner(runner, args)
    # Greedy decoding does not depend on the seed: decode once, under the first seed.
    seeds = args.seeds if generation["do_sample"] else args.seeds[:1]
    described = {
        "task": task.name,
        "method": method.name,
        "model": _model_name(args.model, args.backbone),
        "split": args.split,
        "num_examples": len(questions),
        "num_samples": args.num_samples,
        "seeds": seeds,
    }
    output_dir = None if args.output_dir is None else Path(args.output_dir)
    order = generation_order(questions, args.length_buckets)
    rows = []
    if output_dir is not None:
        identity = evaluation_identity(args, {**described, **settings}, questions, golds)
        rows = _resume(output_dir, identity, order, args.batch_size, args.overwrite)
        if isinstance(rows, dict):  # finished with these settings: as saved
            return rows

    started = time.perf_counter()
    predictions = open(output_dir / PREDICTIONS, "a") if output_dir else contextlib.nullcontext()
    # Evaluation reseeds the random generators; the caller's streams (a training run that evaluates between epochs)
    # go on afterwards as if it had not run.
    with _caller_random_state_kept(), predictions as sink:
        for seed in seeds:
            remaining = order[sum(row["seed"] == seed for row in rows) :]
            for batch_rows in _predict(
                runner, num_sets, task, questions, golds, seed, remaining, generation, method, args
            ):
                _append(sink, batch_rows)
                rows.extend(batch_rows)
    wall_time = time.perf_counter() - started
    rows.sort(key=lambda row: (seeds.index(row["seed"]), row["index"]))
    if output_dir is not None and order != sorted(order):
        write_atomic(output_dir / PREDICTIONS, "".join(json.dumps(row) + "\n" for row in rows))

    registered = task.name in list_tasks() and get_task(task.name) is task
    accuracy_metric = load_metric("answer_accuracy", task.name) if registered else None
    accuracies = []
    for seed in seeds:
        seed_rows = [row for row in rows if row["seed"] == seed]
        predictions, correct = [row["prediction"] for row in seed_rows], [row["correct"] for row in seed_rows]
        accuracies.append(_accuracy(accuracy_metric, predictions, golds, correct))
    summary = {
        **described,
        "accuracy": statistics.fmean(accuracies),
        "accuracy_std": statistics.pstdev(accuracies),
        "accuracy_per_seed": accuracies,
        "mean_generated_tokens": load_metric("mean_generated_tokens").compute(
            predictions=[count for row in rows for count in row["generated_tokens"]]
        )["mean_generated_tokens"],
        "wall_time_s": wall_time,
        "settings": settings,
        "softcot_hf_version": __version__,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    if output_dir is not None:
        write_atomic(output_dir / SUMMARY, json.dumps(summary, indent=2) + "\n")
    return summary
