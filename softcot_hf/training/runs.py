"""What both training pipelines do the same way: one run per output folder, checkpoints to resume, the final
evaluation of the artifact.

A run folder holds `run.json` (the method and the settings that make the model what it is), `checkpoints/`
(`Trainer` checkpoints), the artifact at the top, and `eval/`. Rerunning the same command resumes from the last
complete checkpoint (a process killed while writing one leaves it incomplete: it is skipped with a warning and left in
place, and Trainer writes it again); a folder of another run, or a non-empty folder that is not a run, is refused.
"""

import json
import re
import zipfile
from pathlib import Path

from safetensors import SafetensorError, safe_open
from transformers import Trainer
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.utils import logging

from ..run_files import differences, read_run_file, write_atomic
from .engines import engine_report, outside_zero3

logger = logging.get_logger(f"transformers.{__name__}")

RUN_FILE = "run.json"
CHECKPOINTS = "checkpoints"
# Trainer writes the weights, optimizer, scheduler and RNG states of a checkpoint first, trainer_state.json last.
TRAINER_STATE = "trainer_state.json"
# What holds the weights in a Trainer checkpoint: safetensors or torch files, a DeepSpeed or FSDP sharded folder.
WEIGHTS_FOLDERS = ("global_step", "pytorch_model_fsdp")
# Written last, once the artifact is saved: a run folder holding it is finished, and rerunning changes nothing.
TRAIN_RESULTS = "train_results.json"


def check_output_dir(output_dir: Path, identity: dict, resume: bool = True) -> str | None:
    """The checkpoint to resume from (None: start afresh). Raises if `output_dir` holds another run or other files."""
    run_file = output_dir / RUN_FILE
    if run_file.is_file():
        saved = read_run_file(run_file)
        if saved != identity:
            raise ValueError(
                f"{output_dir} holds another {saved.get('method', '')} run ({differences(saved, identity)}). Pass a "
                "new --output-dir, or delete that folder to start over."
            )
    elif output_dir.is_dir() and not all(map(_left_before_run_file, output_dir.iterdir())):
        raise ValueError(
            f"{output_dir} is not empty and holds no {RUN_FILE}: it is not a softcot-hf training run. Pass a new or "
            "empty --output-dir."
        )
    checkpoints = output_dir / CHECKPOINTS
    return last_complete_checkpoint(checkpoints) if resume and checkpoints.is_dir() else None


def _left_before_run_file(path: Path) -> bool:
    """What a run killed before its run.json was written leaves: Trainer's empty checkpoints/, a partial run.json."""
    if path.name == CHECKPOINTS and path.is_dir():
        return not any(path.iterdir())
    return path.name.startswith(f".{RUN_FILE}.")


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


def finished_run(method, args, output_dir: Path, **load_kwargs) -> dict | None:
    """What `train` returned for the run in `output_dir` if it finished (its artifact is saved), else None. The
    final evaluation is read from `eval/summary.json`, or run if it is missing (`evaluate_artifact`)."""
    train_results = output_dir / TRAIN_RESULTS
    if not train_results.is_file():
        return None
    from accelerate import PartialState

    outcome = {
        **json.loads(train_results.read_text()),
        "output_dir": str(output_dir),
        "eval": None,
        "is_main_process": PartialState().is_main_process,
        "already_trained": True,
    }
    if outcome["is_main_process"]:
        print(
            f"{output_dir} holds a finished run of the same settings: nothing to train (--no-resume or a new "
            "--output-dir trains again)."
        )
        summary = output_dir / "eval" / "summary.json"
        if summary.is_file():
            outcome["eval"] = json.loads(summary.read_text())
        else:
            outcome["eval"] = evaluate_artifact(method, args, output_dir, **load_kwargs)
    return outcome


def write_train_results(outcome: dict) -> None:
    """Marks the run in `outcome["output_dir"]` finished (call it once the artifact is saved, on the main process)."""
    fields = ("global_step", "train_loss", "train_metrics", "engine")
    (Path(outcome["output_dir"]) / TRAIN_RESULTS).write_text(json.dumps({k: outcome[k] for k in fields}, indent=2))


def write_run_file(output_dir: Path, identity: dict) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(output_dir / RUN_FILE, json.dumps(identity, indent=2) + "\n")


def evaluate_artifact(method, args, output_dir: Path, **load_kwargs) -> dict | None:
    """The final evaluation of the artifact in `output_dir` on the task's test split, into `output_dir/eval`."""
    if not args.evaluate:
        return None
    from ..evaluation import run_evaluation

    with outside_zero3():  # the other processes may have finished: load the artifact whole, here
        return run_evaluation(
            args.task,
            method,
            str(output_dir),
            data_dir=args.data_dir,
            split="test",
            limit=args.eval_limit,
            batch_size=args.eval_batch_size,
            max_new_tokens=args.max_new_tokens,
            output_dir=output_dir / "eval",
            **load_kwargs,
        )


def result(trainer: Trainer, output, output_dir: Path) -> dict:
    """What `softcot_hf.train` returns, for every method; `eval` is filled by the final evaluation (None without)."""
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


def train_and_report(method, args) -> dict:
    """`softcot-hf train METHOD`: train, then print where the artifact and the evaluation went."""
    outcome = method.train(args)
    if outcome["is_main_process"]:
        loss = outcome["train_loss"]
        done = "already trained" if outcome["already_trained"] else "trained"
        print(f"{method.name}: {done} (train_loss {loss:.4f}); artifact in {outcome['output_dir']}")
        if (summary := outcome["eval"]) is not None:
            print(
                f"accuracy {summary['accuracy']:.4f}, mean generated tokens {summary['mean_generated_tokens']:.1f} "
                f"on {summary['num_examples']} test examples"
            )
    return outcome


__all__ = [
    "CHECKPOINTS",
    "RUN_FILE",
    "TRAIN_RESULTS",
    "check_output_dir",
    "checkpoint_problem",
    "evaluate_artifact",
    "last_complete_checkpoint",
    "finished_run",
    "result",
    "train_and_report",
    "write_run_file",
    "write_train_results",
]
