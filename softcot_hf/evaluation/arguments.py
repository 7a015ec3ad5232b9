"""Evaluation arguments: every option of `softcot-hf eval` and `run_evaluation`, defined once."""

from dataclasses import dataclass, field

import torch

from .. import checks


def _help(text: str) -> dict:
    return {"metadata": {"help": text}}


@dataclass
class EvaluationArguments:
    """One method on one task over several seeds (see `run_evaluation`). From Python, `task`, `method` and `model`
    may also be a `Task`, a `Method` and a loaded model."""

    task: str | None = field(default=None, **_help("task registry name (required)"))
    method: str | None = field(default=None, **_help("method name (required; softcot_hf.methods.METHODS)"))
    model: str | None = field(default=None, **_help("the method's artifact: a folder or Hub id"))
    backbone: str | None = field(default=None, **_help("zero_shot_cot / assist_cot: the backbone LM"))
    assistant: str | None = field(default=None, **_help("assist_cot: the assistant LM that writes hints"))
    data_dir: str | None = field(default=None, **_help("a local copy of the task in its original layout"))
    split: str = field(default="test", **_help("the split to evaluate"))
    limit: int | None = field(default=None, **_help("evaluate the first LIMIT examples only"))
    num_samples: int = field(default=1, **_help("> 1: self-consistency over that many sampled paths"))
    seeds: list[int] = field(default_factory=lambda: [41], **_help("one run per seed"))
    batch_size: int = field(default=16, **_help("questions per generate call"))
    max_new_tokens: int = field(default=256, **_help("answer tokens"))
    do_sample: bool | None = field(default=None, **_help("sample a single path too (default: greedy)"))
    temperature: float = field(default=0.7, **_help("sampling temperature"))
    top_p: float = field(default=0.95, **_help("nucleus sampling threshold"))
    num_hint_tokens: int = field(default=32, **_help("assist_cot: hint length"))
    dtype: str | None = field(default=None, **_help("e.g. bfloat16 or auto (default: float32)"))
    output_dir: str | None = field(default=None, **_help("predictions.jsonl and summary.json go here"))

    def __post_init__(self):
        from ..data import get_task, list_tasks
        from ..methods import METHODS

        for name, known in (("task", list_tasks()), ("method", list(METHODS))):
            value = getattr(self, name)
            if value is None:
                raise ValueError(f"Pass --{name} ({name}=): one of {', '.join(known)}.")
            if isinstance(value, str) and value not in known:
                raise ValueError(f"Unknown {name} {value!r}; choose one of {', '.join(known)}.")
        self.seeds = [int(seed) for seed in self.seeds]
        if not self.seeds:
            raise ValueError("Pass at least one seed.")
        if isinstance(self.task, str):
            splits = get_task(self.task).splits
            checks.require(self, "split", self.split in splits, f"one of {self.task}'s splits ({', '.join(splits)})")
        checks.positive(self, "batch_size", "num_samples", "max_new_tokens", "limit", "num_hint_tokens")
        if self.num_samples > 1 or self.do_sample:
            checks.positive(self, "temperature")
        checks.require(self, "top_p", 0 < self.top_p <= 1, "more than 0 and at most 1")
        dtype = self.dtype
        known_dtype = (
            dtype in (None, "auto")
            or isinstance(dtype, torch.dtype)
            or isinstance(getattr(torch, dtype, None), torch.dtype)
        )
        checks.require(self, "dtype", known_dtype, "auto or a torch dtype name (bfloat16, float16, float32)")
        checks.existing_path(self, "data_dir", folder=True)


__all__ = ["EvaluationArguments"]
