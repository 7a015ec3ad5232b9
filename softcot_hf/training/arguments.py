"""Training arguments: what every trained method shares, defined once, as plain dataclasses.

They import neither torch nor transformers (the command line renders their help without either). They hold our
options and the `transformers.TrainingArguments` fields we give a default or a short flag; any other
`TrainingArguments` field goes in `trainer_args`. `to_training_arguments()` builds the real `TrainingArguments` that a
training pipeline hands to `Trainer`. Each method's own options subclass these
(`softcot_hf.training.method_arguments`); `softcot-hf train METHOD` parses that class (every field is a flag, `--name`
or `--name-with-dashes`; short aliases below) and `--config FILE` reads the same fields from YAML or JSON; the Python
API takes the same dataclass:
`softcot_hf.pipelines.train(SoftCoTTrainingArguments(...))`.
"""

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from .. import checks
from ..arguments_parser import ExtraOptions
from ..shared_options import AnswerOptions, TaskOptions

TRAINER_ARGS_HELP = (
    'other transformers TrainingArguments fields, as JSON, e.g. {"bf16": true, "deepspeed": "ds.json"} '
    "(softcot-hf train METHOD --help-all lists them)"
)


def _help(text: str, *aliases: str) -> dict:
    return {"metadata": {"help": text, **({"aliases": list(aliases)} if aliases else {})}}


def _training_arguments_class() -> type:
    from transformers import TrainingArguments

    return TrainingArguments


def trainer_argument_names() -> set[str]:
    """The names `transformers.TrainingArguments` takes (imports transformers)."""
    from transformers import TrainingArguments

    return {field.name for field in dataclasses.fields(TrainingArguments) if field.init}


def route_trainer_args(arguments: type, options: dict[str, Any]) -> dict[str, Any]:
    """`options` (by field name, e.g. a recipe's train section or a --config file) for the training `arguments`
    dataclass, with each key that is not one of its fields but a `TrainingArguments` field moved into `trainer_args`.
    Other keys stay, for the dataclass to refuse. Imports transformers only when such a key is there."""
    own = {field.name for field in dataclasses.fields(arguments)}
    foreign = [key for key in options if key not in own]
    if not foreign or "trainer_args" not in own:
        return dict(options)
    trainer_names = trainer_argument_names()
    routed = {key: value for key, value in options.items() if key not in trainer_names or key in own}
    moved = {key: value for key, value in options.items() if key in trainer_names and key not in own}
    if moved:
        given = options.get("trainer_args") or {}
        routed["trainer_args"] = {**moved, **(json.loads(given) if isinstance(given, str) else given)}
    return routed


@dataclass
class MethodTrainingArguments(TaskOptions, AnswerOptions):
    """What every trained method takes: the model it starts from, the task, where the run goes, the optimisation, and
    the final evaluation (its task options and answer length are the evaluation's own: `TaskOptions`,
    `AnswerOptions`). Checkpoints land every epoch unless `save_steps` is given; rerunning the same command resumes."""

    # The command line's other flags that are TrainingArguments fields go into `trainer_args` (arguments_parser).
    extra_options: ClassVar[ExtraOptions] = ExtraOptions(
        "trainer_args", _training_arguments_class, "transformers TrainingArguments"
    )

    method: str | None = field(
        default=None, **_help("the method these options train (softcot-hf train METHOD sets it; softcot_hf.methods)")
    )
    output_dir: str | None = field(default=None, **_help("checkpoints, the final artifact and eval/ go here"))
    backbone: str | None = field(default=None, **_help("the LM the method is built on: Hub id or local path"))
    task: str = field(default="gsm8k", **_help("task registry name (softcot-hf eval --help lists them)"))
    limit: int | None = field(default=None, **_help("train on the first LIMIT examples only"))
    resume: bool = field(
        default=True, **_help("resume from the last checkpoint of the same run in output_dir (--no-resume: afresh)")
    )
    overwrite: bool = field(
        default=False, **_help("delete the run in output_dir (only the files it wrote) and train from scratch")
    )
    evaluate: bool = field(default=True, **_help("evaluate the artifact on the task's test split after training"))
    eval_limit: int | None = field(default=None, **_help("evaluate on the first EVAL_LIMIT test examples"))
    eval_batch_size: int = field(default=16, **_help("questions per generate call in the final evaluation"))
    # TrainingArguments fields with our defaults and the short flags of `softcot-hf train`.
    learning_rate: float = field(default=2e-5, **_help("AdamW learning rate", "--lr"))
    num_train_epochs: float = field(default=10.0, **_help("training epochs", "--epochs"))
    per_device_train_batch_size: int = field(default=4, **_help("examples per device and step", "--batch-size"))
    gradient_accumulation_steps: int = field(default=1, **_help("micro-steps per optimizer step"))
    weight_decay: float = field(default=0.0, **_help("AdamW weight decay"))
    lr_scheduler_type: str = field(default="linear", **_help("learning-rate schedule (transformers' names)"))
    max_grad_norm: float = field(default=1.0, **_help("gradient clipping; 0: none"))
    warmup_steps: float = field(default=0, **_help("learning-rate warmup steps (below 1: a share of all)"))
    seed: int = field(default=42, **_help("the seed of the trained part's initialisation and of the data order"))
    data_seed: int | None = field(default=None, **_help("the data order's seed (default: seed)"))
    max_steps: int = field(default=-1, **_help("optimizer steps in all; -1: train num_train_epochs"))
    save_steps: float | None = field(default=None, **_help("checkpoint every SAVE_STEPS steps (default: each epoch)"))
    save_total_limit: int | None = field(default=2, **_help("checkpoints kept"))
    logging_steps: float = field(default=10, **_help("loss logging interval in steps"))
    gradient_checkpointing: bool = field(
        default=False, **_help("recompute layer activations in the backward pass: less memory, more time")
    )
    trainer_args: dict | str | None = field(default=None, **_help(TRAINER_ARGS_HELP))

    def __post_init__(self):
        if not self.output_dir:
            raise ValueError("Pass --output-dir (output_dir=): checkpoints, the artifact and eval/ go there.")
        if not self.backbone:
            raise ValueError("Pass --backbone (backbone=): the Hub id or local path of the LM to start from.")
        checks.numbers(self)
        self.check_task_options()
        checks.choices(self)
        checks.output_folder(self, "output_dir")
        checks.model_location(self, "backbone")
        checks.positive(self, "learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps")
        checks.positive(self, "limit", "eval_limit", "eval_batch_size", "max_new_tokens")
        checks.require(
            self, "max_steps", self.max_steps == -1 or self.max_steps > 0, "more than 0, or -1 (train epochs)"
        )
        if self.max_steps == -1:
            checks.positive(self, "num_train_epochs")
        checks.json_object(self, "trainer_args", '{"bf16": true}')
        if isinstance(self.trainer_args, dict) and (ours := sorted(set(self.trainer_args) & self._field_names())):
            raise ValueError(
                f"trainer_args sets {', '.join(ours)}, which are options of their own: pass "
                f"{' '.join(f'--{name}' for name in ours)} instead."
            )

    @classmethod
    def _field_names(cls) -> set[str]:
        return {field.name for field in dataclasses.fields(cls)}

    def trainer_settings(self) -> dict[str, Any]:
        """`TrainingArguments` fields these options decide beyond the ones passed on as they are."""
        return {}

    def to_training_arguments(self, **overrides):
        """The `transformers.TrainingArguments` of this run (imports transformers): the trainer fields above, then
        `trainer_args`, then `overrides` (e.g. the checkpoints folder). Checkpoints each epoch unless `save_steps`;
        without CUDA the run is marked CPU-only (several CPU processes then run DDP over gloo), except under
        DeepSpeed, which accelerate enables only when the run is not marked CPU-only (it runs on CPU too)."""
        import torch
        import transformers
        from transformers import TrainingArguments

        from ..compat import checkpointing_field
        from .engines import deepspeed_requested

        trainer_names = trainer_argument_names()
        extra = dict(self.trainer_args or {})
        unknown = sorted(set(extra) - trainer_names)
        if unknown:
            what = "is not a TrainingArguments field" if len(unknown) == 1 else "are not TrainingArguments fields"
            raise ValueError(
                f"trainer_args: {', '.join(unknown)} {what} (transformers {transformers.__version__}); see "
                "softcot-hf train METHOD --help-all for the ones it takes."
            )
        # Our fields that Trainer also has go to it under their names.
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name in trainer_names}
        values.update(
            output_dir=self.output_dir,
            save_strategy="steps" if self.save_steps else "epoch",
            data_seed=self.seed if self.data_seed is None else self.data_seed,
            remove_unused_columns=False,  # our collators read columns Trainer does not know
        )
        values.update(self.trainer_settings())
        values.update(extra)
        values.update(overrides)
        if values.pop("gradient_checkpointing"):  # off: transformers' default, under whichever name it has
            values[checkpointing_field()] = True
        on_cpu = not torch.cuda.is_available()
        values["use_cpu"] = values.get("use_cpu") or (on_cpu and not deepspeed_requested(values.get("deepspeed")))
        if values.get("ddp_backend") is None and on_cpu and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            values["ddp_backend"] = "gloo"
        return TrainingArguments(**values)


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
    lr 2e-5, 10 epochs, linear decay. Gradient checkpointing covers the frozen backbone's layers."""

    frozen_dtype: Literal["auto", "bf16", "fp32"] = field(
        default="auto", **_help("dtype of the frozen models; auto: bf16 on a GPU that supports it, else fp32")
    )

    def to_training_arguments(self, **overrides):
        """As `MethodTrainingArguments.to_training_arguments`, with Trainer's own checkpointing off: ours covers the
        frozen backbone's layers (`enable_frozen_gradient_checkpointing`), which Trainer's would not reach."""
        return super().to_training_arguments(**{"gradient_checkpointing": False, **overrides})


@dataclass
class ThoughtSlotsTrainingArguments(FrozenModelTrainingArguments):
    """Methods that fill N thought slots in the frozen backbone's prompt (SoftCoT, CoT-Unk); CoT-Unk's arguments (its
    data, prompt, N and optimisation are SoftCoT's, without an assistant)."""

    method: str = field(default="cot_unk", **_help("cot_unk, or a method with more options (softcot)"))
    num_thought_tokens: int = field(default=4, **_help("N, thought slots per question (paper: 4)"))

    def __post_init__(self):
        super().__post_init__()  # first: it checks the types of every number and flag
        checks.positive(self, "num_thought_tokens")


@dataclass
class CurriculumTrainingArguments(MethodTrainingArguments, LoraArguments):
    """Methods trained on the Coconut curriculum's data (Coconut and its paper's baselines). The Coconut paper's GPT-2
    / ProsQA defaults: c = 1, 6 latent stages of 5 epochs, 50 epochs, AdamW lr 1e-4, weight decay 0.01, constant
    learning rate, no gradient clipping, 128 examples per step (32 x 4 accumulation here). The arguments of the
    CoT and No-CoT baselines (the curriculum options do not apply to them)."""

    method: str = field(default="cot", **_help("cot (the written rationale) or no_cot (the answer only)"))
    task: str = field(default="prosqa_style", **_help("task registry name; its train split is the data"))
    train_file: str | None = field(default=None, **_help("Coconut-format JSON to train on instead of the task's"))
    c_thought: int = field(default=1, **_help("continuous thoughts per replaced step (paper: 1 on ProsQA)"))
    max_latent_stage: int = field(default=6, **_help("last latent stage (paper: 6 on ProsQA)"))
    epochs_per_stage: int = field(default=5, **_help("epochs per curriculum stage (paper: 5)"))
    pad_latent_to_max: bool = field(default=True, **_help("always write stage x c thoughts, even for short ones"))
    uniform_prob: float = field(default=0.0, **_help("probability of a random stage per example"))
    lora: bool = field(default=False, **_help("train a LoRA adapter (saved merged + in adapter/)"))
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
        super().__post_init__()  # first: it checks the types of every number and flag
        if self.select_checkpoint == "best_validation":
            from ..data import get_task

            checks.require(self, "save_steps", self.save_steps is None, "unset with best_validation (every epoch)")
            if "validation" not in (splits := get_task(self.task).splits):
                raise ValueError(
                    f"--select_checkpoint best_validation scores the validation split after every epoch, but "
                    f"{self.task} has none (splits: {', '.join(splits)}). Keep the last epoch: --select_checkpoint "
                    "last."
                )
        checks.positive(self, "c_thought", "epochs_per_stage")
        checks.require(self, "max_latent_stage", self.max_latent_stage >= 0, "0 or more")
        checks.require(self, "uniform_prob", 0 <= self.uniform_prob <= 1, "a probability, between 0 and 1")
        checks.existing_path(self, "train_file")
        checks.positive(self, "validation_limit")
        if self.lora:
            self.check_lora()

    def trainer_settings(self) -> dict[str, Any]:
        """With best_validation, Trainer evaluates every epoch, keeps and reloads the best one."""
        if self.select_checkpoint != "best_validation":
            return {}
        return {
            "eval_strategy": "epoch",
            "load_best_model_at_end": True,
            "metric_for_best_model": "accuracy",
            "greater_is_better": True,
        }


__all__ = [
    "TRAINER_ARGS_HELP",
    "CurriculumTrainingArguments",
    "FrozenModelTrainingArguments",
    "LoraArguments",
    "MethodTrainingArguments",
    "ThoughtSlotsTrainingArguments",
    "route_trainer_args",
    "trainer_argument_names",
]
