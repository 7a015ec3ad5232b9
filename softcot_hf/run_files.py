"""The small files that describe a run (training's run.json, evaluation's eval_run.json and summary.json): written
atomically, and compared with the settings of a rerun."""

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


def differences(saved: dict, now: dict) -> str:
    """The settings that differ between a saved run and this one: "name: <saved> there, <now> now, ..."."""
    return ", ".join(
        f"{key}: {saved.get(key)!r} there, {now.get(key)!r} now"
        for key in sorted(set(saved) | set(now))
        if saved.get(key) != now.get(key)
    )


__all__ = ["differences", "write_atomic"]
