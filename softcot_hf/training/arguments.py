"""Training arguments: `transformers.TrainingArguments` plus what every trained method shares, defined once.

Each trained method subclasses one of these in its own module (`softcot_hf.methods.*`), adding its options and the
paper's defaults, like TRL's configs. `softcot-hf train METHOD` parses the method's class with `HfArgumentParser`
(every field is a flag, `--name` or `--name-with-dashes`; short aliases below) and `--config FILE` reads the same
fields from YAML or JSON; the Python API takes the same dataclass: `softcot_hf.train(SoftCoTTrainingArguments(...))`.
"""

import os
from dataclasses import dataclass, field
from typing import Literal

import torch
from transformers import TrainingArguments

from .. import checks
from ..data import get_task, list_tasks
from .engines import deepspeed_requested


def _help(text: str, *aliases: str) -> dict:
    return {"metadata": {"help": text, **({"aliases": list(aliases)} if aliases else {})}}


@dataclass
class MethodTrainingArguments(TrainingArguments):
    """What every trained method takes: the model it starts from, the task, where the run goes, and the final
    evaluation. Checkpoints land every epoch unless `save_steps` is given; rerunning the same command resumes."""

    output_dir: str | None = field(default=None, **_help("checkpoints, the final artifact and eval/ go here"))
    backbone: str | None = field(default=None, **_help("the LM the method is built on: Hub id or local path"))
    task: str = field(default="gsm8k", **_help("task registry name (softcot-hf eval --help lists them)"))
    data_dir: str | None = field(default=None, **_help("local copy of the task's data, in its original layout"))
    data_options: dict | str | None = field(
        default=None, **_help('options of the task\'s loader, as JSON: e.g. {"socratic": true, "keep_notes": true}')
    )
    limit: int | None = field(default=None, **_help("train on the first LIMIT examples only"))
    resume: bool = field(default=True, **_help("resume from the last checkpoint of the same run in output_dir"))
    overwrite: bool = field(
        default=False, **_help("delete the run in output_dir (only the files it wrote) and train from scratch")
    )
    evaluate: bool = field(default=True, **_help("evaluate the artifact on the task's test split after training"))
    eval_limit: int | None = field(default=None, **_help("evaluate on the first EVAL_LIMIT test examples"))
    eval_batch_size: int = field(default=16, **_help("questions per generate call in the final evaluation"))
    max_new_tokens: int = field(default=256, **_help("answer tokens in the final evaluation"))
    # TrainingArguments fields with our defaults and the short flags of `softcot-hf train`.
    learning_rate: float = field(default=2e-5, **_help("AdamW learning rate", "--lr"))
    num_train_epochs: float = field(default=10.0, **_help("training epochs", "--epochs"))
    per_device_train_batch_size: int = field(default=4, **_help("examples per device and step", "--batch-size"))
    save_steps: float | None = field(default=None, **_help("checkpoint every SAVE_STEPS steps (default: each epoch)"))
    save_total_limit: int | None = field(default=2, **_help("checkpoints kept"))
    logging_steps: float = field(default=10, **_help("loss logging interval in steps"))
    remove_unused_columns: bool = field(default=False, **_help("keep our collators' columns (do not change)"))

    def __post_init__(self):
        if not self.output_dir:
            raise ValueError("Pass --output-dir (output_dir=): checkpoints, the artifact and eval/ go there.")
        if not self.backbone:
            raise ValueError("Pass --backbone (backbone=): the Hub id or local path of the LM to start from.")
        if self.task not in list_tasks():
            raise ValueError(f"Unknown task {self.task!r}; choose one of {', '.join(list_tasks())}.")
        checks.numbers(self)
        checks.json_object(self, "data_options", '{"socratic": true}')
        flag = checks.flag(self, "data_options")
        get_task(self.task).check_options(self.data_options or {}, local=self.data_dir is not None, name=flag)
        checks.choices(self)
        checks.output_folder(self, "output_dir")
        checks.model_location(self, "backbone")
        checks.existing_path(self, "data_dir", folder=True)
        checks.positive(self, "learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps")
        checks.positive(self, "limit", "eval_limit", "eval_batch_size", "max_new_tokens")
        checks.require(
            self, "max_steps", self.max_steps == -1 or self.max_steps > 0, "more than 0, or -1 (train epochs)"
        )
        if self.max_steps == -1:
            checks.positive(self, "num_train_epochs")
        self.save_strategy = "steps" if self.save_steps else "epoch"
        self.data_seed = self.seed if self.data_seed is None else self.data_seed
        # Without CUDA, say so: several CPU processes then run DDP over gloo (and give one process's weights). Not
        # under DeepSpeed, which accelerate enables only when the run is not marked CPU-only (it runs on CPU too).
        on_cpu = not torch.cuda.is_available()
        self.use_cpu = self.use_cpu or (on_cpu and not deepspeed_requested(self))
        if self.ddp_backend is None and on_cpu and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            self.ddp_backend = "gloo"
        super().__post_init__()


@dataclass
class LoraArguments:
    """The LoRA adapter: every linear layer, rank `lora_r`, scale `lora_alpha / lora_r`."""

    lora_r: int = field(default=8, **_help("LoRA rank"))
    lora_alpha: int = field(default=16, **_help("LoRA alpha"))

    def check_lora(self) -> None:
        checks.positive(self, "lora_r", "lora_alpha")

    def wrap_in_lora(self, model, **settings):
        """`model` as a peft LoRA model with this adapter (`settings`: more `LoraConfig` fields). The target modules
        peft found are kept sorted, so adapter_config.json is the same bytes from run to run (peft keeps a set)."""
        import peft

        config = peft.LoraConfig(
            r=self.lora_r, lora_alpha=self.lora_alpha, target_modules="all-linear", task_type="CAUSAL_LM", **settings
        )
        model = peft.get_peft_model(model, config)
        for adapter in model.peft_config.values():
            adapter.target_modules = sorted(adapter.target_modules)
        return model


@dataclass
class FrozenModelTrainingArguments(MethodTrainingArguments):
    """Methods that train a small part beside frozen models (SoftCoT, CoT-Unk, LoRA). The SoftCoT paper's defaults:
    lr 2e-5, 10 epochs, linear decay."""

    frozen_dtype: Literal["auto", "bf16", "fp32"] = field(
        default="auto", **_help("dtype of the frozen models; auto: bf16 on a GPU that supports it, else fp32")
    )
    # Checkpointing is ours (the frozen layers are in eval mode, where Trainer's would checkpoint nothing).
    gradient_checkpointing: bool = field(default=False, **_help("checkpoint the frozen backbone's layers"))

    def __post_init__(self):
        # Kept out of TrainingArguments' sight: on transformers with `activation_checkpointing` it would warn that the
        # name is deprecated (whoever set it) and turn on Trainer's own checkpointing under the new name.
        ours, self.gradient_checkpointing = self.gradient_checkpointing, None
        super().__post_init__()
        self.gradient_checkpointing = ours


@dataclass
class ThoughtSlotsTrainingArguments(FrozenModelTrainingArguments):
    """Methods that fill N thought slots in the frozen backbone's prompt (SoftCoT, CoT-Unk)."""

    num_thought_tokens: int = field(default=4, **_help("N, thought slots per question (paper: 4)"))

    def __post_init__(self):
        super().__post_init__()  # first: it checks the types of every number and flag
        if self.num_thought_tokens < 1:
            raise ValueError(f"num_thought_tokens must be at least 1, got {self.num_thought_tokens}.")


@dataclass
class CurriculumTrainingArguments(MethodTrainingArguments, LoraArguments):
    """Methods trained on the Coconut curriculum's data (Coconut and its paper's baselines). The Coconut paper's GPT-2
    / ProsQA defaults: c = 1, 6 latent stages of 5 epochs, 50 epochs, AdamW lr 1e-4, weight decay 0.01, constant
    learning rate, no gradient clipping, 128 examples per step (32 x 4 accumulation here)."""

    task: str = field(default="prosqa_style", **_help("task registry name; its train split is the data"))
    train_file: str | None = field(default=None, **_help("Coconut-format JSON to train on instead of the task's"))
    c_thought: int = field(default=1, **_help("continuous thoughts per replaced step (paper: 1 on ProsQA)"))
    max_latent_stage: int = field(default=6, **_help("last latent stage (paper: 6 on ProsQA)"))
    epochs_per_stage: int = field(default=5, **_help("epochs per curriculum stage (paper: 5)"))
    pad_latent_to_max: bool = field(default=True, **_help("always write stage x c thoughts, even for short ones"))
    uniform_prob: float = field(default=0.0, **_help("probability of a random stage per example"))
    lora: bool = field(default=False, **_help("train a LoRA adapter (saved merged + in adapter/)"))
    max_new_tokens: int = field(default=128, **_help("answer tokens in the final evaluation (paper: 128)"))
    learning_rate: float = field(default=1e-4, **_help("AdamW learning rate (paper: 1e-4)", "--lr"))
    num_train_epochs: float = field(default=50, **_help("epochs in all (paper: 50)", "--epochs"))
    per_device_train_batch_size: int = field(default=32, **_help("examples per device and micro-step", "--batch-size"))
    gradient_accumulation_steps: int = field(default=4, **_help("paper: 128 examples per step"))
    weight_decay: float = field(default=0.01, **_help("AdamW weight decay (paper: 0.01)"))
    lr_scheduler_type: str = field(default="constant", **_help("learning-rate schedule (paper: constant)"))
    max_grad_norm: float = field(default=0.0, **_help("gradient clipping; 0: none, as in the paper"))
    select_checkpoint: Literal["last", "best_validation"] = field(
        default="last",
        **_help(
            "the artifact: the last epoch's weights, or those of the epoch with the best greedy answer accuracy on "
            "the task's validation split, evaluated after every epoch (the official runs)"
        ),
    )
    validation_limit: int | None = field(default=None, **_help("best_validation: the first N validation questions"))

    def __post_init__(self):
        if self.select_checkpoint == "best_validation":  # Trainer evaluates, keeps and reloads the best epoch
            checks.require(self, "save_steps", self.save_steps is None, "unset with best_validation (every epoch)")
            if self.task in list_tasks() and "validation" not in (splits := get_task(self.task).splits):
                raise ValueError(
                    f"--select_checkpoint best_validation scores the validation split after every epoch, but "
                    f"{self.task} has none (splits: {', '.join(splits)}). Keep the last epoch: --select_checkpoint "
                    "last."
                )
            # Set before TrainingArguments' own checks, which read (and convert) them.
            self.eval_strategy = "epoch"
            self.load_best_model_at_end = True
            self.metric_for_best_model = "accuracy"
            self.greater_is_better = True
        super().__post_init__()  # it checks the types of every number and flag
        for name in ("c_thought", "epochs_per_stage"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.max_latent_stage < 0:
            raise ValueError(f"max_latent_stage must be 0 or more, got {self.max_latent_stage}.")
        checks.require(self, "uniform_prob", 0 <= self.uniform_prob <= 1, "a probability, between 0 and 1")
        checks.existing_path(self, "train_file")
        checks.positive(self, "validation_limit")
        if self.lora:
            self.check_lora()


__all__ = [
    "ThoughtSlotsTrainingArguments",
    "CurriculumTrainingArguments",
    "FrozenModelTrainingArguments",
    "LoraArguments",
    "MethodTrainingArguments",
]
