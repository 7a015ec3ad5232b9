"""Training: the two pipelines (frozen-model: softcot, cot_unk, lora; curriculum: coconut and its baselines), their
shared arguments and run folders, the Coconut curriculum's data side, the assistant-state cache.

Each method trains through its own pipeline (`softcot_hf.methods`); `softcot_hf.pipelines.train(args)` trains the
method `args.method` names and evaluates the artifact. This package's top imports only the arguments (light: no torch
or transformers until a pipeline runs); the rest is imported from its module.
"""

from .arguments import (
    CurriculumTrainingArguments,
    FrozenModelTrainingArguments,
    LoraArguments,
    MethodTrainingArguments,
    ThoughtSlotsTrainingArguments,
)

__all__ = [
    "CurriculumTrainingArguments",
    "FrozenModelTrainingArguments",
    "LoraArguments",
    "MethodTrainingArguments",
    "ThoughtSlotsTrainingArguments",
]
