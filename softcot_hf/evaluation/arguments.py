"""Evaluation arguments: every option of `softcot-hf eval` and `run_evaluation`, defined once (the task options and
the answer length are shared with training's final evaluation: `softcot_hf.shared_options`). Light: torch and the
method registry are imported only when values are checked."""

from dataclasses import dataclass, field

from .. import checks
from ..shared_options import AnswerOptions, TaskOptions


def _help(text: str) -> dict:
    return {"metadata": {"help": text}}


# How the generation runs: transformers' `generate`, or a vLLM engine for the backbone (softcot_hf.serving).
BACKENDS = ("transformers", "vllm")

# Named sampling settings. "softcot_official": the official SoftCoT evaluation, which forces sampling at temperature
# 1.0 and top-p 1.0 and leaves everything else to the backbone's generation_config (Qwen2.5-7B-Instruct: top-k 20,
# repetition penalty 1.05; LLaMA-3.1-8B-Instruct: no top-k, so transformers' 50) (xuyige/SoftCoT@fa7f537,
# evaluate_softcot.py:121-129, 197-205). The official code also allows 1,024 new tokens, a recipe setting.
SAMPLING_PRESETS = {
    "softcot_official": {
        "do_sample": True,
        "temperature": 1.0,
        "top_p": 1.0,
        "top_k": None,
        "repetition_penalty": None,
    },
    "greedy": {"do_sample": False},
}
# How answers are read (softcot_hf.data.answers): "ours" (lenient) or "official" (the official scripts' rules).
SCORING_MODES = ("ours", "official")
# How a question's paths are voted (softcot_hf.evaluation.voting): "ours" or "official" (the official loop's rule).
VOTES = ("ours", "official")
# How sampled paths are seeded: "per_path" (each path its own generator, seeded from the seed, question and path) or
# "official" (every question's paths drawn together from a generator seeded with the run's seed, as the official
# evaluation reseeds before each question).
SEEDINGS = ("per_path", "official")


@dataclass
class EvaluationArguments(TaskOptions, AnswerOptions):
    """One method on one task over several seeds (see `run_evaluation`). From Python, `task`, `method` and `model`
    may also be a `Task`, a `Method` and a loaded model."""

    task: str | None = field(default=None, **_help("task registry name (required)"))
    method: str | None = field(default=None, **_help("method name (required; softcot_hf.methods.METHODS)"))
    model: str | None = field(default=None, **_help("the method's artifact: a folder or Hub id"))
    backbone: str | None = field(default=None, **_help("zero_shot_cot / assist_cot: the backbone LM"))
    assistant: str | None = field(default=None, **_help("assist_cot: the assistant LM that writes hints"))
    split: str = field(default="test", **_help("the split to evaluate"))
    limit: int | None = field(default=None, **_help("evaluate the first LIMIT examples only"))
    num_samples: int = field(default=1, **_help("> 1: self-consistency over that many sampled paths"))
    seeds: list[int] = field(default_factory=lambda: [41], **_help("one run per seed"))
    batch_size: int = field(default=16, **_help("questions per generate call"))
    length_buckets: bool = field(default=True, **_help("batch questions of similar length (less padding)"))
    do_sample: bool | None = field(default=None, **_help("sample a single path too (default: greedy)"))
    temperature: float = field(default=0.7, **_help("sampling temperature"))
    top_p: float = field(default=0.95, **_help("nucleus sampling threshold"))
    top_k: int | None = field(
        default=0,
        **_help("sample among the TOP_K likeliest tokens; 0: no limit; None: the backbone's generation config"),
    )
    repetition_penalty: float | None = field(
        default=None, **_help("repetition penalty (1.0: none); None: the backbone's generation_config decides")
    )
    sampling_preset: str | None = field(
        default=None,
        **_help(f"set do_sample, temperature, top_p, top_k, repetition_penalty as: {', '.join(SAMPLING_PRESETS)}"),
    )
    scoring: str = field(default="ours", **_help(f"answer scoring rules: {', '.join(SCORING_MODES)}"))
    vote: str = field(default="ours", **_help(f"self-consistency vote: {', '.join(VOTES)}"))
    seeding: str = field(default="per_path", **_help(f"how sampled paths are seeded: {', '.join(SEEDINGS)}"))
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
        import torch

        from ..data import get_task
        from ..methods import METHODS, check_artifact, get_method

        self.check_task_options()
        if self.method is None:
            raise ValueError(f"Pass --method (method=): one of {', '.join(METHODS)}.")
        if isinstance(self.method, str) and self.method not in METHODS:
            raise ValueError(f"Unknown method {self.method!r}; choose one of {', '.join(METHODS)}.")
        if self.max_new_tokens is None:
            self.max_new_tokens = get_method(self.method).answer_tokens
        if self.sampling_preset is not None:
            if self.sampling_preset not in SAMPLING_PRESETS:
                known = ", ".join(SAMPLING_PRESETS)
                raise ValueError(f"Unknown sampling_preset {self.sampling_preset!r}; choose one of {known}.")
            for name, value in SAMPLING_PRESETS[self.sampling_preset].items():
                setattr(self, name, value)
        if self.num_thought_tokens is not None and not get_method(self.method).thoughts_at_load:
            raise ValueError(f"num_thought_tokens at evaluation is for softcot; {self.method} fixes N in training.")
        checks.numbers(self)
        if self.top_k is not None and self.top_k < 0:
            raise ValueError(f"top_k must be 0 (no limit), more, or None (the backbone's), got {self.top_k}.")
        if self.repetition_penalty is not None:
            checks.positive(self, "repetition_penalty")
        checks.require(self, "scoring", self.scoring in SCORING_MODES, f"one of {', '.join(SCORING_MODES)}")
        checks.require(self, "vote", self.vote in VOTES, f"one of {', '.join(VOTES)}")
        checks.require(self, "seeding", self.seeding in SEEDINGS, f"one of {', '.join(SEEDINGS)}")
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
        checks.positive(
            self, "batch_size", "num_samples", "max_new_tokens", "limit", "num_hint_tokens", "num_thought_tokens"
        )
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
        checks.model_location(self, "model", "backbone", "assistant")
        if isinstance(self.model, str):
            check_artifact(self.method, self.model)
        checks.output_folder(self, "output_dir")


@dataclass
class ReportArguments:
    """Several evaluation summaries as one table and chart."""

    summaries: list[str] = field(default_factory=list, **_help("summary.json files or folders holding them"))
    output_dir: str = field(
        default="softcot-report", **_help("where results.md (the table) and results.png (the chart) go")
    )

    def __post_init__(self):
        from .report import load_summaries

        if not self.summaries:
            raise ValueError("Pass the summary.json files (or folders that hold them) to report on.")
        load_summaries(self.summaries)  # read now: a wrong file is a usage error
        checks.output_folder(self, "output_dir")


__all__ = [
    "BACKENDS",
    "SAMPLING_PRESETS",
    "SCORING_MODES",
    "SEEDINGS",
    "VOTES",
    "EvaluationArguments",
    "ReportArguments",
]
