"""One folder, one run: a rerun with any setting that changes the result (steps, learning rate, task, projection, a
data file, ...) is refused before any work, naming what differs, for training, evaluation and the quickstart;
`overwrite` starts from scratch and deletes only what the run wrote; a folder without its artifact is not finished.
Also the artifacts' bytes (LoRA's adapter_config.json) and refused launches leaving no folders behind."""

import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
from test_coconut_training import FAST, save_coconut_base, train_coconut
from test_crash_safety import ROWS, evaluation
from test_softcot_training import folder_bytes, run, write_gsm8k

from softcot_hf.cli import main
from softcot_hf.methods import METHODS
from softcot_hf.quickstart import TINY, QuickstartArguments
from softcot_hf.quickstart.folder import MARKER, prepare, quickstart_identity
from softcot_hf.quickstart.run import run_quickstart
from softcot_hf.run_files import NOT_IDENTITY, DifferentRunError, in_identity, training_identity
from softcot_hf.training.runs import artifact_problem, check_output_dir

# A setting changed on the rerun, and how the refusal names it.
CHANGES = {
    "steps": ({"max_steps": 4}, "max_steps: 2 -> 4"),
    "learning rate": ({"learning_rate": 1e-3}, "learning_rate: 0.01 -> 0.001"),
    "task": ({"task": "gsm8k_aug"}, "task: 'gsm8k' -> 'gsm8k_aug'"),
    "projection": ({"projection_type": "mlp"}, "projection_type: 'linear' -> 'mlp'"),
    "seed": ({"seed": 4}, "data_seed: 3 -> 4, seed: 3 -> 4"),  # the data order follows the seed
}


@pytest.fixture
def finished(pair_dirs, tmp_path) -> dict:
    """A finished 2-step SoftCoT run on a data folder of its own."""
    data_dir = write_gsm8k(tmp_path / "data")
    outcome = run(pair_dirs, data_dir, tmp_path / "run", max_steps=2)
    return {"data_dir": data_dir, "output_dir": Path(outcome["output_dir"]), "outcome": outcome}


def test_a_rerun_with_any_other_setting_is_refused_before_any_work(pair_dirs, finished, monkeypatch):
    output_dir, data_dir = finished["output_dir"], finished["data_dir"]
    before = folder_bytes(output_dir)
    built = []
    monkeypatch.setattr(METHODS["softcot"], "build", lambda *args: built.append(args))
    for change, named in CHANGES.values():
        with pytest.raises(DifferentRunError) as refused:
            run(pair_dirs, data_dir, output_dir, **{"max_steps": 2, **change})
        message = str(refused.value)
        assert f"({named})" in message and "--overwrite" in message and "new --output-dir" in message
    # The data: a line added to the training file.
    with open(Path(data_dir) / "train.jsonl", "a") as file:
        file.write(json.dumps({"question": "what is 1 plus 1 ?", "answer": "1 + 1 = 2 .\n#### 2"}) + "\n")
    train_file = str(Path(data_dir).resolve() / "train.jsonl")
    with pytest.raises(DifferentRunError, match=rf"data_files\.{train_file}\.sha256: '[0-9a-f]{{64}}' -> '[0-9a-f]"):
        run(pair_dirs, data_dir, output_dir, max_steps=2)
    assert folder_bytes(output_dir) == before and not built


def test_the_command_line_stops_with_the_difference(pair_dirs, finished):
    command = ["train", "softcot", "--backbone", pair_dirs["llama_backbone"], "--assistant",
               pair_dirs["llama_assistant"], "--data-dir", finished["data_dir"], "--output-dir",
               str(finished["output_dir"]), "--max-steps", "4", "--lr", "1e-2", "--seed", "3", "--batch-size", "4",
               "--save-steps", "2", "--logging-steps", "100", "--no-evaluate"]  # fmt: skip
    with pytest.raises(SystemExit, match=r"softcot-hf train softcot: error: .* \(max_steps: 2 -> 4\)"):
        main(command)


def test_overwrite_retrains_from_scratch_and_deletes_only_what_the_run_wrote(pair_dirs, finished):
    output_dir, data_dir = finished["output_dir"], finished["data_dir"]
    (output_dir / "notes.txt").write_text("mine")
    (output_dir / "checkpoints" / "checkpoint-9").mkdir()  # a stale checkpoint of the old run is not resumed from
    retrained = run(pair_dirs, data_dir, output_dir, max_steps=4, overwrite=True)
    assert not retrained["already_trained"] and retrained["global_step"] == 4
    assert (output_dir / "notes.txt").read_text() == "mine"
    assert sorted(path.name for path in (output_dir / "checkpoints").iterdir()) == ["checkpoint-2", "checkpoint-4"]
    assert json.loads((output_dir / "run.json").read_text())["max_steps"] == 4
    again = run(pair_dirs, data_dir, output_dir, max_steps=4)  # the new run, finished: nothing to train
    assert again["already_trained"] and again["train_loss"] == retrained["train_loss"]


def test_a_run_without_its_artifact_is_not_finished(pair_dirs, finished, capsys):
    output_dir, data_dir = finished["output_dir"], finished["data_dir"]
    assert artifact_problem(output_dir) is None
    (output_dir / "model.safetensors").unlink()
    assert artifact_problem(output_dir) == "model.safetensors is missing or changed"
    capsys.readouterr()
    again = run(pair_dirs, data_dir, output_dir, max_steps=2)  # resumes from checkpoint-2 and saves the artifact
    assert not again["already_trained"] and "nothing to train" not in capsys.readouterr().out
    assert (output_dir / "model.safetensors").is_file() and artifact_problem(output_dir) is None
    results = json.loads((output_dir / "train_results.json").read_text())
    del results["artifact"]  # what an earlier version wrote: train_results.json alone
    (output_dir / "train_results.json").write_text(json.dumps(results))
    assert "listing the artifact" in artifact_problem(output_dir)


def test_identity_takes_every_argument_but_the_listed_ones(tmp_path):
    args = METHODS["softcot"].arguments(
        backbone="b",
        assistant="a",
        output_dir=str(tmp_path),
        trainer_args={"report_to": "none", "hub_token": "secret"},
    )
    identity = training_identity(args)
    assert {"learning_rate", "max_steps", "lr_scheduler_type", "warmup_steps", "weight_decay", "seed", "data_seed",
            "projection_type", "assistant_template", "num_thought_tokens", "limit", "world_size",
            "softcot_hf_version"} <= set(identity)  # fmt: skip
    for name in ("output_dir", "logging_steps", "report_to", "save_total_limit", "save_steps", "hub_token",
                 "dataloader_num_workers", "eval_limit", "max_new_tokens", "resume", "overwrite"):  # fmt: skip
        assert name not in identity and not in_identity(name)
    assert "secret" not in json.dumps(identity)
    assert all(reason and patterns for reason, patterns in NOT_IDENTITY.items())


def test_curriculum_runs_are_refused_on_other_settings_too(tmp_path):
    base = save_coconut_base(tmp_path / "base")
    settings = {**FAST, "train_file": base["train_file"], "num_train_epochs": 1}
    train_coconut(base["base"], tmp_path / "run", **settings)
    with pytest.raises(DifferentRunError, match=r"\(c_thought: 1 -> 2\)"):
        train_coconut(base["base"], tmp_path / "run", **{**settings, "c_thought": 2})
    examples = json.loads(Path(base["train_file"]).read_text())
    Path(base["train_file"]).write_text(json.dumps(examples[:-1]))
    with pytest.raises(DifferentRunError, match=r"data_files\..*train\.json\.sha256"):
        train_coconut(base["base"], tmp_path / "run", **settings)


def test_an_evaluation_of_other_settings_is_refused_unless_overwritten(pair_dirs, tmp_path):
    first = evaluation(pair_dirs, tmp_path / "eval")
    before = folder_bytes(tmp_path / "eval")
    assert evaluation(pair_dirs, tmp_path / "eval") == first  # finished, same settings: as saved
    assert folder_bytes(tmp_path / "eval") == before
    with pytest.raises(DifferentRunError, match=r"\(max_new_tokens: 4 -> 3\).*--overwrite"):
        evaluation(pair_dirs, tmp_path / "eval", max_new_tokens=3)
    other_rows = [{**ROWS[0], "answer": "6"}, *ROWS[1:]]
    with pytest.raises(DifferentRunError, match="questions_and_answers_sha256"):
        evaluation(pair_dirs, tmp_path / "eval", rows=other_rows)
    assert folder_bytes(tmp_path / "eval") == before
    replaced = evaluation(pair_dirs, tmp_path / "eval", max_new_tokens=3, overwrite=True)
    assert replaced["settings"]["max_new_tokens"] == 3


def test_an_evaluation_of_a_model_in_memory_is_never_taken_for_another(pair_dirs, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from softcot_hf.evaluation import run_evaluation

    model = AutoModelForCausalLM.from_pretrained(pair_dirs["gpt2_backbone"])
    tokenizer = AutoTokenizer.from_pretrained(pair_dirs["gpt2_backbone"])
    settings = dict(tokenizer=tokenizer, dataset=datasets.Dataset.from_list(ROWS), max_new_tokens=2)
    run_evaluation("gsm8k", "cot", model, output_dir=tmp_path / "eval", **settings)
    with pytest.raises(DifferentRunError, match="model_in_memory"):
        run_evaluation("gsm8k", "cot", model, output_dir=tmp_path / "eval", **settings)


class Redone(Exception):
    """The quickstart started over."""


def test_the_quickstart_refuses_other_settings_and_returns_a_finished_run(tmp_path, monkeypatch):
    identity = quickstart_identity(TINY, (0,))
    prepare(tmp_path / "qs", identity)
    with pytest.raises(DifferentRunError, match=r"\(seeds: \[0\] -> \[0, 1\]\)"):
        prepare(tmp_path / "qs", quickstart_identity(TINY, (0, 1)))
    (tmp_path / "qs" / MARKER).write_text("made by `softcot-hf quickstart`\n")  # an earlier version's marker
    with pytest.raises(DifferentRunError, match="a quickstart of other settings"):
        prepare(tmp_path / "qs", identity)
    prepare(tmp_path / "qs", identity, overwrite=True)

    # Finished: results.json and every trained model are there; the rerun returns the results and trains nothing.
    from softcot_hf.quickstart import folder, run

    (tmp_path / "qs" / "results.json").write_text(json.dumps({"table": "| saved |"}))
    monkeypatch.setattr(folder, "artifact_problem", lambda path: None)

    def redo(*args):
        raise Redone

    monkeypatch.setattr(run, "prepare", redo)
    assert run_quickstart(QuickstartArguments(str(tmp_path / "qs"), tiny=True, seeds=[0])) == {"table": "| saved |"}
    monkeypatch.setattr(folder, "artifact_problem", lambda path: "no weights")
    with pytest.raises(Redone):  # a model missing: not finished
        run_quickstart(QuickstartArguments(str(tmp_path / "qs"), tiny=True, seeds=[0]))


def test_lora_adapter_config_is_the_same_bytes_from_run_to_run(pair_dirs, tmp_path):
    """peft keeps the target modules in a set, whose order depends on the process's string hashing."""
    data_dir = write_gsm8k(tmp_path / "data")
    script = (
        "import sys; sys.path.insert(0, 'tests'); from test_softcot_training import run; "
        f"run({pair_dirs!r}, {data_dir!r}, sys.argv[1], method='lora', max_steps=1, save_steps=1)"
    )
    configs = []
    for seed in ("1", "2", "3"):
        output_dir = tmp_path / f"lora-{seed}"
        environment = {**os.environ, "PYTHONHASHSEED": seed, "OMP_NUM_THREADS": "1"}
        subprocess.run([sys.executable, "-c", script, str(output_dir)], check=True, env=environment,
                       cwd=Path(__file__).resolve().parents[1], capture_output=True)  # fmt: skip
        configs.append((output_dir / "adapter_config.json").read_bytes())
    assert configs[0] == configs[1] == configs[2]
    modules = json.loads(configs[0])["target_modules"]
    assert modules == sorted(modules) and len(modules) > 1


def test_a_refused_fsdp_launch_leaves_no_folder(pair_dirs, tmp_path, monkeypatch):
    """One process asked for FSDP that accelerate does not set up (no accelerator): refused, and Trainer's output
    folder, made as it starts, is gone again."""
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    data_dir = write_gsm8k(tmp_path / "data")
    with pytest.raises(RuntimeError, match="launched for FSDP"):
        run(pair_dirs, data_dir, tmp_path / "runs" / "x", max_steps=1)
    assert not (tmp_path / "runs").exists()


def test_a_cut_short_run_file_is_another_run(tmp_path):
    (tmp_path / "run.json").write_text('{"meth')
    with pytest.raises(DifferentRunError):
        check_output_dir(tmp_path, {"method": "softcot"})


def test_the_final_evaluation_has_its_own_identity(pair_dirs, tmp_path, capsys):
    """A finished run rerun with other evaluation settings evaluates again without training; with the same ones it
    returns the saved evaluation and changes no file."""
    data_dir = write_gsm8k(tmp_path / "data")
    settings = dict(max_steps=1, evaluate=True, eval_limit=1, max_new_tokens=2)
    first = run(pair_dirs, data_dir, tmp_path / "run", **settings)
    before = folder_bytes(tmp_path / "run")
    again = run(pair_dirs, data_dir, tmp_path / "run", **settings)
    assert again["already_trained"] and again["eval"] == first["eval"] and folder_bytes(tmp_path / "run") == before
    longer = run(pair_dirs, data_dir, tmp_path / "run", **{**settings, "eval_limit": 2})
    assert longer["already_trained"] and longer["eval"]["num_examples"] == 2
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before["model.safetensors"]


def test_overwrite_never_deletes_outside_the_run(tmp_path):
    run_dir, outside = tmp_path / "run", tmp_path / "outside.txt"
    (run_dir / "adapter").mkdir(parents=True)
    for path in (outside, run_dir / "model.safetensors", run_dir / "adapter" / "a.safetensors", run_dir / "notes"):
        path.write_text("x")
    artifact = {"../outside.txt": 1, "model.safetensors": 1, "adapter/a.safetensors": 1}
    (run_dir / "train_results.json").write_text(json.dumps({"artifact": artifact}))
    (run_dir / "run.json").write_text("{}")
    assert check_output_dir(run_dir, {"method": "softcot"}, overwrite=True) is None
    assert sorted(path.name for path in run_dir.iterdir()) == ["notes"] and outside.is_file()
