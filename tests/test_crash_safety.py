"""Nothing lost: training killed with SIGKILL between and inside checkpoint writes resumes by itself to the weights of
an uninterrupted run (both pipelines); an interrupted evaluation continues to the uninterrupted predictions; the
quickstart never clears a folder it did not make. Kills come from tests/crash_points.py."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import datasets
import pytest
import torch
from safetensors.torch import load_file
from transformers.testing_utils import CaptureLogger

from softcot_hf.cli import main
from softcot_hf.data.prosqa_style import generate_prosqa_style
from softcot_hf.evaluation import run_evaluation
from softcot_hf.methods import base
from softcot_hf.quickstart import TINY
from softcot_hf.quickstart.folder import MARKER, OWNED_FOLDERS, prepare, quickstart_identity
from softcot_hf.run_files import DifferentRunError
from softcot_hf.training import runs

CRASH_POINTS = Path(__file__).with_name("crash_points.py")
FIXTURES = Path(__file__).parent / "fixtures" / "tasks"


def killed(point: str, n: int, argv: list[str], tmp_path: Path) -> str:
    """Run `softcot-hf ARGV` in a subprocess that crash_points.py kills at `point` (for "saved": this test kills it
    once checkpoint `n` is written); returns its stderr."""
    stderr_path = tmp_path / f"stderr-{point}-{n}.txt"
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(CRASH_POINTS), point, str(n), *argv],
            stdout=subprocess.PIPE, stderr=stderr, text=True, env=same_threads(),
        )  # fmt: skip
        watchdog = threading.Timer(300, process.kill)
        watchdog.start()
        if point == "saved":
            assert any(line.strip() == "READY" for line in process.stdout), stderr_path.read_text()[-3000:]
            process.send_signal(signal.SIGKILL)
        process.communicate()
        watchdog.cancel()
    assert process.returncode == -signal.SIGKILL, stderr_path.read_text()[-3000:]
    return stderr_path.read_text()


def same_threads() -> dict[str, str]:
    """The environment with this process's torch thread count *now*: the killed run and the in-process one must sum
    in the same order to give equal weights (an earlier test may have changed the count: compare and the quickstart
    set one thread)."""
    return {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}


def skipped(folder: Path) -> str:
    return f"Skipping the incomplete checkpoint {folder} ("


def same_weights(a: Path, b: Path) -> None:
    first, second = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert sorted(first) == sorted(second)
    assert all(torch.equal(first[key], second[key]) for key in first)


@pytest.fixture(scope="module")
def softcot_command(pair_dirs, tmp_path_factory):
    """`softcot-hf train softcot` on tiny GSM8K-layout data: 5 steps, a checkpoint after each (the last 2 kept)."""
    data = tmp_path_factory.mktemp("gsm8k")
    for split in ("train", "test"):
        rows = [{"question": f"what is {a} plus {b} ?", "answer": f"{a} + {b} = {a + b} .\n#### {a + b}"}
                for a in range(1, 4) for b in range(1, 4)]  # fmt: skip
        (data / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))

    def command(output_dir: Path) -> list[str]:
        return [
            "train", "softcot", "--backbone", pair_dirs["llama_backbone"], "--assistant", pair_dirs["llama_assistant"],
            "--task", "gsm8k", "--data-dir", str(data), "--output-dir", str(output_dir), "--max-steps", "5",
            "--batch-size", "2", "--save-steps", "1", "--lr", "1e-2", "--seed", "3", "--evaluate", "false",
        ]  # fmt: skip

    return command


@pytest.fixture(scope="module")
def softcot_straight(softcot_command, tmp_path_factory) -> Path:
    output_dir = tmp_path_factory.mktemp("softcot") / "straight"
    main(softcot_command(output_dir))
    return output_dir


def test_softcot_run_killed_inside_and_between_checkpoint_writes_resumes_to_the_same_projection(
    softcot_command, softcot_straight, tmp_path
):
    output_dir = tmp_path / "killed"
    checkpoints = output_dir / "checkpoints"
    argv = softcot_command(output_dir)
    killed("weights", 2, argv, tmp_path)  # halfway through checkpoint-2's model.safetensors
    assert runs.checkpoint_problem(checkpoints / "checkpoint-2") == "no trainer_state.json, which Trainer writes last"
    # The rerun resumes from checkpoint-1 by itself; this test kills it from outside once checkpoint-3 is written.
    assert skipped(checkpoints / "checkpoint-2") in killed("saved", 3, argv, tmp_path)
    with CaptureLogger(runs.logger) as captured:
        main(argv)
    assert "Skipping" not in captured.out  # checkpoint-3 was complete
    same_weights(softcot_straight, output_dir)


def test_a_checkpoint_counts_only_when_complete(softcot_straight, tmp_path):
    """Each way a killed write leaves checkpoint-5 makes the resume skip it for checkpoint-4, and keeps it."""
    complete = softcot_straight / "checkpoints" / "checkpoint-5"
    assert runs.checkpoint_problem(complete) is None

    def cut(name: str) -> None:
        path = folder / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    damages = {
        "no trainer_state.json, which Trainer writes last": lambda: (folder / "trainer_state.json").unlink(),
        "trainer_state.json is cut short": lambda: cut("trainer_state.json"),
        "optimizer.pt is cut short": lambda: cut("optimizer.pt"),
        "rng_state.pth is cut short": lambda: cut("rng_state.pth"),
        "model.safetensors is cut short": lambda: cut("model.safetensors"),
        "config.json is cut short": lambda: cut("config.json"),
        "no model weights": lambda: (folder / "model.safetensors").unlink(),
    }
    for problem, damage in damages.items():
        shutil.rmtree(tmp_path / "checkpoints", ignore_errors=True)
        shutil.copytree(softcot_straight / "checkpoints", tmp_path / "checkpoints")
        folder = tmp_path / "checkpoints" / "checkpoint-5"
        damage()
        assert runs.checkpoint_problem(folder) == problem
        with CaptureLogger(runs.logger) as captured:
            resumed = runs.last_complete_checkpoint(tmp_path / "checkpoints")
        assert resumed == str(tmp_path / "checkpoints" / "checkpoint-4")
        assert skipped(folder) + problem in captured.out and folder.is_dir()
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 4}))
    assert runs.checkpoint_problem(folder) == "trainer_state.json is for step 4"


def test_coconut_run_killed_inside_a_checkpoint_write_resumes_to_the_same_weights(pair_dirs, tmp_path):
    """The curriculum pipeline across stage changes: 8 examples, batch 4, one stage per epoch, 6 steps."""
    train_file = tmp_path / "train.json"
    train_file.write_text(json.dumps(generate_prosqa_style(8, seed=0, min_depth=2, max_depth=2, max_people=2)))

    def command(output_dir: Path) -> list[str]:
        return [
            "train", "coconut", "--backbone", pair_dirs["gpt2_backbone"], "--train-file", str(train_file),
            "--output-dir", str(output_dir), "--max-latent-stage", "2", "--epochs-per-stage", "1", "--epochs", "3",
            "--batch-size", "4", "--gradient-accumulation-steps", "1", "--lr", "1e-2", "--save-steps", "1",
            "--evaluate", "false",
        ]  # fmt: skip

    main(command(tmp_path / "straight"))
    output_dir = tmp_path / "killed"
    killed("state", 4, command(output_dir), tmp_path)  # checkpoint-4 whole but for half its trainer_state.json
    with CaptureLogger(runs.logger) as captured:
        main(command(output_dir))  # resumes from checkpoint-3, in the middle of stage 1, and goes on into stage 2
    assert skipped(output_dir / "checkpoints" / "checkpoint-4") + "trainer_state.json is cut short" in captured.out
    same_weights(tmp_path / "straight", output_dir)


def test_a_run_killed_before_its_run_file_is_not_taken_for_another_folder(tmp_path):
    """Trainer makes checkpoints/ before run.json is written; a kill in between must not block the rerun."""
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / ".run.json.123.tmp").write_text('{"meth')
    assert runs.check_output_dir(tmp_path, {"method": "softcot"}) is None
    (tmp_path / "checkpoints" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a softcot-hf training run"):
        runs.check_output_dir(tmp_path, {"method": "softcot"})


# Evaluation: 3 questions, 2 seeds, batches of 2, 2 sampled paths per question: 4 generate calls in all.
ROWS = [
    {"question": "what is 2 plus 3 ?", "answer": "5"},
    {"question": "tom has 4 apples and eats 1 . how many apples does tom have left ?", "answer": "3"},
    {"question": "what is 7 minus 2 ?", "answer": "5"},
]


def evaluation(pair_dirs, output_dir: Path, rows: list[dict] = ROWS, **settings) -> dict:
    """Sampled CoT evaluation of `rows` (2 paths, 2 seeds, batches of 2) on the tiny GPT-2 backbone."""
    arguments = dict(dataset=datasets.Dataset.from_list(rows), batch_size=2, num_samples=2, seeds=(41, 42))
    arguments.update(max_new_tokens=4, output_dir=output_dir)
    arguments.update(settings)
    return run_evaluation("gsm8k", "cot", pair_dirs["gpt2_backbone"], **arguments)


def same_results(a: Path, b: Path) -> None:
    """predictions.jsonl byte for byte, summary.json but for its timing fields."""
    assert (a / "predictions.jsonl").read_bytes() == (b / "predictions.jsonl").read_bytes()
    first, second = (json.loads((folder / "summary.json").read_text()) for folder in (a, b))
    for summary in (first, second):
        del summary["wall_time_s"], summary["date"]
    assert first == second


class Interrupted(Exception):
    """What stops an evaluation in these tests (a kill, Ctrl-C, an out-of-memory error...)."""


def interrupt_after(monkeypatch, calls: int) -> list[int]:
    """Make the generate call after the first `calls` raise; returns the list counting the calls."""
    generate_texts, seen = base.generate_texts, []

    def fail_later(*args, **kwargs):
        seen.append(1)
        if len(seen) > calls:
            raise Interrupted
        return generate_texts(*args, **kwargs)

    monkeypatch.setattr(base, "generate_texts", fail_later)
    return seen


def test_interrupted_sampled_evaluation_continues_to_the_same_results(pair_dirs, tmp_path, monkeypatch):
    evaluation(pair_dirs, tmp_path / "straight")
    output_dir = tmp_path / "interrupted"
    interrupt_after(monkeypatch, 3)
    with pytest.raises(Interrupted):
        evaluation(pair_dirs, output_dir)
    lines = (output_dir / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 5 and not (output_dir / "summary.json").exists()  # seed 41 and seed 42's first batch
    with open(output_dir / "predictions.jsonl", "a") as file:  # a row cut short by a crash inside the write
        file.write(lines[-1][:20])
    monkeypatch.undo()
    calls = interrupt_after(monkeypatch, 10)
    evaluation(pair_dirs, output_dir)
    assert len(calls) == 1  # only seed 42's last batch was generated again
    same_results(tmp_path / "straight", output_dir)


def test_rerun_with_other_settings_is_refused_and_overwrite_starts_over(pair_dirs, tmp_path, monkeypatch):
    interrupt_after(monkeypatch, 1)
    with pytest.raises(Interrupted):
        evaluation(pair_dirs, tmp_path / "changed")
    monkeypatch.undo()
    with pytest.raises(DifferentRunError, match=r"other settings \(max_new_tokens: 4 -> 3\).*--overwrite"):
        evaluation(pair_dirs, tmp_path / "changed", max_new_tokens=3)
    evaluation(pair_dirs, tmp_path / "changed", max_new_tokens=3, overwrite=True)
    evaluation(pair_dirs, tmp_path / "fresh", max_new_tokens=3)
    same_results(tmp_path / "fresh", tmp_path / "changed")


def test_evaluation_killed_by_sigkill_continues_to_the_same_results(pair_dirs, tmp_path):
    def command(output_dir: Path) -> list[str]:
        return [
            "eval", "--task", "gsm8k", "--method", "no_cot", "--model", pair_dirs["gpt2_backbone"], "--data-dir",
            str(FIXTURES / "gsm8k"), "--batch-size", "1", "--num-samples", "2", "--max-new-tokens", "3", "--seeds",
            "41", "--output-dir", str(output_dir),
        ]  # fmt: skip

    main(command(tmp_path / "straight"))
    killed("batches", 2, command(tmp_path / "killed"), tmp_path)
    assert len((tmp_path / "killed" / "predictions.jsonl").read_text().splitlines()) == 2
    main(command(tmp_path / "killed"))
    same_results(tmp_path / "straight", tmp_path / "killed")


def test_quickstart_refuses_a_folder_it_did_not_make_unless_told_to_overwrite(tmp_path):
    mine = tmp_path / "mine"
    for name in ("synthetic_arithmetic", "prosqa_style"):
        (mine / name).mkdir(parents=True)
        (mine / name / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"(?s)mine is not empty and was not made by the quickstart.*--overwrite"):
        main(["quickstart", "--tiny", "--output-dir", str(mine)])
    assert (
        (mine / "synthetic_arithmetic" / "notes.txt").read_text()
        == (mine / "prosqa_style" / "notes.txt").read_text()
        == "mine"
    )
    assert not (mine / MARKER).exists()

    identity = quickstart_identity(TINY, (0,))
    (mine / "keep.txt").write_text("mine")
    prepare(mine, identity, overwrite=True)
    assert (mine / MARKER).is_file() and (mine / "keep.txt").read_text() == "mine"
    assert not (mine / "synthetic_arithmetic").exists() and not (mine / "prosqa_style").exists()
    assert (mine / "backbone" / "config.json").is_file()
    (mine / "synthetic_arithmetic").mkdir()
    prepare(mine, identity)  # an unfinished quickstart of the same settings: its folders are its own to replace
    assert not (mine / "synthetic_arithmetic").exists() and (mine / "keep.txt").is_file()
    prepare(tmp_path / "new", identity)
    empty = tmp_path / "empty"
    empty.mkdir()
    prepare(empty, identity)
    assert sorted(path.name for path in empty.iterdir()) == sorted(
        [MARKER, "assistant", "backbone", "prosqa_backbone"]
    )
    assert {"backbone", "synthetic_arithmetic", "prosqa_style"} <= set(OWNED_FOLDERS)
