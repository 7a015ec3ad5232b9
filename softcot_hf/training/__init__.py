"""Training: the two pipelines (frozen-model: softcot, cot_unk, lora; curriculum: coconut and its baselines), their
shared arguments and run folders, the Coconut curriculum's data side, the assistant-state cache.

`train(args)` trains the method whose arguments `args` are (e.g. `SoftCoTTrainingArguments`, `CoconutTrainingArguments`
from `softcot_hf.methods`).
"""

from .arguments import (
    CurriculumTrainingArguments,
    FrozenModelTrainingArguments,
    LoraArguments,
    MethodTrainingArguments,
)
from .assistant_cache import cache_fingerprint, load_or_compute_assistant_states
from .coconut_curriculum import (
    CoconutCurriculum,
    CoconutStageCallback,
    CoconutStageDataset,
    CurriculumSettings,
    RationaleExamples,
    collate_right_padded,
)
from .softcot_data import LeftPadCollator, TrainExamples, training_target


def train(args: MethodTrainingArguments, **kwargs) -> dict:
    """Train the method `args` belong to (`type(args)` is the `arguments` of exactly one method) and write its
    artifact to `args.output_dir`; `kwargs` go to its pipeline (curriculum methods: `callbacks=`)."""
    from ..methods import METHODS

    owners = [method for method in METHODS.values() if method.arguments is type(args)]
    if len(owners) != 1:
        trained = ", ".join(f"{m.arguments.__name__} ({m.name})" for m in METHODS.values() if m.arguments)
        raise TypeError(f"{type(args).__name__} are not the training arguments of a method; use one of {trained}.")
    return owners[0].train(args, **kwargs)


__all__ = [
    "CoconutCurriculum",
    "CoconutStageCallback",
    "CoconutStageDataset",
    "CurriculumSettings",
    "CurriculumTrainingArguments",
    "FrozenModelTrainingArguments",
    "LeftPadCollator",
    "LoraArguments",
    "MethodTrainingArguments",
    "RationaleExamples",
    "TrainExamples",
    "cache_fingerprint",
    "collate_right_padded",
    "load_or_compute_assistant_states",
    "train",
    "training_target",
]
