"""Training: the Coconut curriculum (data side, stage callback); the SoftCoT pipeline (softcot, cot_unk, lora)."""

from .assistant_cache import cache_fingerprint, load_or_compute_assistant_states
from .coconut_curriculum import (
    CoconutCurriculum,
    CoconutStageCallback,
    CoconutStageDataset,
    CurriculumSettings,
    collate_right_padded,
)
from .coconut_training import train_coconut
from .softcot_data import LeftPadCollator, TrainExamples, training_target
from .softcot_training import train_softcot_pipeline

__all__ = [
    "CoconutCurriculum",
    "CoconutStageCallback",
    "CoconutStageDataset",
    "CurriculumSettings",
    "collate_right_padded",
    "LeftPadCollator",
    "TrainExamples",
    "cache_fingerprint",
    "load_or_compute_assistant_states",
    "train_coconut",
    "train_softcot_pipeline",
    "training_target",
]
