"""The README's first command: the whole mission at small scale, offline, on a CPU in a few minutes.

`softcot-hf quickstart` takes the package's synthetic multi-step arithmetic task (`synthetic_arithmetic`) and the
tiny models shipped for it (`softcot_hf/assets/quickstart/`: a Llama-shaped backbone and a smaller Llama-shaped
assistant trained on the task by `scripts/make_quickstart_models.py`), then

1. trains a SoftCoT projection on the frozen pair (`train(SoftCoTTrainingArguments(...))`);
2. trains Coconut on the backbone with its curriculum, and the CoT / No-CoT baselines the same way;
3. evaluates Zero-Shot CoT, SoftCoT, Coconut, CoT and No-CoT on held-out test questions (`run_evaluation`) and
   prints accuracy, generated tokens per answer and wall time as a table;
4. reloads the SoftCoT and Coconut checkpoints with `AutoModelForCausalLM.from_pretrained` and answers a question;
5. with `--push-to-hub USER/NAME`, publishes both checkpoints with their results.

Everything lands in `./softcot-quickstart/`. `--tiny` runs the same code path with a handful of examples and steps
(for the test suite); its numbers mean nothing.
"""

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoProcessor, AutoTokenizer

from .cli import Command
from .data import get_task
from .evaluation import run_evaluation
from .generation import encode_prompts, generate_texts
from .methods import get_method

TASK = "synthetic_arithmetic"
# Rows of the table, in order: (label, run_evaluation method, artifact folder or None for the frozen backbone).
METHODS = (
    ("Zero-Shot CoT", "zero_shot_cot", None),
    ("SoftCoT", "softcot", "softcot"),
    ("Coconut", "coconut", "coconut"),
    ("CoT (fine-tuned)", "cot", "cot"),
    ("No-CoT (fine-tuned)", "no_cot", "no_cot"),
)
# Folders the quickstart writes (and clears before a new run) inside its output directory.
OWNED_FOLDERS = ("backbone", "assistant", "softcot", "coconut", "cot", "no_cot", "eval")
# The file that marks an output directory as the quickstart's own: only there are its folders cleared unasked.
MARKER = ".softcot-quickstart"


@dataclass(frozen=True)
class QuickstartSettings:
    """How much the quickstart trains and evaluates. Learning rates are far above the papers' (2e-5, 1e-4): these
    models are tiny and the budget is a few hundred steps."""

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
)


def shipped_models() -> Path:
    """The folder holding the shipped `backbone/` and `assistant/` (safetensors + tokenizer files)."""
    return Path(str(resources.files("softcot_hf") / "assets" / "quickstart"))


def _prepare(output_dir: Path, overwrite: bool = False) -> tuple[str, str]:
    """Clear the quickstart's folders in `output_dir` and copy the shipped models there; returns their paths. A
    non-empty `output_dir` that an earlier quickstart did not make is refused unless `overwrite`."""
    output_dir.mkdir(parents=True, exist_ok=True)
    if not (output_dir / MARKER).is_file() and any(output_dir.iterdir()) and not overwrite:
        raise ValueError(
            f"{output_dir} is not empty and was not made by the quickstart, which replaces its "
            f"{', '.join(OWNED_FOLDERS)} folders there. Pass a new or empty --output-dir, or --overwrite to replace "
            "them (nothing else in the folder is touched)."
        )
    (output_dir / MARKER).write_text("made by `softcot-hf quickstart`: its folders here are replaced on each run\n")
    for name in OWNED_FOLDERS:
        shutil.rmtree(output_dir / name, ignore_errors=True)
    source = shipped_models()
    if not (source / "backbone" / "config.json").is_file():
        raise FileNotFoundError(
            f"The quickstart's models are missing from {source}. Reinstall the package (`pip install -e .` ships "
            "them), or make them with `python scripts/make_quickstart_models.py`."
        )
    paths = []
    for name in ("backbone", "assistant"):
        shutil.copytree(source / name, output_dir / name)
        paths.append(str((output_dir / name).resolve()))
    return paths[0], paths[1]


def _train(output_dir: Path, backbone: str, assistant: str, settings: QuickstartSettings, seed: int) -> dict:
    """Train SoftCoT, Coconut, CoT and No-CoT; returns the training wall time of each, in seconds."""
    from .methods import METHODS
    from .training import train

    common = {"backbone": backbone, "task": TASK, "limit": settings.train_examples, "seed": seed}
    common.update(per_device_train_batch_size=settings.batch_size, save_total_limit=1, evaluate=False)
    runs = {
        "softcot": {"assistant": assistant, "max_steps": settings.softcot_steps, "learning_rate": settings.softcot_lr},
        # Coconut: stage 0 (CoT) first, then one more step replaced by a thought every `epochs_per_stage` epochs.
        "coconut": {
            "num_train_epochs": settings.coconut_epochs_per_stage * (settings.max_latent_stage + 1),
            "learning_rate": settings.coconut_lr,
            "c_thought": 1,
            "max_latent_stage": settings.max_latent_stage,
            "epochs_per_stage": settings.coconut_epochs_per_stage,
            "gradient_accumulation_steps": 1,
        },
        "cot": {"num_train_epochs": settings.baseline_epochs, "learning_rate": settings.finetune_lr},
        "no_cot": {"num_train_epochs": settings.baseline_epochs, "learning_rate": settings.finetune_lr},
    }
    runs["cot"]["gradient_accumulation_steps"] = runs["no_cot"]["gradient_accumulation_steps"] = 1
    times = {}
    for name, options in runs.items():
        print(f"== training {METHODS[name].title} ({name}) into {output_dir / name}")
        started = time.perf_counter()
        train(METHODS[name].arguments(output_dir=str(output_dir / name), **common, **options))
        times[name] = time.perf_counter() - started
    return times


def _evaluate(output_dir: Path, backbone: str, settings: QuickstartSettings) -> list[dict]:
    """Every method of `METHODS` on the first `test_examples` test questions; returns the summaries."""
    test = get_task(TASK).load("test").select(range(settings.test_examples))
    summaries = []
    for _, method, folder in METHODS:
        summaries.append(
            run_evaluation(
                TASK,
                method,
                None if folder is None else str(output_dir / folder),
                backbone=backbone if folder is None else None,
                dataset=test,
                batch_size=50,
                max_new_tokens=settings.max_new_tokens,
                output_dir=output_dir / "eval" / method,
                device="cpu",
            )
        )
    return summaries


def results_table(summaries: list[dict], train_times: dict[str, float]) -> str:
    """A markdown table: method, accuracy, generated tokens per answer, evaluation and training wall time."""
    lines = [
        "| method | accuracy | tokens / answer | eval time (s) | train time (s) |",
        "|---|---|---|---|---|",
    ]
    for (label, _, folder), summary in zip(METHODS, summaries, strict=True):
        trained = f"{train_times[folder]:.1f}" if folder is not None else "- (frozen)"
        lines.append(
            f"| {label} | {100 * summary['accuracy']:.1f}% ({summary['num_examples']} questions) | "
            f"{summary['mean_generated_tokens']:.1f} | {summary['wall_time_s']:.1f} | {trained} |"
        )
    return "\n".join(lines)


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


def push_results(output_dir: Path, repo_id: str, summaries: list[dict]) -> list[str]:
    """
    Publish the quickstart: the frozen tiny models as ordinary repos (`repo_id + "-backbone"`, `"-assistant"`), the
    SoftCoT checkpoint to `repo_id` with its config pointing at those two ids (so it loads by id anywhere), and the
    Coconut one to `repo_id + "-coconut"`, each with its evaluation in the model card. Returns the repo ids; raises
    `ConnectionError` with what to do when the Hub cannot be reached.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from .hub import HUB_TRANSPORT_ERRORS, push_folder

    by_method = {summary["method"]: summary for summary in summaries}
    try:
        api = HfApi()
        hub_ids = {}
        for name in ("backbone", "assistant"):
            hub_id = api.create_repo(f"{repo_id}-{name}", exist_ok=True).repo_id
            api.upload_folder(folder_path=output_dir / name, repo_id=hub_id)
            hub_ids[str(output_dir / name)] = hub_id
        softcot = push_folder(
            output_dir / "softcot", repo_id, summaries=[by_method["softcot"]], base_model_ids=hub_ids
        )
        coconut = push_folder(
            output_dir / "coconut", f"{repo_id}-coconut", summaries=[by_method["coconut"]], base_model_ids=hub_ids
        )
    except (OSError, HfHubHTTPError, *HUB_TRANSPORT_ERRORS) as error:
        raise ConnectionError(
            f"Could not push the quickstart to the Hub as {repo_id} ({type(error).__name__}: {error}). Check the "
            "network and your token (`hf auth login`); the saved folders can be pushed later with "
            f"`softcot-hf push {output_dir / 'coconut'} --repo-id {repo_id}-coconut --base-model-id "
            f"{output_dir / 'backbone'}=OWNER/NAME` (SoftCoT: push the frozen models first, then map both paths)."
        ) from error
    return [*hub_ids.values(), softcot.repo_url.repo_id, coconut.repo_url.repo_id]


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
    seed: int = 0,
    overwrite: bool = False,
) -> dict:
    """Train, evaluate, save, reload (and push) as the module docstring says. Returns what it printed, as data:
    {"settings", "summaries", "train_time_s", "table", "example", "pushed"}; also written to `results.json`.
    `output_dir` must be new, empty or an earlier quickstart's; `overwrite` replaces the quickstart's folders in it."""
    settings = TINY if tiny else FULL
    output_dir = Path(output_dir)
    started = time.perf_counter()
    backbone, assistant = _prepare(output_dir, overwrite)  # a refusal changes nothing, threads included
    print(f"CPU threads: {set_cpu_threads()} (set OMP_NUM_THREADS to choose)")
    print(f"task {TASK}: {settings.train_examples} training and {settings.test_examples} test questions")
    train_times = _train(output_dir, backbone, assistant, settings, seed)
    summaries = _evaluate(output_dir, backbone, settings)
    table = results_table(summaries, train_times)
    print(f"\n{table}\n")

    test = get_task(TASK).load("test")[0]
    answers = answer_with_reloaded(output_dir, test["question"], settings.max_new_tokens)
    print(f"Question: {test['question']}   (gold: {test['answer']})")
    for name, text in answers.items():
        print(f"{name} (reloaded from {output_dir / name}): {text}")

    pushed = []
    if push_to_hub is not None:
        try:
            pushed = push_results(output_dir, push_to_hub, summaries)
            print(f"pushed to the Hub: {', '.join(pushed)}")
        except ConnectionError as error:
            print(f"Not pushed: {error}")
    result = {
        "settings": asdict(settings),
        "summaries": summaries,
        "train_time_s": train_times,
        "table": table,
        "example": {"question": test["question"], "gold": test["answer"], "answers": answers},
        "pushed": pushed,
        "total_time_s": time.perf_counter() - started,
    }
    (output_dir / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (output_dir / "results.md").write_text(table + "\n")
    print(f"done in {result['total_time_s']:.0f} s; results in {output_dir / 'results.md'}")
    return result


@dataclass
class QuickstartArguments:
    """`softcot-hf quickstart`: train SoftCoT and Coconut on a synthetic task, evaluate, save, reload."""

    output_dir: str = field(default="softcot-quickstart", metadata={"help": "where everything lands"})
    tiny: bool = field(default=False, metadata={"help": "a few examples and steps (seconds; for tests)"})
    push_to_hub: str | None = field(default=None, metadata={"help": "USER/NAME: also publish the checkpoints"})
    seed: int = field(default=0, metadata={"help": "seed of every training run"})
    overwrite: bool = field(
        default=False, metadata={"help": "replace the quickstart's folders in a non-empty OUTPUT_DIR it did not make"}
    )


COMMANDS = [
    Command(
        "quickstart",
        "train SoftCoT and Coconut on a synthetic task, evaluate, save, reload (CPU, minutes)",
        QuickstartArguments,
        lambda args: run_quickstart(
            args.output_dir, tiny=args.tiny, push_to_hub=args.push_to_hub, seed=args.seed, overwrite=args.overwrite
        ),
    )
]
