"""What both training pipelines do the same way: one run per output folder, checkpoints to resume.

A run folder holds `run.json` (the run's identity: `softcot_hf.run_files.training_identity`), `checkpoints/`
(`Trainer` checkpoints), the artifact at the top, `train_results.json` (written last: the run is finished, and it
lists the artifact's files) and `eval/`. Rerunning the same command resumes from the last complete checkpoint (a
process killed while writing one leaves it incomplete: it is skipped with a warning and left in place, and Trainer
writes it again), or, once finished, changes nothing. A folder holding a run of other settings, finished or not, is
refused before any work (`DifferentRunError`); `overwrite` deletes the files of that run and trains from scratch. A
non-empty folder that is not a run is refused.
"""

import json
import re
import shutil
import zipfile
from contextlib import contextmanager
from pathlib import Path

from safetensors import SafetensorError, safe_open
from transformers import Trainer
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.utils import logging

from ..run_files import DifferentRunError, read_run_file, write_atomic
from .engines import engine_report

logger = logging.get_logger(f"transformers.{__name__}")

RUN_FILE = "run.json"
CHECKPOINTS = "checkpoints"
EVAL = "eval"
# Trainer writes the weights, optimizer, scheduler and RNG states of a checkpoint first, trainer_state.json last.
TRAINER_STATE = "trainer_state.json"
# What holds the weights in a Trainer checkpoint: safetensors or torch files, a DeepSpeed or FSDP sharded folder.
WEIGHTS_FOLDERS = ("global_step", "pytorch_model_fsdp")
# Written last, once the artifact is saved, with the artifact's files: a run folder holding it and them is finished.
TRAIN_RESULTS = "train_results.json"
# What the artifact's weights are written as (save_pretrained, peft's adapter).
ARTIFACT_WEIGHTS = (".safetensors", ".bin")


def check_output_dir(output_dir: Path, identity: dict, resume: bool = True, overwrite: bool = False) -> str | None:
    """The checkpoint to resume from (None: start afresh). Raises `DifferentRunError` if `output_dir` holds a run of
    another identity, and refuses a non-empty folder that is not a run. With `overwrite`, the main process deletes
    the run there first (`remove_run`) and training starts from scratch."""
    run_file = output_dir / RUN_FILE
    if run_file.is_file():
        if overwrite:
            from accelerate import PartialState

            if PartialState().is_main_process:  # the others start afresh too, without touching the folder
                remove_run(output_dir)
            return None
        try:
            saved = read_run_file(run_file)
        except ValueError as error:  # a damaged run.json: another run as far as we can tell (--overwrite redoes it)
            raise DifferentRunError(output_dir, "a training run", {}, identity, "train", str(error)) from None
        if saved != identity:
            raise DifferentRunError(output_dir, f"a {saved.get('method', 'training')} run", saved, identity, "train")
    elif output_dir.is_dir() and not all(map(_left_before_run_file, output_dir.iterdir())):
        raise ValueError(
            f"{output_dir} is not empty and holds no {RUN_FILE}: it is not a softcot-hf training run (--overwrite "
            "deletes only what softcot-hf wrote). Pass a new or empty --output-dir."
        )
    checkpoints = output_dir / CHECKPOINTS
    return last_complete_checkpoint(checkpoints) if resume and checkpoints.is_dir() else None


def _left_before_run_file(path: Path) -> bool:
    """What a run killed before its run.json was written leaves: Trainer's empty checkpoints/, a partial run.json."""
    if path.name == CHECKPOINTS and path.is_dir():
        return not any(path.iterdir())
    return path.name.startswith(f".{RUN_FILE}.")


def remove_run(output_dir: Path) -> None:
    """Delete what a run wrote in `output_dir`: run.json, checkpoints/, eval/, train_results.json and the artifact
    files it lists (folders they leave empty too). Anything else in the folder stays."""
    root = output_dir.resolve()
    artifact = [root / name for name in _read_train_results(output_dir).get("artifact") or {}]
    artifact = [path for path in artifact if path.resolve().is_relative_to(root)]  # never a file outside it
    for path in artifact:
        path.unlink(missing_ok=True)
    for folder in {path.parent for path in artifact} - {root}:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    for name in (CHECKPOINTS, EVAL):
        shutil.rmtree(output_dir / name, ignore_errors=True)
    (output_dir / TRAIN_RESULTS).unlink(missing_ok=True)
    (output_dir / RUN_FILE).unlink(missing_ok=True)


@contextmanager
def no_folders_left_on_refusal(folder: Path):
    """`folder` and the parents of it that the block creates (Trainer makes its output folder as it starts) are
    removed again, if still empty, when the block raises: a refused launch leaves nothing behind."""
    missing = [path for path in (folder, *folder.parents) if not path.exists()]
    try:
        yield
    except BaseException:
        for path in missing:  # deepest first
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        raise


def checkpoint_problem(folder: Path) -> str | None:
    """Why the Trainer checkpoint `folder` cannot be resumed from, or None when it is complete: trainer_state.json
    (written last) parses and names the folder's step, it holds weights, and every safetensors, torch and JSON file
    in it is whole (a killed write leaves a file cut short)."""
    try:
        step = json.loads((folder / TRAINER_STATE).read_text())["global_step"]
    except FileNotFoundError:
        return f"no {TRAINER_STATE}, which Trainer writes last"
    except (ValueError, KeyError, TypeError):
        return f"{TRAINER_STATE} is cut short"
    if folder.name != f"{PREFIX_CHECKPOINT_DIR}-{step}":
        return f"{TRAINER_STATE} is for step {step}"
    files = sorted(folder.iterdir())
    weights = [
        path
        for path in files
        if (path.is_file() and path.suffix in (".safetensors", ".bin") and path.name != "training_args.bin")
        or (path.is_dir() and path.name.startswith(WEIGHTS_FOLDERS))
    ]
    if not weights:
        return "no model weights"
    for path in files:
        if path.suffix == ".safetensors":
            try:
                with safe_open(path, "pt"):  # checks that the header's tensors cover the file
                    pass
            except SafetensorError:
                return f"{path.name} is cut short"
        elif path.suffix in (".pt", ".pth", ".bin") and not zipfile.is_zipfile(path):  # torch.save's zip archive
            return f"{path.name} is cut short"
        elif path.suffix == ".json":
            try:
                json.loads(path.read_text())
            except ValueError:
                return f"{path.name} is cut short"
    return None


def last_complete_checkpoint(checkpoints: Path) -> str | None:
    """The newest complete `checkpoint-N` in `checkpoints` (None: none). Newer incomplete ones are skipped with a
    warning naming them; they are never deleted."""
    pattern = re.compile(rf"{PREFIX_CHECKPOINT_DIR}-(\d+)")
    found = [(int(match[1]), path) for path in checkpoints.iterdir() if (match := pattern.fullmatch(path.name))]
    for _, folder in sorted(found, reverse=True):
        if not folder.is_dir():
            continue
        problem = checkpoint_problem(folder)
        if problem is None:
            return str(folder)
        logger.warning(
            f"Skipping the incomplete checkpoint {folder} ({problem}): the run was stopped while writing it. "
            "Resuming from an earlier one (or the start); it is left in place, and training writes it again."
        )
    return None


def _read_train_results(output_dir: Path) -> dict:
    try:
        results = json.loads((output_dir / TRAIN_RESULTS).read_text())
    except (OSError, ValueError):
        return {}
    return results if isinstance(results, dict) else {}


def artifact_problem(output_dir: Path) -> str | None:
    """Why the run in `output_dir` is not finished, or None when it is: train_results.json (written last) lists the
    artifact's files, they hold weights, and each is there with its recorded size (a safetensors file whole)."""
    results = _read_train_results(output_dir)
    artifact = results.get("artifact")
    if not isinstance(artifact, dict):
        return f"no {TRAIN_RESULTS} listing the artifact's files"
    if not any(Path(name).suffix in ARTIFACT_WEIGHTS and name != "training_args.bin" for name in artifact):
        return "its artifact holds no weights"
    for name, size in artifact.items():
        path = output_dir / name
        if not path.is_file() or path.stat().st_size != size:
            return f"{name} is missing or changed"
        if path.suffix == ".safetensors":
            try:
                with safe_open(path, "pt"):
                    pass
            except SafetensorError:
                return f"{name} is cut short"
    return None


def artifact_files(output_dir: Path) -> dict[str, int]:
    """{path relative to `output_dir`: size} of the artifact saved there: every file but the run's own (run.json,
    train_results.json, checkpoints/, eval/, temporary files)."""
    files = {}
    for path in sorted(output_dir.rglob("*")):
        relative = path.relative_to(output_dir)
        if not path.is_file() or relative.parts[0] in (CHECKPOINTS, EVAL, RUN_FILE, TRAIN_RESULTS):
            continue
        if not any(part.startswith(".") for part in relative.parts):
            files[relative.as_posix()] = path.stat().st_size
    return files


def finished_run(output_dir: Path) -> dict | None:
    """What training returned for the run in `output_dir` if it finished (its artifact is saved whole), else None
    ("eval" is None: the final evaluation is the pipeline's, `softcot_hf.pipelines.train`)."""
    if artifact_problem(output_dir) is not None:
        return None
    from accelerate import PartialState

    saved = _read_train_results(output_dir)
    outcome = {
        **{key: saved.get(key) for key in ("global_step", "train_loss", "train_metrics", "engine")},
        "output_dir": str(output_dir),
        "eval": None,
        "is_main_process": PartialState().is_main_process,
        "already_trained": True,
    }
    if outcome["is_main_process"]:
        print(
            f"{output_dir} holds a finished run of the same settings: nothing to train (--overwrite trains it again "
            "from scratch; a new --output-dir keeps it)."
        )
    return outcome


def write_train_results(outcome: dict) -> None:
    """Marks the run in `outcome["output_dir"]` finished, listing its artifact's files (call it once the artifact is
    saved, on the main process)."""
    output_dir = Path(outcome["output_dir"])
    fields = ("global_step", "train_loss", "train_metrics", "engine")
    results = {**{key: outcome[key] for key in fields}, "artifact": artifact_files(output_dir)}
    write_atomic(output_dir / TRAIN_RESULTS, json.dumps(results, indent=2) + "\n")


def write_run_file(output_dir: Path, identity: dict) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(output_dir / RUN_FILE, json.dumps(identity, indent=2) + "\n")


def result(trainer: Trainer, output, output_dir: Path) -> dict:
    """What a method's training returns; `eval` is filled by the final evaluation (`softcot_hf.pipelines.train`)."""
    return {
        "output_dir": str(output_dir),
        "global_step": trainer.state.global_step,
        "train_loss": output.training_loss,
        "train_metrics": output.metrics,
        "eval": None,
        "is_main_process": trainer.is_world_process_zero(),
        "already_trained": False,
        "engine": engine_report(trainer),
    }


__all__ = [
    "CHECKPOINTS",
    "EVAL",
    "RUN_FILE",
    "TRAIN_RESULTS",
    "artifact_files",
    "artifact_problem",
    "check_output_dir",
    "checkpoint_problem",
    "finished_run",
    "last_complete_checkpoint",
    "no_folders_left_on_refusal",
    "remove_run",
    "result",
    "write_run_file",
    "write_train_results",
]
