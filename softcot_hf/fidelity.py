"""Fidelity tables: for every setting of a recipe that can move its number, the official value and its source, this
run's value (computed from the arguments the run will really use), and whether they agree.

A recipe's `fidelity:` section (docs/reproducing.md; e.g. recipes/softcot/gsm8k-llama.yaml) names its `table`s, files
of `softcot_hf/recipes/official/` holding a paper's official settings as `{value: ..., source: "repo@commit
file:line"}` (later tables win), adds rows of its own under `official:`, and declares each flavour's `deviations`
with their reasons. A `null` value means the official code does not fix it: shown, never compared. `check` refuses an
undeclared deviation and a declared one that no longer differs (a stale reason misleads).
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .data import Task, get_task
from .evaluation.arguments import EvaluationArguments
from .recipe_files import FLAVOURS, RECIPES_DIR, recipes_root

TABLES_FOLDER = "official"  # under a recipes/ folder


@dataclass(frozen=True)
class Official:
    """One setting's official value (`None`: the official code does not fix it) and where it comes from."""

    value: Any
    source: str


@dataclass
class RunSettings:
    """What one flavour of a recipe will run with: the method's training arguments (None: it trains nothing), the
    evaluation arguments, the sampling the backbone really sees (`generation.resolve_sampling`) and the prompts' build
    (the SoftCoT processor when the method has one)."""

    method: Any
    task: Task
    train: Any | None
    eval: EvaluationArguments
    sampling: dict
    processor: Any | None = None
    init: str | None = None  # the recipe whose artifact is the backbone (init_from_recipe)


@dataclass
class Row:
    setting: str
    official: Official
    this_run: Any
    deviation: str | None = None  # the declared reason, if any

    @property
    def compared(self) -> bool:
        return self.official.value is not None

    @property
    def equal(self) -> bool:
        return not self.compared or same(self.official.value, self.this_run)


def same(official: Any, ours: Any) -> bool:
    """Equal values; numbers up to float rounding (2e-5 written as 2.0e-5 is the same lr), lists element-wise."""
    if isinstance(official, bool) or isinstance(ours, bool):
        return official is ours
    if isinstance(official, int | float) and isinstance(ours, int | float):
        return math.isclose(official, ours, rel_tol=1e-9)
    if isinstance(official, list | tuple) and isinstance(ours, list | tuple):
        return len(official) == len(ours) and all(same(a, b) for a, b in zip(official, ours, strict=True))
    return official == ours


# --- this run's values, each read from the arguments the run will use --------------------------------------------


def _training(name: str) -> Callable[[RunSettings], Any]:
    return lambda run: None if run.train is None else getattr(run.train, name, None)


def _backbone(run: RunSettings) -> str | None:
    if run.init is not None:
        return f"the artifact of recipe {run.init}"
    return str(run.train.backbone if run.train is not None else run.eval.backbone)


def _assistant(run: RunSettings) -> str | None:
    value = getattr(run.train, "assistant", None) if run.train is not None else run.eval.assistant
    return None if value is None else str(value)


def _all(limit: int | None) -> int | str:
    """A limit on the number of examples, or "all"."""
    return "all" if limit is None else limit


def _train_batch(run: RunSettings) -> int | None:
    """Examples per optimizer step on one process (the official scripts' batch; scale-out keeps the global batch)."""
    if run.train is None:
        return None
    return run.train.per_device_train_batch_size * run.train.gradient_accumulation_steps


def _checkpoint(run: RunSettings) -> str | None:
    if run.train is None:
        return None
    return "best on validation" if getattr(run.train, "select_checkpoint", "last") == "best_validation" else "last"


def _eval_thoughts(run: RunSettings) -> int | None:
    if run.eval.num_thought_tokens is not None:
        return run.eval.num_thought_tokens
    return getattr(run.train, "num_thought_tokens", None)


def _backbone_prompt_end(run: RunSettings) -> str:
    """How the backbone's prompt ends at evaluation (and where training targets start)."""
    if not run.method.chat:
        return "bare text"
    if run.processor is not None and not run.processor.add_generation_prompt:
        return "user turn (no generation prompt)"
    return "generation prompt"


def _assistant_reply(run: RunSettings) -> str | None:
    """Where the assistant's placeholders sit."""
    processor = run.processor
    if processor is None or processor.assistant_tokenizer is None:
        return None
    lead_in = "lead-in, " if processor.assistant_response_prefix else ""
    end = ", end of turn" if processor.close_assistant_turn else ""
    return f"reply: {lead_in}placeholders{end}"


def _instruction(run: RunSettings) -> str:
    """Whose instruction the backbone reads at evaluation: the preset's for the training task's family, the method's
    generic one, or a prompt file's."""
    preset = getattr(run.train, "prompt_preset", None)
    if preset == "official":  # the processor saved with the model carries its training task's prompts
        return f"per task family ({get_task(run.train.task).answer.family})"
    return "from a prompt file" if preset else "generic"


STAND_IN_STEPS = ["first step", "second step"]


def target_structure(target: str) -> str:
    """A training target's shape: numbered "## Step k: " lines or plain ones, then a boxed final answer or not."""
    *steps, final = target.split("\n")
    numbered = bool(steps) and all(re.match(r"## Step \d+: ", line) for line in steps)
    boxed = "\\boxed{" in final
    return f"{'## Step k:' if numbered else 'plain'} step lines, then a {'boxed' if boxed else 'plain'} answer"


def _training_target(run: RunSettings) -> str | None:
    if run.train is None or not hasattr(run.method, "target_format"):
        return None
    from .training.softcot_data import training_target

    answer = {"math": "18", "choice": "B", "yes_no": "yes"}.get(run.task.answer.family)
    if answer is None:
        return None
    answer_template, step_template = run.method.target_format(run.train, run.task)
    return target_structure(training_target(run.task, STAND_IN_STEPS, answer, answer_template, step_template))


def _evaluation(name: str) -> Callable[[RunSettings], Any]:
    return lambda run: getattr(run.eval, name)


def _sampled(name: str) -> Callable[[RunSettings], Any]:
    return lambda run: run.sampling.get(name) if run.sampling.get("do_sample") else None


# Settings read as they are from the training arguments' field of the same name (by method), or the evaluation's.
TRAINING_FIELDS = (
    ("learning_rate", "num_train_epochs", "weight_decay", "max_grad_norm", "seed", "lora"),
    ("frozen_dtype", "projection_dtype", "num_thought_sets", "thought_set_init", "thought_set_loss_reduction"),
    ("contrastive_weight", "contrastive_temperature", "contrastive_dropout", "contrastive_dropout_on"),
    ("contrastive_pooling", "c_thought", "max_latent_stage", "epochs_per_stage", "pad_latent_to_max"),
    ("uniform_prob", "new_token_init", "start_stage", "optimizer_reset"),
    # iCoT-SI; max_train_length: no method skips long batches, so always "-"
    ("tokens_removed_per_epoch", "removal_smoothing_lambda", "remove_all_beyond", "max_train_length"),
    ("num_latent_thoughts", "latent_projection", "distill_weight", "teacher_weight", "lora_r", "lora_alpha"),  # CODI
    ("step_decoder", "step_loss_weight", "step_loss_reduction"),  # SIM-CoT
)
EVALUATION_FIELDS = ("seeding", "num_samples", "max_new_tokens", "vote", "scoring")

MEASURES: dict[str, Callable[[RunSettings], Any]] = {
    "backbone": _backbone,
    "assistant": _assistant,
    "train_task": _training("task"),
    "train_data_options": _training("data_options"),
    "train_limit": lambda run: None if run.train is None else _all(run.train.limit),
    "num_thought_tokens_train": _training("num_thought_tokens"),
    "num_thought_tokens_eval": _eval_thoughts,
    "train_batch": _train_batch,
    "lr_schedule": _training("lr_scheduler_type"),
    "warmup": _training("warmup_steps"),  # steps, or a fraction of them below 1 (transformers 5)
    "checkpoint": _checkpoint,
    # Ours is the per-question computation the official loop intends (training/thought_set_loss.py).
    "contrastive_loop": lambda run: "per question" if hasattr(run.train, "contrastive_pooling") else None,
    "backbone_prompt_end": _backbone_prompt_end,
    "assistant_reply": _assistant_reply,
    "instruction": _instruction,
    "training_target": _training_target,
    "eval_task": lambda run: run.task.name,
    "eval_split": lambda run: run.eval.split,
    "eval_limit": lambda run: _all(run.eval.limit),
    "eval_seeds": lambda run: list(run.eval.seeds),
    "eval_batch_size": lambda run: run.eval.batch_size,
    "eval_dtype": lambda run: run.eval.dtype,
    "num_hint_tokens": lambda run: run.eval.num_hint_tokens if run.method.name == "assist_cot" else None,
    "do_sample": lambda run: run.sampling["do_sample"],
    "temperature": _sampled("temperature"),
    "top_p": _sampled("top_p"),
    "top_k": _sampled("top_k"),
    "repetition_penalty": lambda run: run.sampling.get("repetition_penalty"),
    **{name: _training(name) for group in TRAINING_FIELDS for name in group},
    **{name: _evaluation(name) for name in EVALUATION_FIELDS},
}


# --- tables --------------------------------------------------------------------------------------------------------


def _officials(values: dict, where: str) -> dict[str, Official]:
    officials = {}
    for setting, entry in (values or {}).items():
        if setting not in MEASURES:
            raise ValueError(f"{where}: unknown setting {setting!r}; the settings are {', '.join(MEASURES)}.")
        if not isinstance(entry, dict) or set(entry) != {"value", "source"}:
            raise ValueError(f"{where}: setting {setting!r} needs exactly {{value: ..., source: ...}}.")
        officials[setting] = Official(entry["value"], str(entry["source"]))
    return officials


@dataclass
class Fidelity:
    """A recipe's fidelity table: the official settings and, per flavour, the declared deviations."""

    official: dict[str, Official]
    deviations: dict[str, dict[str, str]] = field(default_factory=dict)

    def rows(self, run: RunSettings, flavour: str) -> list[Row]:
        declared = self.deviations.get(flavour, {})
        return [
            Row(name, official, MEASURES[name](run), declared.get(name)) for name, official in self.official.items()
        ]


def load_fidelity(values: dict, recipe_path: Path) -> Fidelity:
    """The `fidelity:` section of a recipe: its table (from `recipes/official/`), its own rows and deviations."""
    where = str(recipe_path)
    if not isinstance(values, dict) or not set(values) <= {"table", "official", "deviations"}:
        raise ValueError(f"{where}: fidelity takes table, official and deviations.")
    official = {}
    tables = values.get("table") or []
    for table in [tables] if isinstance(tables, str) else tables:
        # the table beside the recipe (its recipes/ folder), else the shipped one
        table_path = recipes_root(recipe_path) / TABLES_FOLDER / f"{table}.yaml"
        if not table_path.is_file():
            table_path = RECIPES_DIR / TABLES_FOLDER / f"{table}.yaml"
        if not table_path.is_file():
            raise FileNotFoundError(f"{where}: no fidelity table {table!r} at {table_path}.")
        official.update(_officials(yaml.safe_load(table_path.read_text(encoding="utf-8")), str(table_path)))
    official.update(_officials(values.get("official"), where))
    deviations = values.get("deviations") or {}
    if unknown := sorted(set(deviations) - set(FLAVOURS)):
        raise ValueError(f"{where}: deviations of unknown flavours {unknown}; the flavours are {', '.join(FLAVOURS)}.")
    for flavour, declared in deviations.items():
        if missing := sorted(set(declared or {}) - set(official)):
            raise ValueError(f"{where}: {flavour} deviations {missing} are not settings of the table.")
    return Fidelity(official, {flavour: dict(declared or {}) for flavour, declared in deviations.items()})


def _shown(value: Any) -> str:
    return "-" if value is None else str(value)


def format_rows(rows: list[Row]) -> str:
    """`setting | official | this run | equal` lines, then each deviation's reason and the official sources."""
    lines = ["setting | official | this run | equal"]
    for row in rows:
        equal = "n/a" if not row.compared else "yes" if row.equal else "DEVIATION" if row.deviation else "NO"
        lines.append(f"{row.setting} | {_shown(row.official.value)} | {_shown(row.this_run)} | {equal}")
    if declared := [row for row in rows if row.deviation is not None]:
        lines.append("declared deviations:")
        lines += [f"  {row.setting}: {row.deviation}" for row in declared]
    lines.append("sources:")
    lines += [f"  {row.setting}: {row.official.source}" for row in rows]
    return "\n".join(lines)


def check(rows: list[Row], where: str) -> None:
    """Refuse an undeclared deviation, and a declared one whose setting agrees (the reason went stale)."""
    undeclared = [row.setting for row in rows if not row.equal and row.deviation is None]
    stale = [row.setting for row in rows if row.equal and row.deviation is not None]
    problems = []
    if undeclared:
        problems.append(f"undeclared deviations {undeclared} (declare each with its reason, or fix the recipe)")
    if stale:
        problems.append(f"declared deviations {stale} that agree with the official value (remove them)")
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems) + ".")


__all__ = [
    "FLAVOURS",
    "MEASURES",
    "Fidelity",
    "Official",
    "Row",
    "RunSettings",
    "check",
    "format_rows",
    "load_fidelity",
    "same",
    "target_structure",
]
