"""The README's first command: the papers' claims at small scale, offline, on a CPU in a few minutes.

`softcot-hf quickstart` trains and evaluates on two tasks the package generates, with tiny models shipped for them
(`softcot_hf/assets/quickstart/`, made by `scripts/make_quickstart_models.py`), over 3 training seeds:

1. `synthetic_arithmetic` (chains of 2-4 add/subtract/multiply steps), a Llama-shaped backbone and a smaller
   assistant: a SoftCoT projection on the frozen pair, Coconut on the backbone (curriculum), the fine-tuned CoT and
   No-CoT baselines, and the frozen backbone with Zero-Shot CoT. SoftCoT against Zero-Shot CoT on the same questions
   is tested for significance (paired bootstrap over questions; McNemar's exact test per seed).
2. `prosqa_style` (the Coconut paper's ProsQA shape, smaller graphs: `PROSQA_OPTIONS`), a backbone that knows the
   chain-of-facts format (stage 0 of the curriculum done ahead of time): Coconut through every stage of its
   curriculum, up to all steps latent, against CoT and No-CoT fine-tuned as long; accuracy after each stage too.

Each method is trained once per seed (`seeds`) and evaluated greedily on held-out test questions (`run_evaluation`);
the tables give mean ± std over seeds and generated tokens per answer, the figures the same (`<task>.png`). The
seed-0 SoftCoT and Coconut checkpoints are then reloaded with `AutoModelForCausalLM.from_pretrained` to answer a
question, and with `--push-to-hub USER/NAME` published with their results.

Everything lands in `./softcot-quickstart/`, whose marker file records the run's identity (settings, seeds, the
shipped models' fingerprints, the package version). Rerunning a finished quickstart of the same settings returns its
results; one of other settings is refused, and `--overwrite` replaces the quickstart's files (nothing else). `--tiny`
runs the same code path with a handful of examples and steps (for the test suite); its numbers mean nothing.
"""

import json
import os
import shutil
import statistics
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoProcessor, AutoTokenizer, TrainerCallback

from . import checks
from .data import get_task
from .evaluation import run_evaluation
from .evaluation.plots import plot_methods
from .evaluation.significance import in_words, mcnemar_exact, paired_bootstrap
from .generation import encode_prompts, generate_texts
from .methods import get_method
from .run_files import DifferentRunError, run_identity, write_atomic
from .training.runs import artifact_problem

TASK = "synthetic_arithmetic"
# The second task: ProsQA-style graphs (softcot_hf/data/prosqa_style.py), smaller than the paper's (2-3 hops
# instead of 3-6, 6-8 concepts instead of 12-26, two people) so that a 4-layer model learns them on a CPU.
PROSQA_TASK = "prosqa_style"
PROSQA_OPTIONS = {"min_depth": 2, "max_depth": 3, "min_concepts": 6, "max_concepts": 8, "max_people": 2}
SEEDS = (0, 1, 2)
# Rows of each task's table, in order: (label, run_evaluation method, artifact folder or None for the frozen model).
METHODS = (
    ("Zero-Shot CoT", "zero_shot_cot", None),
    ("SoftCoT", "softcot", "softcot"),
    ("Coconut", "coconut", "coconut"),
    ("CoT (fine-tuned)", "cot", "cot"),
    ("No-CoT (fine-tuned)", "no_cot", "no_cot"),
)
PROSQA_METHODS = (
    ("Coconut (all stages)", "coconut", "coconut"),
    ("CoT (fine-tuned)", "cot", "cot"),
    ("No-CoT (fine-tuned)", "no_cot", "no_cot"),
)
# The paired comparisons reported, per task: (method a, method b); "a beats b" is what the papers claim.
COMPARISONS = {TASK: (("softcot", "zero_shot_cot"),), PROSQA_TASK: (("coconut", "cot"),)}
# Folders the quickstart writes (and clears before a new run) inside its output directory.
OWNED_FOLDERS = ("backbone", "assistant", "prosqa_backbone", TASK, PROSQA_TASK)
# The file that marks an output directory as the quickstart's own and records the run's identity (JSON).
MARKER = ".softcot-quickstart"
RESULTS = ("results.json", "results.md")  # written last: a quickstart whose models are there too is finished


@dataclass(frozen=True)
class QuickstartSettings:
    """How much the quickstart trains and evaluates, per seed. Learning rates are far above the papers' (2e-5, 1e-4):
    these models are tiny and the budget is a few hundred steps."""

    train_examples: int  # first rows of the train split, for every method
    test_examples: int  # first rows of the test split
    softcot_steps: int
    softcot_lr: float
    coconut_epochs_per_stage: int
    # c = 1 thought per removed step; the task has 2 to 4 steps. Training ends at this stage: the first
    # `max_latent_stage` steps become thoughts and the rest stay written out (these tiny models do not learn the
    # all-latent last stage in the budget).
    max_latent_stage: int
    coconut_lr: float
    baseline_epochs: int  # CoT and No-CoT fine-tuning
    finetune_lr: float
    batch_size: int
    max_new_tokens: int
    # prosqa_style: Coconut runs stages 0..prosqa_max_latent_stage (the last one writes every step as a thought:
    # graphs have at most PROSQA_OPTIONS["max_depth"] steps); CoT and No-CoT train for as many epochs in all.
    prosqa_train_examples: int
    prosqa_test_examples: int
    prosqa_epochs_per_stage: int
    prosqa_max_latent_stage: int
    prosqa_lr: float
    prosqa_max_new_tokens: int
    stage_curve_examples: int  # test questions evaluated after each stage (the curve across stages)


FULL = QuickstartSettings(
    train_examples=1024,
    test_examples=500,
    softcot_steps=192,
    softcot_lr=3e-3,
    coconut_epochs_per_stage=3,
    max_latent_stage=1,
    coconut_lr=1e-3,
    baseline_epochs=3,
    finetune_lr=3e-4,
    batch_size=32,
    max_new_tokens=48,
    prosqa_train_examples=512,
    prosqa_test_examples=500,
    prosqa_epochs_per_stage=1,
    prosqa_max_latent_stage=PROSQA_OPTIONS["max_depth"],
    prosqa_lr=1e-3,
    prosqa_max_new_tokens=32,
    stage_curve_examples=200,
)
TINY = QuickstartSettings(
    train_examples=32,
    test_examples=8,
    softcot_steps=4,
    softcot_lr=3e-3,
    coconut_epochs_per_stage=1,
    max_latent_stage=1,
    coconut_lr=1e-3,
    baseline_epochs=1,
    finetune_lr=3e-4,
    batch_size=16,
    max_new_tokens=24,
    prosqa_train_examples=16,
    prosqa_test_examples=8,
    prosqa_epochs_per_stage=1,
    prosqa_max_latent_stage=PROSQA_OPTIONS["max_depth"],
    prosqa_lr=1e-3,
    prosqa_max_new_tokens=16,
    stage_curve_examples=4,
)


def shipped_models() -> Path:
    """The folder holding the shipped `backbone/` and `assistant/` (safetensors + tokenizer files)."""
    return Path(str(resources.files("softcot_hf") / "assets" / "quickstart"))


def quickstart_identity(settings: QuickstartSettings, seeds: tuple[int, ...]) -> dict:
    """What makes two quickstarts the same (`run_identity`): the settings, seeds, task options and shipped models."""
    return run_identity(
        {"settings": asdict(settings), "seeds": list(seeds), "prosqa_options": PROSQA_OPTIONS}, [shipped_models()]
    )


def _owned_files(output_dir: Path) -> list[Path]:
    """What the quickstart writes in `output_dir`: its folders, results, figures and marker."""
    figures = [output_dir / f"{task}.png" for task in (TASK, PROSQA_TASK)]
    return [*(output_dir / name for name in (*OWNED_FOLDERS, *RESULTS)), *figures, output_dir / MARKER]


def _trained_folders(output_dir: Path, seeds: tuple[int, ...]) -> list[Path]:
    """Every run folder the quickstart trains in `output_dir`."""
    return [
        output_dir / task / f"seed-{seed}" / folder
        for task, methods in ((TASK, METHODS), (PROSQA_TASK, PROSQA_METHODS))
        for seed in seeds
        for _, _, folder in methods
        if folder is not None
    ]


def _saved_identity(output_dir: Path) -> dict | None:
    """The identity in `output_dir`'s marker; None: no marker ({}: one that an earlier version wrote in words)."""
    try:
        saved = json.loads((output_dir / MARKER).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def _finished(output_dir: Path, seeds: tuple[int, ...]) -> dict | None:
    """The results of the finished quickstart in `output_dir` (its results and every trained model are there)."""
    try:
        result = json.loads((output_dir / RESULTS[0]).read_text())
    except (OSError, ValueError):
        return None
    finished = all(artifact_problem(folder) is None for folder in _trained_folders(output_dir, seeds))
    return result if finished else None


def _prepare(output_dir: Path, identity: dict, overwrite: bool = False) -> dict[str, str]:
    """Clear the quickstart's files in `output_dir`, record `identity` and copy the shipped models there; returns
    {name: path}. A non-empty `output_dir` that a quickstart did not make, or one of other settings, is refused unless
    `overwrite`."""
    saved = _saved_identity(output_dir)
    if saved is not None and saved != identity and not overwrite:
        raise DifferentRunError(output_dir, "a quickstart", saved, identity, "run it")
    if saved is None and output_dir.is_dir() and any(output_dir.iterdir()) and not overwrite:
        raise ValueError(
            f"{output_dir} is not empty and was not made by the quickstart, which replaces its "
            f"{', '.join(OWNED_FOLDERS)} folders there. Pass a new or empty --output-dir, or --overwrite to replace "
            "them (nothing else in the folder is touched)."
        )
    source = shipped_models()
    models = ("backbone", "assistant", "prosqa_backbone")
    missing = [name for name in models if not (source / name / "config.json").is_file()]
    if missing:
        raise FileNotFoundError(
            f"The quickstart's models ({', '.join(missing)}) are missing from {source}. Reinstall the package "
            "(`pip install -e .` ships them), or make them with `python scripts/make_quickstart_models.py`."
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    for path in _owned_files(output_dir):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    write_atomic(output_dir / MARKER, json.dumps(identity, indent=2) + "\n")
    paths = {}
    for name in models:
        shutil.copytree(source / name, output_dir / name)
        paths[name] = str((output_dir / name).resolve())
    return paths


def _fit(method: str, output_dir: Path, callbacks: list[TrainerCallback] | None = None, **options) -> float:
    """Train `method` into `output_dir` with the training arguments `options`; returns the wall time in seconds."""
    from .methods import METHODS
    from .pipelines import train

    print(f"== training {METHODS[method].title} ({method}) into {output_dir}")
    started = time.perf_counter()
    extra = {} if callbacks is None else {"callbacks": callbacks}
    options.update(output_dir=str(output_dir), save_total_limit=1, evaluate=False)
    train(METHODS[method].arguments(method=method, **options), **extra)
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


def correct_per_question(eval_dir: Path) -> list[bool]:
    """The `correct` field of every question in `eval_dir/predictions.jsonl` (one greedy path), in question order."""
    rows = [json.loads(line) for line in (eval_dir / "predictions.jsonl").read_text().splitlines()]
    return [row["correct"] for row in sorted(rows, key=lambda row: row["index"])]


def aggregate(label: str, method: str, summaries: list[dict], train_times: list[float] | None) -> dict:
    """One table row from a method's per-seed summaries: accuracy mean and sample std (n - 1; 0 for one run), per
    seed, generated tokens per answer (mean over seeds) and mean training time (None for a frozen model)."""
    accuracies = [summary["accuracy"] for summary in summaries]
    return {
        "label": label,
        "method": method,
        "accuracy_mean": statistics.fmean(accuracies),
        "accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
        "accuracy_per_seed": accuracies,
        "tokens_mean": statistics.fmean(summary["mean_generated_tokens"] for summary in summaries),
        "train_time_s_mean": None if train_times is None else statistics.fmean(train_times),
        "num_questions": summaries[0]["num_examples"],
    }


def compare(a: str, b: str, outcomes: dict[str, list[list[bool]]]) -> dict:
    """Paired tests of method `a` against `b` on the same questions. `outcomes[method]` holds one list of per-question
    right/wrong per seed (a frozen greedy method: one list, the same for every seed). The main test is a paired
    bootstrap over questions of the per-question accuracy averaged over seeds; McNemar's exact test is run per seed."""
    runs_a, runs_b = outcomes[a], outcomes[b]
    count = max(len(runs_a), len(runs_b))
    runs_a, runs_b = runs_a * (count // len(runs_a)), runs_b * (count // len(runs_b))

    def averaged(runs: list[list[bool]]) -> list[float]:
        return [statistics.fmean(values) for values in zip(*runs, strict=True)]

    bootstrap = paired_bootstrap(averaged(runs_a), averaged(runs_b))
    per_seed = [asdict(mcnemar_exact(x, y)) for x, y in zip(runs_a, runs_b, strict=True)]
    return {
        "a": a,
        "b": b,
        "difference": bootstrap.difference,
        "ci95": [bootstrap.low, bootstrap.high],
        "p_value": bootstrap.p_value,
        "verdict": in_words(bootstrap.p_value),
        "mcnemar_per_seed": per_seed,
    }


def comparison_sentence(comparison: dict, titles: dict[str, str]) -> str:
    """The comparison in words: the difference in points with its interval, p-values and significant or not."""
    a, b = titles[comparison["a"]], titles[comparison["b"]]
    low, high = (100 * value for value in comparison["ci95"])
    mcnemar = ", ".join(f"{run['p_value']:.3g}" for run in comparison["mcnemar_per_seed"])
    return (
        f"{a} vs {b}, same questions: {100 * comparison['difference']:+.1f} points "
        f"(95% CI {low:+.1f} to {high:+.1f}); "
        f"paired bootstrap p = {comparison['p_value']:.3g}: {comparison['verdict']} at the 5% level "
        f"(McNemar exact per seed: p = {mcnemar})."
    )


def results_table(rows: list[dict]) -> str:
    """A markdown table: method, accuracy mean ± std over seeds (and per seed), tokens per answer, training time."""
    lines = [
        "| method | accuracy, mean ± std | per seed | tokens / answer | train time (s, mean) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        per_seed = ", ".join(f"{100 * value:.1f}" for value in row["accuracy_per_seed"])
        trained = "- (frozen)" if row["train_time_s_mean"] is None else f"{row['train_time_s_mean']:.1f}"
        lines.append(
            f"| {row['label']} | {100 * row['accuracy_mean']:.1f} ± {100 * row['accuracy_std']:.1f}% | {per_seed} | "
            f"{row['tokens_mean']:.1f} | {trained} |"
        )
    return "\n".join(lines)


def stage_curve_table(curves: list[list[dict]]) -> tuple[list[dict], str]:
    """Coconut's accuracy after each stage, mean ± std over seeds: (points, markdown table)."""
    points = []
    for stage_points in zip(*curves, strict=True):
        accuracies = [point["accuracy"] for point in stage_points]
        points.append(
            {
                "stage": stage_points[0]["stage"],
                "accuracy_mean": statistics.fmean(accuracies),
                "accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
                "accuracy_per_seed": accuracies,
            }
        )
    lines = ["| Coconut stage | accuracy, mean ± std | per seed |", "|---|---|---|"]
    for point in points:
        per_seed = ", ".join(f"{100 * value:.1f}" for value in point["accuracy_per_seed"])
        lines.append(
            f"| {point['stage']} | {100 * point['accuracy_mean']:.1f} ± {100 * point['accuracy_std']:.1f}% | "
            f"{per_seed} |"
        )
    return points, "\n".join(lines)


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
        result["stage_curve"], result["stage_curve_table"] = stage_curve_table(curves)
    title = f"{task}: {len(seeds)} training seed(s), {len(test)} test questions"
    chance = 0.5 if task == PROSQA_TASK else None  # a ProsQA question offers two options
    plot = plot_methods(rows, output_dir.parent / f"{task}.png", title, result.get("stage_curve"), chance)
    result["plot"] = str(plot)
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


def push_results(output_dir: Path, trained_dir: Path, repo_id: str) -> list[str]:
    """
    Publish the quickstart: the frozen tiny models in `output_dir` as ordinary repos (`repo_id + "-backbone"`,
    `"-assistant"`), the SoftCoT checkpoint of `trained_dir` (one seed's folder) to `repo_id` with its config pointing
    at those two ids (so it loads by id anywhere), and the Coconut one to `repo_id + "-coconut"`, each with its
    evaluation (`trained_dir/eval/<method>/summary.json`) in the model card. Returns the repo ids; raises
    `ConnectionError` with what to do when the Hub cannot be reached.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from .hub import HUB_TRANSPORT_ERRORS, push_folder

    try:
        api = HfApi()
        hub_ids = {}
        for name in ("backbone", "assistant"):
            hub_id = api.create_repo(f"{repo_id}-{name}", exist_ok=True).repo_id
            api.upload_folder(folder_path=output_dir / name, repo_id=hub_id)
            hub_ids[str(output_dir / name)] = hub_id
        summaries = {
            name: json.loads((trained_dir / "eval" / name / "summary.json").read_text())
            for name in ("softcot", "coconut")
        }
        softcot = push_folder(
            trained_dir / "softcot", repo_id, summaries=[summaries["softcot"]], base_model_ids=hub_ids
        )
        coconut = push_folder(
            trained_dir / "coconut", f"{repo_id}-coconut", summaries=[summaries["coconut"]], base_model_ids=hub_ids
        )
    except (OSError, HfHubHTTPError, *HUB_TRANSPORT_ERRORS) as error:
        raise ConnectionError(
            f"Could not push the quickstart to the Hub as {repo_id} ({type(error).__name__}: {error}). Check the "
            "network and your token (`hf auth login`); the saved folders can be pushed later with "
            f"`softcot-hf push {trained_dir / 'coconut'} --repo-id {repo_id}-coconut --base-model-id "
            f"{output_dir / 'backbone'}=OWNER/NAME` (SoftCoT: push the frozen models first, then map both paths)."
        ) from error
    return [*hub_ids.values(), softcot.repo_url.repo_id, coconut.repo_url.repo_id]


def _push(output_dir: Path, trained_dir: Path, repo_id: str) -> list[str]:
    """`push_results`, saying what was pushed or why not; returns the repo ids (none when it failed)."""
    try:
        pushed = push_results(output_dir, trained_dir, repo_id)
    except ConnectionError as error:
        print(f"Not pushed: {error}")
        return []
    print(f"pushed to the Hub: {', '.join(pushed)}")
    return pushed


def set_cpu_threads() -> int:
    """One CPU thread for the quickstart's tiny models unless `OMP_NUM_THREADS` is set: their matrices are too small
    to share between threads, and on a busy machine extra threads mostly wait (see the README). Returns the count."""
    if "OMP_NUM_THREADS" not in os.environ and not torch.cuda.is_available():
        torch.set_num_threads(1)
    return torch.get_num_threads()


def run_quickstart(
    output_dir: str | Path = "softcot-quickstart",
    tiny: bool = False,
    push_to_hub: str | None = None,
    seeds: tuple[int, ...] | list[int] = SEEDS,
    overwrite: bool = False,
) -> dict:
    """Train, evaluate, compare, plot, save, reload (and push) as the module docstring says. Returns what it printed,
    as data: {"settings", "seeds", "tasks": {task: {"rows", "table", "comparisons", "sentences", "plot",
    ["stage_curve", "stage_curve_table"]}}, "table", "example", "pushed", "total_time_s"}; also written to
    `results.json` (and the tables to `results.md`). `output_dir` must be new, empty or an earlier quickstart's of
    the same settings (finished: its results are returned); `overwrite` replaces the quickstart's files in it."""
    settings = TINY if tiny else FULL
    seeds = tuple(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"Pass one or more distinct training seeds, got {list(seeds)}.")
    output_dir = Path(output_dir)
    started = time.perf_counter()
    identity = quickstart_identity(settings, seeds)
    if not overwrite and _saved_identity(output_dir) == identity and (result := _finished(output_dir, seeds)):
        print(f"{output_dir} holds a finished quickstart of the same settings: its results follow (--overwrite runs "
              f"it again).\n\n{result['table']}")  # fmt: skip
        if push_to_hub is not None:
            result["pushed"] = _push(output_dir, output_dir / TASK / f"seed-{seeds[0]}", push_to_hub)
        return result
    models = _prepare(output_dir, identity, overwrite)  # a refusal changes nothing, threads included
    print(f"CPU threads: {set_cpu_threads()} (set OMP_NUM_THREADS to choose); training seeds {list(seeds)}")
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

    pushed = [] if push_to_hub is None else _push(output_dir, first, push_to_hub)
    result = {
        "settings": asdict(settings),
        "seeds": list(seeds),
        "prosqa_options": PROSQA_OPTIONS,
        "tasks": tasks,
        "table": table,
        "example": {"question": test["question"], "gold": test["answer"], "answers": answers},
        "pushed": pushed,
        "total_time_s": time.perf_counter() - started,
    }
    (output_dir / RESULTS[1]).write_text(table)
    write_atomic(output_dir / RESULTS[0], json.dumps(result, indent=2) + "\n")
    print(f"done in {result['total_time_s']:.0f} s; results in {output_dir / 'results.md'}")
    return result


def results_markdown(tasks: dict[str, dict], seeds: tuple[int, ...]) -> str:
    """Both tasks' tables, their comparisons in words, Coconut's stage curve and the figures' file names."""
    parts = []
    for task, result in tasks.items():
        parts.append(f"### {task} ({len(seeds)} training seeds: {', '.join(map(str, seeds))})\n")
        parts.append(result["table"] + "\n")
        parts.extend(f"{sentence}\n" for sentence in result["sentences"])
        if "stage_curve_table" in result:
            parts.append("Coconut after each stage of its curriculum (the last: every step a thought):\n")
            parts.append(result["stage_curve_table"] + "\n")
        parts.append(f"![{task}]({Path(result['plot']).name})\n")
    return "\n".join(parts)


@dataclass
class QuickstartArguments:
    """`softcot-hf quickstart`: train SoftCoT and Coconut on two synthetic tasks over 3 seeds, evaluate, compare."""

    output_dir: str = field(default="softcot-quickstart", metadata={"help": "where everything lands"})
    tiny: bool = field(default=False, metadata={"help": "a few examples and steps (seconds; for tests)"})
    push_to_hub: str | None = field(default=None, metadata={"help": "USER/NAME: also publish the checkpoints"})
    seeds: list[int] = field(
        default_factory=lambda: list(SEEDS), metadata={"help": "training seeds; every method is trained once per seed"}
    )
    overwrite: bool = field(
        default=False, metadata={"help": "run again from scratch, replacing the quickstart's files in OUTPUT_DIR"}
    )

    def __post_init__(self):
        checks.output_folder(self, "output_dir")
