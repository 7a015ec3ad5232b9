"""Zero-Shot CoT: the frozen backbone, prompted to reason step by step. Nothing to train."""

from ..data.prompts import ZERO_SHOT
from .base import Method


class ZeroShotCoT(Method):
    name = "zero_shot_cot"
    title = "Zero-Shot CoT"
    prompt_template = ZERO_SHOT
    artifact_hint = "the backbone LM (backbone= or model=): a Hub id or folder"

    def load_runner(self, task, model=None, tokenizer=None, *, backbone=None, **kwargs):
        """The backbone is `backbone`, or `model` when no backbone is given."""
        return super().load_runner(task, backbone if backbone is not None else model, tokenizer, **kwargs)
