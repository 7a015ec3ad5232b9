"""The quickstart's runs: train every method on both tasks over the seeds, evaluate them greedily, pool the seeds,
compare, plot, then reload the seed-0 SoftCoT and Coconut checkpoints to answer a question (and push them)."""

import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoProcessor, AutoTokenizer, TrainerCallback

from ..data import get_task
from ..evaluation import run_evaluation
from ..generation import encode_prompts, generate_texts
from ..methods import get_method
from ..pipelines import train
from ..run_files import write_atomic
from .folder import RESULTS, finished_results, prepare, quickstart_identity, saved_identity
from .pooling import aggregate, compare, correct_per_question, majority_answer_rate, pool_stage_curves
from .push import push_and_say
from .settings import (
    COMPARISONS,
    METHODS,
    PROSQA_METHODS,
    PROSQA_OPTIONS,
    PROSQA_TASK,
    TASK,
    QuickstartArguments,
    QuickstartSettings,
)
from .tables import comparison_sentence, plot_task, results_markdown, results_table, stage_curve_table


def _fit(method: str, output_dir: Path, callbacks: list[TrainerCallback] | None = None, **options) -> float:
    """Train `method` into `output_dir` with the training arguments `options`; returns the wall time in seconds."""
    trained = get_method(method)
    print(f"== training {trained.title} ({method}) into {output_dir}")
    started = time.perf_counter()
    extra = {} if callbacks is None else {"callbacks": callbacks}
    options.update(output_dir=str(output_dir), save_total_limit=1, evaluate=False)
    train(trained.arguments(method=method, **options), **extra)
    return time.perf_counter() - started


def _train_arithmetic(seed_dir: Path, models: dict[str, str], settings: QuickstartSettings, seed: int) -> dict:
    """Train SoftCoT, Coconut, CoT and No-CoT on the arithmetic task; returns the training wall time of each (s)."""
    common = {"backbone": models["backbone"], "task": TASK, "limit": settings.train_examples, "seed": seed}
    common["per_device_train_batch_size"] = settings.batch_size
    finetune = {"num_train_epochs": settings.baseline_epochs, "learning_rate": settings.finetune_lr}
    runs = {
        "softcot": {
            "assistant": models["assistant"],
            "max_steps": settings.softcot_steps,
            "learning_rate": settings.softcot_lr,
        },
        # Coconut: stage 0 (CoT) first, then one more step replaced by a thought every `epochs_per_stage` epochs.
        "coconut": {
            "num_train_epochs": settings.coconut_epochs_per_stage * (settings.max_latent_stage + 1),
            "learning_rate": settings.coconut_lr,
            "c_thought": 1,
            "max_latent_stage": settings.max_latent_stage,
            "epochs_per_stage": settings.coconut_epochs_per_stage,
            "gradient_accumulation_steps": 1,
        },
        "cot": {**finetune, "gradient_accumulation_steps": 1},
        "no_cot": {**finetune, "gradient_accumulation_steps": 1},
    }
    return {name: _fit(name, seed_dir / name, **common, **options) for name, options in runs.items()}


class StageCurve(TrainerCallback):
    """Evaluates Coconut at the end of each curriculum stage s on `questions` (greedy, s thoughts: the layout it was
    just trained on, the other steps written out) into `output_dir/stage-<s>/` and keeps the accuracies in `points`
    ({"stage", "accuracy"})."""

    def __init__(self, questions, epochs_per_stage: int, max_new_tokens: int, output_dir: Path):
        self.questions = questions
        self.epochs_per_stage = epochs_per_stage
        self.max_new_tokens = max_new_tokens
        self.output_dir = output_dir  # stage-<s>/ holds each evaluation's predictions and summary
        self.points: list[dict] = []

    def on_epoch_end(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        epoch = round(state.epoch)
        if epoch % self.epochs_per_stage:
            return
        stage = epoch // self.epochs_per_stage - 1
        # The curriculum dataset holds the tokenizer the model was built with (with Coconut's three tokens).
        tokenizer = train_dataloader.dataset.curriculum.tokenizer
        thoughts = model.config.num_latent_thoughts
        model.config.num_latent_thoughts = stage * model.config.c_thought
        try:
            summary = run_evaluation(
                PROSQA_TASK,
                "coconut",
                model,
                tokenizer=tokenizer,
                dataset=self.questions,
                seeds=[args.seed],  # greedy: the seed only names the run in the progress bar
                batch_size=100,
                max_new_tokens=self.max_new_tokens,
                output_dir=self.output_dir / f"stage-{stage}",
            )
        finally:
            model.config.num_latent_thoughts = thoughts
            model.train()
        self.points.append({"stage": stage, "accuracy": summary["accuracy"]})
        print(f"   Coconut after stage {stage}: {100 * summary['accuracy']:.1f}% on {len(self.questions)} questions")


def _train_prosqa(seed_dir: Path, models: dict[str, str], settings: QuickstartSettings, seed: int) -> dict:
    """Train Coconut through every stage, CoT and No-CoT as many epochs, on prosqa_style; returns the training wall
    times ({method: s}) and Coconut's accuracy after each stage ("stage_curve")."""
    stages = settings.prosqa_max_latent_stage + 1
    common = {"backbone": models["prosqa_backbone"], "task": PROSQA_TASK, "data_options": PROSQA_OPTIONS}
    common.update(limit=settings.prosqa_train_examples, seed=seed, learning_rate=settings.prosqa_lr)
    common.update(per_device_train_batch_size=settings.batch_size, gradient_accumulation_steps=1)
    common["num_train_epochs"] = settings.prosqa_epochs_per_stage * stages
    test = get_task(PROSQA_TASK).load("test", **PROSQA_OPTIONS)
    questions = test.select(range(settings.stage_curve_examples))
    curve = StageCurve(
        questions, settings.prosqa_epochs_per_stage, settings.prosqa_max_new_tokens, seed_dir / "eval" / "stages"
    )
    coconut = {"c_thought": 1, "max_latent_stage": settings.prosqa_max_latent_stage, "pad_latent_to_max": True}
    coconut["epochs_per_stage"] = settings.prosqa_epochs_per_stage
    times = {"coconut": _fit("coconut", seed_dir / "coconut", [curve], **common, **coconut)}
    for name in ("cot", "no_cot"):
        times[name] = _fit(name, seed_dir / name, **common)
    return {"train_time_s": times, "stage_curve": curve.points}


def _evaluate(
    task: str, method: str, artifact: str | None, evaluation: dict, output_dir: Path, backbone: str | None = None
) -> dict:
    """One greedy evaluation through `run_evaluation` of a trained `artifact`, or (None) of the frozen `backbone`, on
    `evaluation["dataset"]`, into `output_dir`."""
    return run_evaluation(
        task,
        method,
        artifact,
        backbone=backbone,
        dataset=evaluation["dataset"],
        batch_size=100,
        max_new_tokens=evaluation["max_new_tokens"],
        output_dir=output_dir,
        device="cpu",
    )


def _run_task(
    task: str,
    methods: tuple,
    output_dir: Path,
    models: dict[str, str],
    settings: QuickstartSettings,
    seeds: tuple[int, ...],
) -> dict:
    """Train and evaluate `methods` on `task` for every seed; returns the task's rows, comparisons and curve."""
    if task == TASK:
        test = get_task(TASK).load("test").select(range(settings.test_examples))
        evaluation = {"dataset": test, "max_new_tokens": settings.max_new_tokens}
    else:
        test = get_task(PROSQA_TASK).load("test", **PROSQA_OPTIONS).select(range(settings.prosqa_test_examples))
        evaluation = {"dataset": test, "max_new_tokens": settings.prosqa_max_new_tokens}
    summaries: dict[str, list[dict]] = {method: [] for _, method, _ in methods}
    outcomes: dict[str, list[list[bool]]] = {method: [] for _, method, _ in methods}
    train_times: dict[str, list[float]] = {}
    curves = []
    for _, method, folder in methods:
        if folder is None:  # frozen and greedy: the same answers for every seed, evaluated once
            eval_dir = output_dir / "eval" / method
            summaries[method].append(_evaluate(task, method, None, evaluation, eval_dir, models["backbone"]))
            outcomes[method].append(correct_per_question(eval_dir))
    for seed in seeds:
        seed_dir = output_dir / f"seed-{seed}"
        print(f"== {task}, seed {seed}")
        if task == TASK:
            times = _train_arithmetic(seed_dir, models, settings, seed)
        else:
            trained = _train_prosqa(seed_dir, models, settings, seed)
            times = trained["train_time_s"]
            curves.append(trained["stage_curve"])
        for name, value in times.items():
            train_times.setdefault(name, []).append(value)
        for _, method, folder in methods:
            if folder is not None:
                eval_dir = seed_dir / "eval" / method
                summaries[method].append(_evaluate(task, method, str(seed_dir / folder), evaluation, eval_dir))
                outcomes[method].append(correct_per_question(eval_dir))
    rows = [
        aggregate(label, method, summaries[method], None if folder is None else train_times[folder])
        for label, method, folder in methods
    ]
    titles = {method: label for label, method, _ in methods}
    comparisons = [compare(a, b, outcomes) for a, b in COMPARISONS[task]]
    result = {"rows": rows, "table": results_table(rows), "comparisons": comparisons}
    result["sentences"] = [comparison_sentence(comparison, titles) for comparison in comparisons]
    if curves:
        result["stage_curve"] = pool_stage_curves(curves)
        result["stage_curve_table"] = stage_curve_table(result["stage_curve"])
    # The floor a model reaches without reading the question: a ProsQA question offers two options; an arithmetic
    # answer can be any number, and always giving the commonest one scores the majority-answer rate.
    if task == PROSQA_TASK:
        result["references"] = {"chance (2 options)": 0.5}
    else:
        result["references"] = {"majority answer": majority_answer_rate(test["answer"])}
    result["plot"] = str(plot_task(result, output_dir.parent / f"{task}.png", task, len(seeds)))
    return result


@torch.no_grad()
def answer_with_reloaded(output_dir: Path, question: str, max_new_tokens: int) -> dict[str, str]:
    """Reload the SoftCoT and Coconut checkpoints with `AutoModelForCausalLM.from_pretrained` and answer `question`
    (greedy), exactly as a user would."""
    answers = {}
    softcot = AutoModelForCausalLM.from_pretrained(output_dir / "softcot")
    processor = AutoProcessor.from_pretrained(output_dir / "softcot")
    texts, _ = generate_texts(
        softcot, processor([question]), processor.backbone_tokenizer, max_new_tokens=max_new_tokens, do_sample=False
    )
    answers["softcot"] = texts[0]
    coconut = AutoModelForCausalLM.from_pretrained(output_dir / "coconut")
    tokenizer = AutoTokenizer.from_pretrained(output_dir / "coconut")
    prompt = get_method("coconut").build_prompt(get_task(TASK), question)
    inputs = encode_prompts(tokenizer, [prompt], chat=False)
    texts, _ = generate_texts(coconut, inputs, tokenizer, max_new_tokens=max_new_tokens, do_sample=False)
    answers["coconut"] = texts[0]
    return answers


def set_cpu_threads() -> int:
    """One CPU thread for the quickstart's tiny models unless `OMP_NUM_THREADS` is set: their matrices are too small
    to share between threads, and on a busy machine extra threads mostly wait (see the README). Returns the count."""
    if "OMP_NUM_THREADS" not in os.environ and not torch.cuda.is_available():
        torch.set_num_threads(1)
    return torch.get_num_threads()


def _cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what `platform` knows."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine()


def machine() -> dict:
    """What the numbers depend on besides the settings: the CPU and the instruction set torch's kernels use on it
    (AVX2 and AVX-512 kernels round differently, so trained weights can differ), the threads and the versions."""
    return {
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def run_quickstart(args: QuickstartArguments) -> dict:
    """Train, evaluate, compare, plot, save, reload (and push) as the package docstring says. Returns what it printed,
    as data: {"settings", "seeds", "tasks": {task: {"rows", "table", "comparisons", "sentences", "references",
    "plot", ["stage_curve", "stage_curve_table"]}}, "table", "example", "pushed", "total_time_s", "total_cpu_s",
    "machine"}; also written to
    `results.json` (and the tables to `results.md`). `args.output_dir` must be new, empty or an earlier quickstart's
    of the same settings (finished: its results are returned); `args.overwrite` replaces the quickstart's files in
    it."""
    settings, seeds, push_to_hub, overwrite = args.settings, tuple(args.seeds), args.push_to_hub, args.overwrite
    output_dir = Path(args.output_dir)
    started, started_cpu = time.perf_counter(), time.process_time()
    identity = quickstart_identity(settings, seeds)
    if not overwrite and saved_identity(output_dir) == identity and (result := finished_results(output_dir, seeds)):
        print(f"{output_dir} holds a finished quickstart of the same settings: its results follow (--overwrite runs "
              f"it again).\n\n{result['table']}")  # fmt: skip
        if push_to_hub is not None:
            result["pushed"] = push_and_say(output_dir, output_dir / TASK / f"seed-{seeds[0]}", push_to_hub)
        return result
    models = prepare(output_dir, identity, overwrite)  # a refusal changes nothing, threads included
    threads, where = set_cpu_threads(), machine()
    print(f"CPU threads: {threads} (set OMP_NUM_THREADS to choose) on {where['cpu']}, torch's "
          f"{where['torch_cpu_capability']} kernels; training seeds {list(seeds)}")  # fmt: skip
    print(f"{TASK}: {settings.train_examples} training and {settings.test_examples} test questions")
    print(f"{PROSQA_TASK} {PROSQA_OPTIONS}: {settings.prosqa_train_examples} training and "
          f"{settings.prosqa_test_examples} test questions")  # fmt: skip
    tasks = {
        TASK: _run_task(TASK, METHODS, output_dir / TASK, models, settings, seeds),
        PROSQA_TASK: _run_task(PROSQA_TASK, PROSQA_METHODS, output_dir / PROSQA_TASK, models, settings, seeds),
    }
    table = results_markdown(tasks, seeds)
    print(f"\n{table}")

    first = output_dir / TASK / f"seed-{seeds[0]}"
    test = get_task(TASK).load("test")[0]
    answers = answer_with_reloaded(first, test["question"], settings.max_new_tokens)
    print(f"Question: {test['question']}   (gold: {test['answer']})")
    for name, text in answers.items():
        print(f"{name} (reloaded from {first / name}): {text}")

    pushed = [] if push_to_hub is None else push_and_say(output_dir, first, push_to_hub)
    result = {
        "settings": asdict(settings),
        "seeds": list(seeds),
        "prosqa_options": PROSQA_OPTIONS,
        "tasks": tasks,
        "table": table,
        "example": {"question": test["question"], "gold": test["answer"], "answers": answers},
        "pushed": pushed,
        "total_time_s": time.perf_counter() - started,
        "total_cpu_s": time.process_time() - started_cpu,  # every thread of this process
        "machine": where,
    }
    (output_dir / RESULTS[1]).write_text(table)
    write_atomic(output_dir / RESULTS[0], json.dumps(result, indent=2) + "\n")
    print(f"done in {result['total_time_s']:.0f} s ({result['total_cpu_s']:.0f} s CPU on {where['cpu']}); "
          f"results in {output_dir / 'results.md'}")  # fmt: skip
    return result
