"""The small files that describe a run (training's run.json, evaluation's eval_run.json and summary.json): written
atomically, and compared with the settings of a rerun."""

import json
import os
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and `os.replace`: a reader, or a rerun after a crash, sees the
    old file or the new one, never half of one."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(partial, "w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)


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


def differences(saved: dict, now: dict) -> str:
    """The settings that differ between a saved run and this one: "name: <saved> there, <now> now, ..."."""
    return ", ".join(
        f"{key}: {saved.get(key)!r} there, {now.get(key)!r} now"
        for key in sorted(set(saved) | set(now))
        if saved.get(key) != now.get(key)
    )


__all__ = ["differences", "read_run_file", "write_atomic"]
