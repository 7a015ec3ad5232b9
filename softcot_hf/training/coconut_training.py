"""Coconut training on `Trainer`: the curriculum (stage per `epochs_per_stage` epochs, optimizer reset at each stage
change), checkpoints that resume, the final artifact, and the test-split evaluation.

Defaults are the Coconut paper's GPT-2 / ProsQA run (`args/prosqa_coconut.yaml` of facebookresearch/coconut): c = 1,
6 latent stages of 5 epochs, 50 epochs, `pad_latent_to_max`, AdamW at lr 1e-4 with weight decay 0.01, constant
learning rate, no gradient clipping, 128 examples per step (32 per device x 4 accumulation steps here, 32 x 4 GPUs
there).

Artifacts in `output_dir`:
- mode "coconut" / "no_thoughts": a `CoconutForCausalLM` folder and its tokenizer (`no_thoughts` generates with 0
  thoughts); with LoRA the merged model at the top level and the adapter in `adapter/`.
- mode "cot" / "no_cot": the plain causal LM and its tokenizer.
- `coconut_run.json` (the settings, to refuse resuming a different run), `checkpoints/` (Trainer checkpoints) and
  `eval/` (`predictions.jsonl`, `summary.json`).
"""

import argparse
import json
import math
from pathlib import Path

import peft
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from ..data import get_task
from ..data.sources import read_coconut_json
from ..modeling.modeling_coconut import CoconutForCausalLM
from .coconut_curriculum import (
    CoconutCurriculum,
    CoconutStageCallback,
    CoconutStageDataset,
    CurriculumSettings,
    collate_right_padded,
)

MODES = ("coconut", "no_thoughts", "cot", "no_cot")
SETTINGS_FILE = "coconut_run.json"


def load_base(base: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The base causal LM and its tokenizer from a Hub id or path, with an error that says how to fix a failed load."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
        model = AutoModelForCausalLM.from_pretrained(base)
    except (OSError, ValueError) as error:
        raise OSError(
            f"Could not load the base model {base!r} ({type(error).__name__}: {error}). If it is a Hub id and this "
            f"machine is offline, download it first where there is network (`hf download {base}`) into the Hub "
            "cache, or pass the local path of a folder holding the model and its tokenizer."
        ) from error
    return model, tokenizer


def load_examples(task: str, data_dir: str | None, train_file: str | None, limit: int | None) -> list[dict]:
    """Training examples `{"question", "steps", "answer"}`: `train_file` (Coconut-format JSON) or the task's train
    split; the first `limit` only when given."""
    rows = read_coconut_json(Path(train_file)) if train_file else get_task(task).load("train", data_dir).to_list()
    return rows[:limit] if limit is not None else rows


def check_output_dir(output_dir: Path, settings: dict, resume: bool) -> str | None:
    """The checkpoint to resume from (None: start afresh). Raises if `output_dir` holds another run."""
    saved_path = output_dir / SETTINGS_FILE
    if saved_path.is_file():
        saved = json.loads(saved_path.read_text())
        if saved != settings:
            differences = ", ".join(
                f"{key}: {saved.get(key)!r} there, {settings.get(key)!r} now"
                for key in sorted(set(saved) | set(settings))
                if saved.get(key) != settings.get(key)
            )
            raise ValueError(
                f"{output_dir} holds another Coconut run ({differences}). Pass a new --output-dir, or delete that "
                "folder to start over."
            )
    elif output_dir.is_dir() and any(output_dir.iterdir()):
        raise ValueError(
            f"{output_dir} is not empty and holds no {SETTINGS_FILE}: it is not a train_coconut run. Pass a new or "
            "empty --output-dir."
        )
    checkpoints = output_dir / "checkpoints"
    return get_last_checkpoint(str(checkpoints)) if resume and checkpoints.is_dir() else None


def build_model(
    base: str,
    settings: CurriculumSettings,
    lora: bool,
    lora_r: int,
    lora_alpha: int,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The model to train and its tokenizer: `CoconutForCausalLM.from_base` for "coconut"/"no_thoughts" (the number of
    thoughts `generate` runs is `c * max_latent_stage`, or 0 for "no_thoughts"), the base LM for "cot"/"no_cot";
    wrapped in a peft LoRA adapter on every linear layer when `lora` (the rows of the three Coconut tokens are trained
    too, as peft trainable tokens)."""
    model, tokenizer = load_base(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    trainable_tokens = None
    if settings.mode in ("coconut", "no_thoughts"):
        model = CoconutForCausalLM.from_base(
            model,
            tokenizer,
            c_thought=settings.c_thought,
            max_latent_stage=settings.max_latent_stage,
            num_latent_thoughts=0
            if settings.mode == "no_thoughts"
            else settings.c_thought * settings.max_latent_stage,
        )
        trainable_tokens = [model.config.start_latent_token_id, model.config.end_latent_token_id]
        trainable_tokens.append(model.config.latent_token_id)
    if lora:
        model.name_or_path = base  # recorded as the adapter's base_model_name_or_path
        config = peft.LoraConfig(
            r=lora_r,
            lora_alpha=lora_alpha,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
            trainable_token_indices=trainable_tokens,
        )
        model = peft.get_peft_model(model, config)
    return model, tokenizer


def save_artifact(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, output_dir: Path) -> None:
    """The trained model and its tokenizer at the top of `output_dir`; a LoRA model is saved merged there, its adapter
    in `output_dir/adapter` (for Coconut it applies to `CoconutForCausalLM.from_base(base, tokenizer)`, not to the
    bare base LM)."""
    if isinstance(model, peft.PeftModel):
        model.save_pretrained(output_dir / "adapter")
        tokenizer.save_pretrained(output_dir / "adapter")
        model = model.merge_and_unload()
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)


def train_coconut(
    base: str,
    output_dir: str | Path,
    task: str = "prosqa_style",
    data_dir: str | Path | None = None,
    train_file: str | Path | None = None,
    mode: str = "coconut",
    c_thought: int = 1,
    max_latent_stage: int = 6,
    epochs_per_stage: int = 5,
    num_epochs: int = 50,
    pad_latent_to_max: bool = True,
    uniform_prob: float = 0.0,
    lora: bool = False,
    lora_r: int = 8,
    lora_alpha: int = 16,
    learning_rate: float = 1e-4,
    weight_decay: float = 0.01,
    batch_size: int = 32,
    gradient_accumulation_steps: int = 4,
    limit: int | None = None,
    seed: int = 42,
    bf16: bool = False,
    save_steps: int | None = None,
    save_total_limit: int | None = 2,
    logging_steps: int = 10,
    resume: bool = True,
    evaluate: bool = True,
    eval_limit: int | None = None,
    eval_batch_size: int = 16,
    max_new_tokens: int = 128,
    callbacks: list[TrainerCallback] | None = None,
) -> dict:
    """
    Trains Coconut (or one of its baselines) from `base` on `task` and writes the artifact to `output_dir` (see the
    module docstring); rerunning the same call resumes from the last checkpoint in `output_dir/checkpoints`.

    Args:
        base: Hub id or path of the causal LM to start from (the paper: `openai-community/gpt2`).
        output_dir: where checkpoints, the artifact and `eval/` go.
        task: registry name (`softcot_hf.data.get_task`); its train split is the data unless `train_file` is given,
            its test split is evaluated. `data_dir`: a local copy of the task's files.
        train_file: Coconut-format JSON `[{"question", "steps", "answer"}]` to train on instead.
        mode: "coconut", "no_thoughts" (steps removed stage by stage, no thoughts), "cot" (question, steps and
            answer) or "no_cot" (question and answer).
        c_thought, max_latent_stage, epochs_per_stage, pad_latent_to_max, uniform_prob: the curriculum (see
            `CurriculumSettings`); the stage is `epoch // epochs_per_stage`.
        num_epochs: epochs in all, stages past `max_latent_stage` included.
        lora, lora_r, lora_alpha: train a LoRA adapter (every linear layer, plus the Coconut tokens' embedding rows)
            instead of all weights.
        learning_rate, weight_decay, batch_size, gradient_accumulation_steps, seed, bf16: the optimisation (AdamW,
            constant learning rate, per-device batch size).
        limit: train on the first `limit` examples only.
        save_steps: checkpoint every `save_steps` optimizer steps (default: every epoch); `save_total_limit` of them
            are kept. `logging_steps`: loss logging interval.
        resume: resume from the last checkpoint of the same run in `output_dir` (a different run there is refused).
        evaluate, eval_limit, eval_batch_size, max_new_tokens: evaluate the artifact on the task's test split with
            `softcot_hf.evaluation.run_evaluation` (greedy; answer after the last "#", exact match) into `eval/`.
        callbacks: more `TrainerCallback`s.

    Returns:
        `{"output_dir", "global_step", "train_loss", "eval"}`, `eval` being the evaluation summary (or None).
    """
    if mode not in MODES:
        raise ValueError(f"Unknown mode {mode!r}; choose one of {', '.join(MODES)}.")
    output_dir = Path(output_dir).resolve()
    curriculum_settings = CurriculumSettings(
        c_thought=c_thought,
        max_latent_stage=max_latent_stage,
        pad_latent_to_max=pad_latent_to_max,
        uniform_prob=uniform_prob,
        mode=mode,
    )
    settings = {
        "base": base,
        "task": task,
        "data_dir": str(Path(data_dir).resolve()) if data_dir else None,
        "train_file": str(Path(train_file).resolve()) if train_file else None,
        "mode": mode,
        "c_thought": c_thought,
        "max_latent_stage": max_latent_stage,
        "epochs_per_stage": epochs_per_stage,
        "num_epochs": num_epochs,
        "pad_latent_to_max": pad_latent_to_max,
        "uniform_prob": uniform_prob,
        "lora": lora,
        "lora_r": lora_r if lora else None,
        "lora_alpha": lora_alpha if lora else None,
        "learning_rate": learning_rate,
        "weight_decay": weight_decay,
        "batch_size": batch_size,
        "gradient_accumulation_steps": gradient_accumulation_steps,
        "limit": limit,
        "seed": seed,
        "bf16": bf16,
    }
    checkpoint = check_output_dir(output_dir, settings, resume)

    examples = load_examples(task, settings["data_dir"], settings["train_file"], limit)
    if mode in ("coconut", "no_thoughts") and not any(example["steps"] for example in examples):
        raise ValueError(
            f"Mode {mode!r} replaces rationale steps by continuous thoughts, but the training examples of {task!r} "
            "have no steps. Pick a task with rationales (e.g. prosqa_style, prontoqa, gsm8k_aug), pass a "
            "--train-file with steps, or train a baseline without them (mode 'no_cot')."
        )
    set_seed(seed)
    model, tokenizer = build_model(base, curriculum_settings, lora, lora_r, lora_alpha)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n")

    dataset = CoconutStageDataset(examples, CoconutCurriculum(tokenizer, curriculum_settings, seed=seed))
    stage_callbacks = [] if mode in ("cot", "no_cot") else [CoconutStageCallback(dataset, epochs_per_stage)]
    args = TrainingArguments(
        output_dir=str(output_dir / "checkpoints"),
        num_train_epochs=num_epochs,
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        lr_scheduler_type="constant",
        max_grad_norm=0.0,  # the paper does not clip gradients
        bf16=bf16,
        seed=seed,
        save_strategy="steps" if save_steps else "epoch",
        save_steps=save_steps or 500,
        save_total_limit=save_total_limit,
        logging_steps=logging_steps,
        report_to="none",
        dataloader_num_workers=0,  # the stage callback changes the dataset in this process
        remove_unused_columns=False,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=lambda features: collate_right_padded(features, tokenizer.pad_token_id),
        callbacks=stage_callbacks + list(callbacks or []),
    )
    output = trainer.train(resume_from_checkpoint=checkpoint)
    save_artifact(trainer.model, tokenizer, output_dir)

    summary = None
    if evaluate:
        from ..evaluation import run_evaluation

        summary = run_evaluation(
            task,
            "coconut" if mode in ("coconut", "no_thoughts") else mode,
            str(output_dir),
            data_dir=data_dir,
            split="test",
            limit=eval_limit,
            batch_size=eval_batch_size,
            max_new_tokens=max_new_tokens,
            output_dir=output_dir / "eval",
        )
    return {
        "output_dir": str(output_dir),
        "global_step": trainer.state.global_step,
        "train_loss": output.training_loss,
        "eval": summary,
    }


def add_arguments(parser: argparse.ArgumentParser, require_base: bool = True) -> None:
    """The options of `softcot-hf train coconut` and examples/train_coconut.py; defaults: the paper's ProsQA run."""
    parser.add_argument("--base", required=require_base, help="causal LM to start from: Hub id or path")
    parser.add_argument("--task", default="prosqa_style", help="task registry name; its test split is evaluated")
    parser.add_argument("--data-dir", help="local copy of the task's data (its original layout)")
    parser.add_argument("--train-file", help="Coconut-format JSON to train on instead of the task's train split")
    parser.add_argument("--output-dir", required=True, help="checkpoints, the final model and eval/ go here")
    parser.add_argument("--mode", choices=MODES, default="coconut", help="coconut or a baseline of the paper")
    parser.add_argument("--c-thought", type=int, default=1, help="continuous thoughts per step (paper: 1 on ProsQA)")
    parser.add_argument("--max-latent-stage", type=int, default=6, help="last latent stage (paper: 6 on ProsQA)")
    parser.add_argument("--epochs-per-stage", type=int, default=5, help="epochs per stage (paper: 5)")
    parser.add_argument("--epochs", type=int, default=50, help="epochs in all (paper: 50)")
    parser.add_argument(
        "--no-pad-latent-to-max", dest="pad_latent_to_max", action="store_false", help="fewer thoughts for short ones"
    )
    parser.add_argument("--uniform-prob", type=float, default=0.0, help="probability of a random stage per example")
    parser.add_argument("--lora", action="store_true", help="train a LoRA adapter (saved merged + in adapter/)")
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--lora-alpha", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4, help="AdamW learning rate, constant (paper: 1e-4)")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per device and micro-step")
    parser.add_argument("--gradient-accumulation-steps", type=int, default=4, help="paper: 128 examples per step")
    parser.add_argument("--limit", type=int, help="train on the first LIMIT examples only")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bf16", action="store_true", help="bf16 mixed precision")
    parser.add_argument("--save-steps", type=int, help="checkpoint every SAVE_STEPS steps (default: every epoch)")
    parser.add_argument("--logging-steps", type=int, default=10)
    parser.add_argument("--no-resume", dest="resume", action="store_false", help="ignore checkpoints in output-dir")
    parser.add_argument("--no-eval", dest="evaluate", action="store_false", help="skip the test-split evaluation")
    parser.add_argument("--eval-limit", type=int, help="evaluate on the first EVAL_LIMIT test examples")
    parser.add_argument("--eval-batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=128, help="answer tokens (the paper: 128 on ProsQA)")


def run_from_args(args: argparse.Namespace) -> dict:
    """Call `train_coconut` with parsed arguments and print where the model and the evaluation went."""
    result = train_coconut(
        args.base,
        args.output_dir,
        task=args.task,
        data_dir=args.data_dir,
        train_file=args.train_file,
        mode=args.mode,
        c_thought=args.c_thought,
        max_latent_stage=args.max_latent_stage,
        epochs_per_stage=args.epochs_per_stage,
        num_epochs=args.epochs,
        pad_latent_to_max=args.pad_latent_to_max,
        uniform_prob=args.uniform_prob,
        lora=args.lora,
        lora_r=args.lora_r,
        lora_alpha=args.lora_alpha,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        limit=args.limit,
        seed=args.seed,
        bf16=args.bf16,
        save_steps=args.save_steps,
        logging_steps=args.logging_steps,
        resume=args.resume,
        evaluate=args.evaluate,
        eval_limit=args.eval_limit,
        eval_batch_size=args.eval_batch_size,
        max_new_tokens=args.max_new_tokens,
    )
    loss = result["train_loss"] if result["train_loss"] is not None else math.nan
    print(f"coconut ({args.mode}): trained (train_loss {loss:.4f}); model in {result['output_dir']}")
    if result["eval"] is not None:
        summary = result["eval"]
        print(
            f"accuracy {summary['accuracy']:.4f}, mean generated tokens {summary['mean_generated_tokens']:.1f} "
            f"on {summary['num_examples']} test examples"
        )
    return result


def add_train_commands(subparsers: argparse._SubParsersAction) -> None:
    """`softcot-hf train coconut ...`."""
    help_text = "train Coconut (continuous thoughts, stage curriculum) or its cot / no_cot / no_thoughts baselines"
    parser = subparsers.add_parser("coconut", help=help_text, description=help_text)
    add_arguments(parser)
    parser.set_defaults(func=run_from_args)


__all__ = [
    "MODES",
    "add_arguments",
    "add_train_commands",
    "build_model",
    "load_base",
    "load_examples",
    "run_from_args",
    "save_artifact",
    "train_coconut",
]
