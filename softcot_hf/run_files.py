"""A run's identity and the small files that describe it (training's run.json, evaluation's eval_run.json and
summary.json, the quickstart's marker): written atomically, and compared with the settings of a rerun; and the
fingerprint of a model they name, cheap enough for 16 GB of weights.

A run's identity is every setting that changes its result, the fingerprints of the data files it read, and the
package version; `run_identity` computes it for training, evaluation and the quickstart alike. A folder holding a run
of another identity is never taken for this run's: the rerun stops with `DifferentRunError`, which names what differs
and the two ways out (a new output folder, or `--overwrite`).
"""

import dataclasses
import fnmatch
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import __version__
from .modeling.frozen_models import cached_commit

# What makes a local model folder what it is: its configs (read whole: they are small) and its weights (identified by
# name, size, modification time and, for safetensors, the header; never read whole: 16 GB for an 8B model in bf16).
MODEL_CONFIGS = ("config.json", "adapter_config.json")
WEIGHTS_SUFFIXES = (".safetensors", ".bin")
NOT_WEIGHTS = ("training_args.bin",)

# Training arguments that cannot change the trained weights, by why; every other field of a method's training
# arguments (Trainer's included, and any field added later) is part of the run's identity.
NOT_IDENTITY = {
    "where the run goes and how a rerun treats the folder": ("output_dir", "overwrite", "resume", "resume_from_*"),
    "logging and progress only": (
        "logging_*", "log_*", "disable_tqdm", "report_to", "run_name", "project", "trackio_*", "debug",
        "include_num_input_tokens_seen", "skip_memory_metrics",
    ),
    "checkpoint cadence and retention (a resumed run ends with the same weights: tests/test_crash_safety.py)": (
        "save_*", "enable_jit_checkpoint",
    ),
    "publishing (hub_token is a secret: never written)": ("push_to_hub", "hub_*"),
    "data-loading speed": (
        "dataloader_num_workers", "dataloader_pin_memory", "dataloader_persistent_workers",
        "dataloader_prefetch_factor", "dataloader_multiprocessing_context",
    ),
    "the engine (every engine gives the weights of one process at the same global batch, tests/test_distributed.py; "
    "world_size is recorded)": ("local_rank", "ddp_*", "fsdp", "fsdp_config", "deepspeed", "parallelism_config"),
    "memory only (the same gradients)": ("gradient_checkpointing*", "activation_checkpointing*", "torch_empty_*"),
    "the final evaluation: eval/ has its own identity (eval_run.json) and is redone when these change": (
        "evaluate", "eval_*", "max_new_tokens", "per_device_eval_batch_size", "prediction_loss_only",
        "include_for_metrics", "batch_eval_metrics", "bf16_full_eval", "fp16_full_eval", "do_train", "do_eval",
        "do_predict",
    ),
    "the assistant's states are the same computed once or at every step": ("assistant_cache", "assistant_cache_dir"),
}  # fmt: skip
# Evaluation arguments that cannot change the results: where they go, how a rerun treats the folder, and the order
# questions are generated in (each sampled path has its own seed). Every other one is in the identity.
NOT_EVALUATION_IDENTITY = ("output_dir", "overwrite", "length_buckets")
# Settings that may name a local file or folder: recorded as absolute paths (the same run from another directory).
PATH_SETTINGS = ("backbone", "assistant", "data_dir", "train_file", "prompt_preset")


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and `os.replace`: a reader, or a rerun after a crash, sees the
    old file or the new one, never half of one."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(partial, "w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)


def in_identity(name: str) -> bool:
    """Whether the training argument `name` is part of a run's identity (see `NOT_IDENTITY`)."""
    patterns = (pattern for group in NOT_IDENTITY.values() for pattern in group)
    return not any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def local_path(value):
    """`value` as an absolute path when it names an existing local file or folder, else as it is (a Hub id)."""
    if isinstance(value, str | Path) and Path(value).exists():
        return str(Path(value).resolve())
    return value


def data_fingerprints(paths: Iterable[str | Path | None]) -> dict[str, dict]:
    """{absolute path: {"size", "sha256"}} of every file in `paths` (files, or folders read recursively, hidden
    entries skipped). Data files are small; the content decides, so a copy or a `touch` changes nothing."""
    files = set()
    for path in filter(None, paths):
        path = Path(path).resolve()
        if path.is_file():
            files.add(path)
        elif path.is_dir():
            files.update(
                file
                for file in path.rglob("*")
                if file.is_file() and not any(part.startswith(".") for part in file.relative_to(path).parts)
            )
    fingerprints = {}
    for file in sorted(files):
        with open(file, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        fingerprints[str(file)] = {"size": file.stat().st_size, "sha256": digest}
    return fingerprints


def run_identity(settings: dict, data: Iterable[str | Path | None] = ()) -> dict:
    """What makes a run what it is: `settings` (JSON values), the fingerprints of the files and folders in `data` (see
    `data_fingerprints`) and the package version. The one definition training, evaluation and the quickstart use."""
    identity = json.loads(json.dumps(settings))  # tuples become lists, as in the saved file
    if fingerprints := data_fingerprints(data):
        identity["data_files"] = fingerprints
    identity["softcot_hf_version"] = __version__
    return identity


def training_identity(args, trainer_args=None, **derived) -> dict:
    """The identity of a training run: the method, every training argument in its identity (see `NOT_IDENTITY`;
    local paths made absolute), ours (`args`) and `Trainer`'s (`trainer_args`, the `TrainingArguments` built from
    them; default `args.to_training_arguments()`), the number of processes, `derived` settings (e.g. a resolved dtype)
    and the data files read: `data_dir`, `train_file` and a prompt-preset file."""
    trainer_args = args.to_training_arguments() if trainer_args is None else trainer_args
    ours = {
        field.name: getattr(args, field.name) for field in dataclasses.fields(args) if field.name != "trainer_args"
    }
    merged = {**ours, **trainer_args.to_dict()}  # Trainer's as it resolved them (e.g. data_seed: seed when unset)
    settings = {name: value for name, value in merged.items() if in_identity(name)}
    for name in PATH_SETTINGS:
        if name in settings:
            settings[name] = local_path(settings[name])
    settings.update(world_size=trainer_args.world_size, **derived)
    data = [getattr(args, name, None) for name in ("data_dir", "train_file")]
    preset = getattr(args, "prompt_preset", None)
    data.append(preset if preset is not None and Path(preset).is_file() else None)
    return run_identity({"method": args.method, **settings}, data)


def evaluation_identity(args, described: dict, questions: list[str], golds: list[str]) -> dict:
    """What makes two evaluations the same (eval_run.json): every field of the evaluation arguments `args` but
    `NOT_EVALUATION_IDENTITY` (local paths made absolute), overridden by the summary's fields and settings as the run
    resolved them (`described`, e.g. the trained N), the fingerprints of the questions and answers and of the models
    (`model_fingerprint`), and the package version (`run_identity`). A model passed in memory is marked: it cannot be
    told from another."""
    arguments = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(args)
        if field.name not in NOT_EVALUATION_IDENTITY
    }
    for name in ("model", "backbone", "assistant", "data_dir"):
        arguments[name] = local_path(arguments[name]) if isinstance(arguments[name], str | Path) else None
    arguments["dtype"] = None if args.dtype is None else str(args.dtype)
    identity = {**arguments, **described}
    identity["questions_and_answers_sha256"] = hashlib.sha256(json.dumps([questions, golds]).encode()).hexdigest()
    for name in ("model", "backbone", "assistant"):
        identity[f"{name}_fingerprint"] = model_fingerprint(getattr(args, name))
    if args.model is not None and not isinstance(args.model, str | Path):
        identity["model_in_memory"] = True
    return run_identity(identity)


def safetensors_header(path: Path) -> bytes:
    """The header of a safetensors file, never its tensors: the JSON after the 8-byte length (each tensor's name,
    dtype, shape and offsets; the metadata). Just the first 8 bytes for a file that is not safetensors."""
    with open(path, "rb") as file:
        prefix = file.read(8)
        length = int.from_bytes(prefix, "little")
        if len(prefix) < 8 or length > os.fstat(file.fileno()).st_size - 8:
            return prefix
        return file.read(length)


def model_fingerprint(name_or_path: Any) -> str | None:
    """
    What identifies a model without reading its weights. A local folder: a SHA-256 over its configs and, for each
    weights file, its name, size, modification time and safetensors header (a model saved again into the folder, or
    a file replaced, changes it; copying the folder elsewhere changes it too, as the times change). A Hub id: the
    commit of the repo's main branch in the local cache. `None` for a loaded model or a Hub id not in the cache.
    """
    if not isinstance(name_or_path, str | Path):
        return None
    folder = Path(name_or_path)
    if not folder.is_dir():
        return cached_commit(str(name_or_path))
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        if path.name in MODEL_CONFIGS:
            digest.update(path.name.encode() + hashlib.sha256(path.read_bytes()).digest())
        elif path.suffix in WEIGHTS_SUFFIXES and path.name not in NOT_WEIGHTS:
            stat = path.stat()
            header = safetensors_header(path) if path.suffix == ".safetensors" else b""
            identity = json.dumps([path.name, stat.st_size, stat.st_mtime_ns]).encode()
            digest.update(identity + hashlib.sha256(header).digest())
    return digest.hexdigest()


def read_run_file(path: Path) -> dict:
    """A run file written by `write_atomic` (a JSON mapping); a damaged or foreign one is a `ValueError` that names it
    and says how to start over."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        problem = f"not JSON: {error}"
    else:
        problem = None if isinstance(saved, dict) else f"a {type(saved).__name__}, not a mapping"
    if problem:
        raise ValueError(
            f"{path} is damaged or not ours ({problem}). Pass a new --output-dir, or delete {path.parent} to start "
            "over."
        )
    return saved


def differences(saved: dict, now: dict, prefix: str = "") -> str:
    """The settings that differ between a saved run and this one: "name: <saved> -> <now>, ..." (nested settings
    as "name.key")."""
    changed = []
    for key in sorted(set(saved) | set(now)):
        old, new = saved.get(key), now.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changed.append(differences(old, new, f"{prefix}{key}."))
        else:
            changed.append(f"{prefix}{key}: {old!r} -> {new!r}")
    return ", ".join(changed)


class DifferentRunError(ValueError):
    """An output folder holds a run of other settings: its results are not this run's."""

    def __init__(self, folder: Path, what: str, saved: dict, now: dict, redo: str, reason: str | None = None):
        """`reason`: why the run there is not this one, when its settings do not say (default: what differs)."""
        reason = reason or differences(saved, now)
        super().__init__(
            f"{folder} holds {what} of other settings ({reason}), not this run's. Pass a new "
            f"--output-dir (output_dir=) to keep it, or --overwrite (overwrite=True) to {redo} from scratch (that "
            "deletes only the files softcot-hf wrote there)."
        )


__all__ = [
    "NOT_IDENTITY",
    "DifferentRunError",
    "data_fingerprints",
    "differences",
    "in_identity",
    "local_path",
    "model_fingerprint",
    "read_run_file",
    "run_identity",
    "safetensors_header",
    "evaluation_identity",
    "training_identity",
    "write_atomic",
]
