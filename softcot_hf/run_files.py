"""The small files that describe a run (training's run.json, evaluation's eval_run.json and summary.json): written
atomically, and compared with the settings of a rerun; and the fingerprint of a model they name."""

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .modeling.frozen_models import cached_commit

# What makes a local model folder what it is: its configs (read whole: they are small) and its weights (identified by
# name, size, modification time and, for safetensors, the header; never read whole: 16 GB for an 8B model in bf16).
MODEL_CONFIGS = ("config.json", "adapter_config.json")
WEIGHTS_SUFFIXES = (".safetensors", ".bin")
NOT_WEIGHTS = ("training_args.bin",)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and `os.replace`: a reader, or a rerun after a crash, sees the
    old file or the new one, never half of one."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(partial, "w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)


def differences(saved: dict, now: dict) -> str:
    """The settings that differ between a saved run and this one: "name: <saved> there, <now> now, ..."."""
    return ", ".join(
        f"{key}: {saved.get(key)!r} there, {now.get(key)!r} now"
        for key in sorted(set(saved) | set(now))
        if saved.get(key) != now.get(key)
    )


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


__all__ = ["differences", "model_fingerprint", "safetensors_header", "write_atomic"]
