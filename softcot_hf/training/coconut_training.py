"""The curriculum pipeline: Coconut and the Coconut paper's baselines on `Trainer`, from the curriculum's data.

Coconut's defaults are the paper's GPT-2 / ProsQA run (`args/prosqa_coconut.yaml` of facebookresearch/coconut): c = 1,
6 latent stages of 5 epochs, 50 epochs, `pad_latent_to_max`, AdamW at lr 1e-4 with weight decay 0.01, constant
learning rate, no gradient clipping, 128 examples per step (32 per device x 4 accumulation steps here, 32 x 4 GPUs
there). Stages advance every `epochs_per_stage` epochs, with an optimizer reset at each change
(`CoconutStageCallback`).

Artifacts in `output_dir` (see `softcot_hf.training.runs` for `run.json`, `checkpoints/` and `eval/`):
- coconut / no_thoughts: a `CoconutForCausalLM` folder and its tokenizer (`no_thoughts` generates with 0 thoughts);
  with LoRA the merged model at the top level and the adapter in `adapter/`.
- cot / no_cot: the plain causal LM and its tokenizer.
- with `select_checkpoint="best_validation"`: the weights of the epoch with the best validation accuracy, and
  `validation.json` (every epoch's accuracy, the one kept; `softcot_hf.training.checkpoint_selection`).
"""

from collections.abc import Callable
from pathlib import Path

import peft
from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback, set_seed

from ..data import get_task
from ..data.sources import read_coconut_json
from ..loading import load_lm
from ..modeling.weights_record import record_weights
from ..run_files import training_identity
from .checkpoint_selection import SelectionTrainer, write_selection_record
from .coconut_curriculum import CoconutStageDataset
from .engines import TrainablePartTrainer, check_engine
from .runs import (
    CHECKPOINTS,
    check_output_dir,
    finished_run,
    no_folders_left_on_refusal,
    result,
    write_run_file,
    write_train_results,
)


def load_examples(
    task: str, data_dir: str | None, train_file: str | None, limit: int | None, options: dict | None = None
) -> list[dict]:
    """Training examples `{"question", "steps", "answer"}`: `train_file` (Coconut-format JSON) or the task's train
    split (`options` go to its loader); the first `limit` only when given."""
    if train_file:
        rows = read_coconut_json(Path(train_file))
    else:
        rows = get_task(task).load("train", data_dir, **(options or {})).to_list()
    return rows[:limit] if limit is not None else rows


def load_validation(args):
    """The validation questions that `select_checkpoint="best_validation"` scores after every epoch: the task's
    validation split (its first `validation_limit`)."""
    rows = get_task(args.task).load("validation", args.data_dir, **(args.data_options or {}))
    return rows.select(range(min(args.validation_limit, len(rows)))) if args.validation_limit else rows


def build_model(method, args) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The model to train (`method.build` on the base LM) and its tokenizer; wrapped in a peft LoRA adapter on every
    linear layer when `args.lora` (with the method's trainable token rows, e.g. Coconut's three tokens)."""
    base, tokenizer = load_lm(args.backbone, "base model")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = method.build(base, tokenizer, args)
    if args.lora:
        model.name_or_path = args.backbone  # recorded as the adapter's base_model_name_or_path
        model = args.wrap_in_lora(model, trainable_token_indices=method.trainable_token_ids(model))
    return model, tokenizer


def save_artifact(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, output_dir: Path, weights: bool = True
) -> None:
    """The trained model and its tokenizer at the top of `output_dir`; a LoRA model is saved merged there, its adapter
    in `output_dir/adapter` (for Coconut it applies to `CoconutForCausalLM.from_base(base, tokenizer)`, not to the
    bare base LM). `weights=False`: the tokenizer only (a sharded engine saved the model, `Trainer.save_model`)."""
    if not weights:
        tokenizer.save_pretrained(output_dir)
        return
    if isinstance(model, peft.PeftModel):
        model.save_pretrained(output_dir / "adapter")
        record_weights(output_dir / "adapter")  # peft writes no SHA-256 record; our models do (weights_record)
        tokenizer.save_pretrained(output_dir / "adapter")
        model = model.merge_and_unload()
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)


def train_curriculum_method(
    method,
    args,
    callbacks: list[TrainerCallback] | None = None,
    score_validation: Callable[..., float] | None = None,
) -> dict:
    """
    Train `method` (a `CurriculumMethod`) with `args` (its `arguments` dataclass) and write the artifact to
    `args.output_dir` (see the module docstring); rerunning the same call resumes from the last checkpoint.
    `callbacks`: more `TrainerCallback`s. `score_validation(model, tokenizer, questions) -> accuracy` scores every
    epoch for `select_checkpoint="best_validation"` (`softcot_hf.pipelines.train` passes the evaluation harness's).
    Returns `softcot_hf.training.runs.result(...)` (its final evaluation is `softcot_hf.pipelines.train`'s).
    """
    output_dir = Path(args.output_dir).resolve()
    selecting = args.select_checkpoint == "best_validation"
    if selecting and score_validation is None:
        raise ValueError(
            "select_checkpoint best_validation scores every epoch: pass score_validation= (softcot_hf.pipelines.train "
            "passes the evaluation harness's accuracy)."
        )
    # The validation answers' length decides which checkpoint is kept (max_new_tokens is otherwise the final
    # evaluation's, outside the identity).
    answer_tokens = args.max_new_tokens or method.answer_tokens
    derived = {"selection_max_new_tokens": answer_tokens} if selecting else {}
    # Checkpoints go to output_dir/checkpoints; the stage callback changes the dataset in this process.
    trainer_args = args.to_training_arguments(output_dir=str(output_dir / CHECKPOINTS), dataloader_num_workers=0)
    run = training_identity(args, trainer_args, **derived)
    checkpoint = check_output_dir(output_dir, run, args.resume, args.overwrite)
    if args.resume and not args.overwrite and (finished := finished_run(output_dir)) is not None:
        return finished
    validation = load_validation(args) if selecting else None  # before the training data: fail fast
    examples = load_examples(args.task, args.data_dir, args.train_file, args.limit, args.data_options)
    if method.staged and not any(example["steps"] for example in examples):
        raise ValueError(
            f"{method.name} replaces rationale steps stage by stage, but the training examples of {args.task!r} have "
            "no steps. Pick a task with rationales (e.g. prosqa_style, prontoqa, gsm8k_aug), pass a --train-file "
            "with steps, or train a baseline without them (no_cot)."
        )
    set_seed(args.seed)
    model, tokenizer = build_model(method, args)
    dataset = CoconutStageDataset(examples, method.encoder(tokenizer, args))
    collator, stage_callbacks = method.schedule(dataset, tokenizer, args)
    trainer_class, selection = TrainablePartTrainer, {}
    if selecting:
        trainer_class = SelectionTrainer
        selection = dict(score=score_validation, tokenizer=tokenizer, eval_dataset=validation)
        selection["num_latent_thoughts"] = lambda: method.thoughts_at_stage(args, dataset.stage)
    trainer_class = method.trainer_class(trainer_class, args)
    with no_folders_left_on_refusal(output_dir / CHECKPOINTS):
        trainer = trainer_class(
            model=model,
            args=trainer_args,
            train_dataset=dataset,
            data_collator=collator,
            callbacks=stage_callbacks + list(callbacks or []),
            **selection,
        )
        check_engine(trainer)
        refused = (
            (args.lora, "LoRA"),
            (selecting, "select_checkpoint best_validation"),
            (not method.shardable, "its training-only modules"),
        )
        for asked, what in refused:
            if asked and trainer.shards_model:
                raise ValueError(
                    f"{method.name} with {what} under FSDP or DeepSpeed is not supported yet (it needs the whole "
                    "model on one process): train it with DDP (softcot_hf/recipes/accelerate/ddp.yaml or torchrun), "
                    f"or without {what}."
                )
    if trainer.is_world_process_zero():
        write_run_file(output_dir, run)
    output = trainer.train(resume_from_checkpoint=checkpoint)
    if trainer.shards_model:  # every process gathers the weights, the main one writes them
        trainer.save_trainable(str(output_dir))
    if trainer.is_world_process_zero():
        artifact = method.artifact_model(trainer.model, tokenizer, output_dir, args)
        save_artifact(artifact, tokenizer, output_dir, weights=not trainer.shards_model)
        if selecting:
            write_selection_record(output_dir, trainer.state, len(validation))
    trainer.accelerator.wait_for_everyone()
    outcome = result(trainer, output, output_dir)
    if outcome["is_main_process"]:
        write_train_results(outcome)
    return outcome


__all__ = ["build_model", "load_examples", "save_artifact", "train_curriculum_method"]
