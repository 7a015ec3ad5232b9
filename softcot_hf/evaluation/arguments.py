"""Evaluation arguments: every option of `softcot-hf eval` and `run_evaluation`, defined once."""

from dataclasses import dataclass, field

import torch

from .. import checks


def _help(text: str) -> dict:
    return {"metadata": {"help": text}}


# How the generation runs: transformers' `generate`, or a vLLM engine for the backbone (softcot_hf.serving).
BACKENDS = ("transformers", "vllm")

# Named sampling settings. "softcot_official": the official SoftCoT evaluation (always samples, transformers' own
# defaults: temperature 1.0, top-p 1.0, top-k 50; the official code also allows 1,024 new tokens, a recipe setting).
SAMPLING_PRESETS = {
    "softcot_official": {"do_sample": True, "temperature": 1.0, "top_p": 1.0, "top_k": 50},
    "greedy": {"do_sample": False},
}


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
    data_options: dict | str | None = field(
        default=None, **_help('options of the task\'s loader, as JSON: e.g. {"bigbench_369": true}')
    )
    split: str = field(default="test", **_help("the split to evaluate"))
    limit: int | None = field(default=None, **_help("evaluate the first LIMIT examples only"))
    num_samples: int = field(default=1, **_help("> 1: self-consistency over that many sampled paths"))
    seeds: list[int] = field(default_factory=lambda: [41], **_help("one run per seed"))
    batch_size: int = field(default=16, **_help("questions per generate call"))
    length_buckets: bool = field(default=True, **_help("batch questions of similar length (less padding)"))
    max_new_tokens: int = field(default=256, **_help("answer tokens"))
    do_sample: bool | None = field(default=None, **_help("sample a single path too (default: greedy)"))
    temperature: float = field(default=0.7, **_help("sampling temperature"))
    top_p: float = field(default=0.95, **_help("nucleus sampling threshold"))
    top_k: int = field(default=0, **_help("sample among the TOP_K likeliest tokens; 0: no limit"))
    sampling_preset: str | None = field(
        default=None, **_help(f"set do_sample, temperature, top_p and top_k as: {', '.join(SAMPLING_PRESETS)}")
    )
    num_hint_tokens: int = field(default=32, **_help("assist_cot: hint length"))
    num_thought_tokens: int | None = field(
        default=None, **_help("softcot: N at evaluation (default: the trained N, from the model's config)")
    )
    dtype: str | None = field(default=None, **_help("e.g. bfloat16 or auto (default: float32)"))
    output_dir: str | None = field(default=None, **_help("predictions.jsonl and summary.json go here"))
    overwrite: bool = field(
        default=False, **_help("replace an evaluation of other settings in output_dir (only the files it wrote)")
    )
    backend: str = field(
        default="transformers",
        **_help("transformers (model.generate) or vllm (softcot: the backbone in a vLLM engine, softcot_hf.serving)"),
    )
    vllm_engine_args: dict | str | None = field(
        default=None, **_help('backend vllm: keyword arguments of vllm.LLM, as JSON: e.g. {"tensor_parallel_size": 2}')
    )

    def __post_init__(self):
        from ..data import get_task, list_tasks
        from ..methods import METHODS, get_method

        for name, known in (("task", list_tasks()), ("method", list(METHODS))):
            value = getattr(self, name)
            if value is None:
                raise ValueError(f"Pass --{name} ({name}=): one of {', '.join(known)}.")
            if isinstance(value, str) and value not in known:
                raise ValueError(f"Unknown {name} {value!r}; choose one of {', '.join(known)}.")
        if self.sampling_preset is not None:
            if self.sampling_preset not in SAMPLING_PRESETS:
                known = ", ".join(SAMPLING_PRESETS)
                raise ValueError(f"Unknown sampling_preset {self.sampling_preset!r}; choose one of {known}.")
            for name, value in SAMPLING_PRESETS[self.sampling_preset].items():
                setattr(self, name, value)
        if self.num_thought_tokens is not None:
            if not get_method(self.method).thoughts_at_load:
                raise ValueError(
                    f"num_thought_tokens at evaluation is for softcot; {self.method} fixes N in training."
                )
            if self.num_thought_tokens < 1:
                raise ValueError(f"num_thought_tokens must be at least 1, got {self.num_thought_tokens}.")
        checks.numbers(self)
        if self.top_k < 0:
            raise ValueError(f"top_k must be 0 (no limit) or more, got {self.top_k}.")
        checks.json_object(self, "data_options", '{"bigbench_369": true}')
        checks.require(self, "backend", self.backend in BACKENDS, f"one of {', '.join(BACKENDS)}")
        if self.backend == "vllm" and get_method(self.method).name != "softcot":
            raise ValueError(f"backend vllm serves softcot only; evaluate {self.method} with backend transformers.")
        checks.json_object(self, "vllm_engine_args", '{"tensor_parallel_size": 2}')
        try:
            self.seeds = [int(seed) for seed in self.seeds]
        except (TypeError, ValueError):
            checks.require(self, "seeds", False, "whole numbers, e.g. 41 42 43")
        if not self.seeds:
            raise ValueError("Pass at least one seed.")
        if isinstance(self.task, str):
            task = get_task(self.task)
            checks.require(
                self, "split", self.split in task.splits, f"one of {self.task}'s splits ({', '.join(task.splits)})"
            )
            task.check_options(self.data_options or {}, local=self.data_dir is not None, name="--data_options")
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
        checks.model_location(self, "model", "backbone", "assistant")
        if isinstance(self.model, str):
            get_method(self.method).check_artifact(self.model)
        checks.output_folder(self, "output_dir")


__all__ = ["BACKENDS", "SAMPLING_PRESETS", "EvaluationArguments"]
