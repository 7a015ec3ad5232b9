"""What `softcot-hf compare` runs on each task: the shipped base model, the data, and each method's training budget.

Light on purpose (standard library and `softcot_hf.quickstart.settings` only), so that `softcot-hf compare --help`
and the argument checks import neither torch nor transformers.

A method joins the table by one row in a task's `budget` (`TaskSetup.budgets`): its training options (the fields of
its arguments dataclass in `softcot_hf.training.method_arguments.TRAINED_METHODS`) and the smaller ones `--tiny` puts
over them; a row of `None` is a method evaluated as it is on the frozen backbone (zero_shot_cot). Every method of
a task is trained on the same first `train_examples` training questions, with the same batch size, per seed, and
evaluated greedily on the same first `test_examples` test questions.

The budgets are the quickstart's (`softcot_hf.quickstart.settings.FULL`), far above the papers' learning rates:
these models are tiny and the budget is a few hundred steps.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .quickstart.settings import PROSQA_OPTIONS, PROSQA_TASK, TASK

SEEDS = (0, 1, 2)
# Training options that `compare` sets itself, the same for every run of a task (the footing): no budget row and no
# sweep may set them.
FOOTING = (
    "method", "backbone", "assistant", "task", "data_options", "limit", "seed", "per_device_train_batch_size",
    "gradient_accumulation_steps", "output_dir", "save_total_limit", "evaluate", "overwrite",
)  # fmt: skip


@dataclass(frozen=True)
class Budget:
    """A method's training options on one task (`options`), and those `--tiny` replaces (`tiny`)."""

    options: Mapping[str, object]
    tiny: Mapping[str, object] = field(default_factory=dict)

    def resolved(self, tiny: bool) -> dict:
        """The options to train with: `options`, with `tiny` over them when `tiny` is on."""
        return {**self.options, **(self.tiny if tiny else {})}


@dataclass(frozen=True)
class TaskSetup:
    """One task's footing: the shipped models (folders of `softcot_hf/assets/quickstart/`), the task's data options,
    how many questions, the answer length, the training batch, the accuracy of guessing (None: the floor is the
    majority answer's rate), each method's `Budget` (in table order) and what `--tiny` changes here."""

    backbone: str
    assistant: str  # for the methods whose arguments take one (softcot, softcotpp)
    data_options: Mapping[str, object]
    train_examples: int
    test_examples: int
    max_new_tokens: int
    batch_size: int
    chance: float | None
    budgets: Mapping[str, Budget | None]
    tiny: Mapping[str, object] = field(default_factory=dict)

    def scaled(self, tiny: bool) -> "TaskSetup":
        """This setup, with its `tiny` fields over it when `tiny` is on."""
        return replace(self, **self.tiny) if tiny else self


_FINETUNE = {"num_train_epochs": 3, "learning_rate": 3e-4}
_SOFTCOT = Budget({"max_steps": 192, "learning_rate": 3e-3}, {"max_steps": 4})
# Coconut: stage 0 (the written steps) for `epochs_per_stage` epochs, then the first step replaced by c_thought
# thoughts (max_latent_stage 1: these tiny models do not learn the all-latent stages of 2-4 step chains in budget).
_COCONUT = {"c_thought": 1, "max_latent_stage": 1, "epochs_per_stage": 3, "num_train_epochs": 6, "learning_rate": 1e-3}
# ProsQA-style: every method trains as many epochs as Coconut's curriculum has stages (0 to max_depth: all latent).
_PROSQA_EPOCHS = PROSQA_OPTIONS["max_depth"] + 1
_PROSQA = {"num_train_epochs": _PROSQA_EPOCHS, "learning_rate": 1e-3}
_PROSQA_COCONUT = {**_PROSQA, "c_thought": 1, "max_latent_stage": PROSQA_OPTIONS["max_depth"], "epochs_per_stage": 1}
# CODI: full fine-tuning here (its LoRA scored lower on these tiny models: 15.5 vs 20.5 on one seed); iCoT-SI: the
# whole rationale (10-20 tokens) removed by the last epochs, 4 tokens more each epoch.
_CODI = {"num_train_epochs": 6, "learning_rate": 1e-3, "lora": False}
_ICOT_SI = {**_FINETUNE, "num_train_epochs": 6, "tokens_removed_per_epoch": 4, "remove_all_beyond": 16}
_PROSQA_SOFTCOT = Budget({"max_steps": 16 * _PROSQA_EPOCHS, "learning_rate": 3e-3}, {"max_steps": 4})

TASKS: dict[str, TaskSetup] = {
    TASK: TaskSetup(
        backbone="backbone",
        assistant="assistant",
        data_options={},
        train_examples=1024,
        test_examples=500,
        max_new_tokens=48,
        batch_size=32,
        chance=None,
        budgets=dict(
            {
                "no_cot": Budget(_FINETUNE, {"num_train_epochs": 1}),
                "cot": Budget(_FINETUNE, {"num_train_epochs": 1}),
                "zero_shot_cot": None,
                "coconut": Budget(_COCONUT, {"epochs_per_stage": 1, "num_train_epochs": 2}),
                "simcot": Budget(_COCONUT, {"epochs_per_stage": 1, "num_train_epochs": 2}),
                "codi": Budget(_CODI, {"num_train_epochs": 1}),
                "icot_si": Budget(_ICOT_SI, {"num_train_epochs": 1}),
                "softcot": _SOFTCOT,
                "softcotpp": _SOFTCOT,
            }
        ),
        tiny=dict({"train_examples": 32, "test_examples": 8, "max_new_tokens": 24, "batch_size": 16}),
    ),
    PROSQA_TASK: TaskSetup(
        backbone="prosqa_backbone",
        assistant="assistant",
        data_options=dict(PROSQA_OPTIONS),
        train_examples=512,
        test_examples=500,
        max_new_tokens=32,
        batch_size=32,
        chance=0.5,  # two options per question
        budgets=dict(
            {
                "no_cot": Budget(_PROSQA),
                "cot": Budget(_PROSQA),
                "coconut": Budget(_PROSQA_COCONUT),
                "simcot": Budget(_PROSQA_COCONUT),
                "codi": Budget({**_PROSQA, "lora": False, "num_latent_thoughts": PROSQA_OPTIONS["max_depth"]}),
                # ProsQA-style rationales: 2-3 facts of 5-6 tokens; all removed by the last epoch
                "icot_si": Budget({**_PROSQA, "tokens_removed_per_epoch": 6, "remove_all_beyond": 18}),
                "softcot": _PROSQA_SOFTCOT,
                "softcotpp": _PROSQA_SOFTCOT,
            }
        ),
        tiny=dict({"train_examples": 16, "test_examples": 8, "max_new_tokens": 16, "batch_size": 16}),
    ),
}


__all__ = ["FOOTING", "SEEDS", "TASKS", "Budget", "TaskSetup"]
