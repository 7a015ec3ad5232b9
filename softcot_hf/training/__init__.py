"""Training: the Coconut curriculum (data side, stage callback)."""

from .coconut_curriculum import (
    CoconutCurriculum,
    CoconutStageCallback,
    CoconutStageDataset,
    CurriculumSettings,
    collate_right_padded,
)

__all__ = [
    "CoconutCurriculum",
    "CoconutStageCallback",
    "CoconutStageDataset",
    "CurriculumSettings",
    "collate_right_padded",
]
