"""The quickstart's output folder: the marker that records a run's identity, the files it owns, when a run there is
finished, and clearing it for a new run. A folder the quickstart did not make, or one of other settings, is refused
unless `overwrite`; nothing but the quickstart's own files is ever removed."""

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from ..run_files import DifferentRunError, run_identity, write_atomic
from ..training.runs import artifact_problem
from .settings import METHODS, PROSQA_METHODS, PROSQA_OPTIONS, PROSQA_TASK, TASK, QuickstartSettings, shipped_models

# Folders the quickstart writes (and clears before a new run) inside its output directory.
OWNED_FOLDERS = ("backbone", "assistant", "prosqa_backbone", TASK, PROSQA_TASK)
# The file that marks an output directory as the quickstart's own and records the run's identity (JSON).
MARKER = ".softcot-quickstart"
RESULTS = ("results.json", "results.md")  # written last: a quickstart whose models are there too is finished
SHIPPED = ("backbone", "assistant", "prosqa_backbone")


def quickstart_identity(settings: QuickstartSettings, seeds: tuple[int, ...]) -> dict:
    """What makes two quickstarts the same (`run_identity`): the settings, seeds, task options and shipped models."""
    return run_identity(
        {"settings": asdict(settings), "seeds": list(seeds), "prosqa_options": PROSQA_OPTIONS}, [shipped_models()]
    )


def _owned_files(output_dir: Path) -> list[Path]:
    """What the quickstart writes in `output_dir`: its folders, results, figures and marker."""
    figures = [output_dir / f"{task}.png" for task in (TASK, PROSQA_TASK)]
    return [*(output_dir / name for name in (*OWNED_FOLDERS, *RESULTS)), *figures, output_dir / MARKER]


def _trained_folders(output_dir: Path, seeds: tuple[int, ...]) -> list[Path]:
    """Every run folder the quickstart trains in `output_dir`."""
    return [
        output_dir / task / f"seed-{seed}" / folder
        for task, methods in ((TASK, METHODS), (PROSQA_TASK, PROSQA_METHODS))
        for seed in seeds
        for _, _, folder in methods
        if folder is not None
    ]


def saved_identity(output_dir: Path) -> dict | None:
    """The identity in `output_dir`'s marker; None: no marker ({}: one that an earlier version wrote in words)."""
    try:
        saved = json.loads((output_dir / MARKER).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def finished_results(output_dir: Path, seeds: tuple[int, ...]) -> dict | None:
    """The results of the finished quickstart in `output_dir` (its results and every trained model are there)."""
    try:
        result = json.loads((output_dir / RESULTS[0]).read_text())
    except (OSError, ValueError):
        return None
    finished = all(artifact_problem(folder) is None for folder in _trained_folders(output_dir, seeds))
    return result if finished else None


def prepare(output_dir: Path, identity: dict, overwrite: bool = False) -> dict[str, str]:
    """Clear the quickstart's files in `output_dir`, record `identity` and copy the shipped models there; returns
    {name: path}. A non-empty `output_dir` that a quickstart did not make, or one of other settings, is refused unless
    `overwrite`."""
    saved = saved_identity(output_dir)
    if saved is not None and saved != identity and not overwrite:
        raise DifferentRunError(output_dir, "a quickstart", saved, identity, "run it")
    if saved is None and output_dir.is_dir() and any(output_dir.iterdir()) and not overwrite:
        raise ValueError(
            f"{output_dir} is not empty and was not made by the quickstart, which replaces its "
            f"{', '.join(OWNED_FOLDERS)} folders there. Pass a new or empty --output-dir, or --overwrite to replace "
            "them (nothing else in the folder is touched)."
        )
    source = shipped_models()
    missing = [name for name in SHIPPED if not (source / name / "config.json").is_file()]
    if missing:
        raise FileNotFoundError(
            f"The quickstart's models ({', '.join(missing)}) are missing from {source}. Reinstall the package "
            "(`pip install -e .` ships them), or make them with `python scripts/make_quickstart_models.py`."
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    for path in _owned_files(output_dir):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    write_atomic(output_dir / MARKER, json.dumps(identity, indent=2) + "\n")
    paths = {}
    for name in SHIPPED:
        shutil.copytree(source / name, output_dir / name)
        paths[name] = str((output_dir / name).resolve())
    return paths
