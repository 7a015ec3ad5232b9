"""The README's first command, `softcot-hf quickstart`, in its reduced mode: the same code path end to end (train,
evaluate, print the table, save, reload), with a handful of examples and steps. Also the synthetic task it runs on."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hub_server import HubServer
from transformers import AutoModelForCausalLM, AutoProcessor, AutoTokenizer

from softcot_hf import CoconutForCausalLM, SoftCoTForCausalLM
from softcot_hf.data import get_task
from softcot_hf.data.synthetic_arithmetic import generate_arithmetic_chains, generate_split
from softcot_hf.generation import encode_prompts, generate_texts
from softcot_hf.hub import HUB_TRANSPORT_ERRORS
from softcot_hf.methods import get_method
from softcot_hf.quickstart import METHODS, push_results, shipped_models

# What the README's first command runs, plus the reduced mode (tests/test_readme_commands.py checks the README).
QUICKSTART_COMMAND = ["softcot-hf", "quickstart"]
TINY_FLAG = "--tiny"
REPO_ID = "quickstart-user/tiny"


def _evaluate_chain(question: str) -> int:
    """An independent reading of a question: "start with 7 , add 5 , multiply by 2 . what is the result ?"."""
    clauses = question.removesuffix(" . what is the result ?").split(" , ")
    value = int(clauses[0].removeprefix("start with "))
    for clause in clauses[1:]:
        *words, operand = clause.split()
        operation = {"add": int.__add__, "subtract": int.__sub__, "multiply by": int.__mul__}[" ".join(words)]
        value = operation(value, int(operand))
    return value


def test_synthetic_arithmetic_rows_are_correct_deterministic_and_split_apart():
    rows = generate_arithmetic_chains(300, seed=5)
    assert rows == generate_arithmetic_chains(300, seed=5)
    assert rows != generate_arithmetic_chains(300, seed=6)
    for row in rows:
        assert int(row["answer"]) == _evaluate_chain(row["question"])
        assert 2 <= len(row["steps"]) <= 4
        assert row["steps"][-1].endswith(f"= {row['answer']}")
        results = [int(step.rsplit("= ", 1)[1]) for step in row["steps"]]
        assert all(0 <= value <= 29 for value in results)
    task = get_task("synthetic_arithmetic")
    test = task.load("test")
    assert test.num_rows == 500 and test.to_list() == list(generate_split("test"))
    train_questions = {row["question"] for row in generate_split("train")}
    assert not train_questions & set(test["question"])
    assert not train_questions & set(task.load("validation")["question"])
    target = "\n".join([*test[0]["steps"], f"The answer is {test[0]['answer']}."])
    assert task.score(target, test[0]["answer"]) and not task.score("The answer is 999.", test[0]["answer"])


def test_shipped_models_are_small_and_know_the_task_format():
    folder = shipped_models()
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    assert size < 20 * 2**20, f"the shipped quickstart models take {size:,} bytes"
    record = json.loads((folder / "training_record.json").read_text())
    assert record["command"].startswith("python scripts/make_quickstart_models.py")
    tokenizer = AutoTokenizer.from_pretrained(folder / "backbone")
    task = get_task("synthetic_arithmetic")
    prompt = get_method("zero_shot_cot").build_prompt(task, task.load("test")[0]["question"])
    assert tokenizer.unk_token_id not in encode_prompts(tokenizer, [prompt], chat=True)["input_ids"][0].tolist()


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory) -> tuple[Path, str, HubServer]:
    """The README's quickstart command with --tiny, publishing to an in-memory Hub (tests/hub_server.py)."""
    root = tmp_path_factory.mktemp("quickstart")
    output_dir = root / "softcot-quickstart"
    hub = HubServer().start()
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HOME": str(root / "hf-home"), "HF_TOKEN": "hf_dummy_token"}
    env.update(HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1")
    env.pop("HF_HUB_OFFLINE", None)
    try:
        completed = subprocess.run(
            [*QUICKSTART_COMMAND, TINY_FLAG, "--output-dir", str(output_dir), "--push-to-hub", REPO_ID],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        yield output_dir, completed.stdout, hub
    finally:
        hub.stop()


def test_quickstart_prints_the_table_and_writes_every_evaluation(quickstart_run):
    output_dir, stdout, _ = quickstart_run
    result = json.loads((output_dir / "results.json").read_text())
    assert [summary["method"] for summary in result["summaries"]] == [method for _, method, _ in METHODS]
    for (label, method, _), summary in zip(METHODS, result["summaries"], strict=True):
        row = next(line for line in stdout.splitlines() if line.startswith(f"| {label} |"))
        assert f"{100 * summary['accuracy']:.1f}%" in row and f"| {summary['mean_generated_tokens']:.1f} |" in row
        on_disk = json.loads((output_dir / "eval" / method / "summary.json").read_text())
        assert on_disk["accuracy"] == summary["accuracy"] and on_disk["task"] == "synthetic_arithmetic"
        predictions = (output_dir / "eval" / method / "predictions.jsonl").read_text().splitlines()
        assert len(predictions) == summary["num_examples"] == result["settings"]["test_examples"]
    assert (output_dir / "results.md").read_text().strip() == result["table"]


@torch.no_grad()
def test_quickstart_checkpoints_reload_and_answer_like_the_evaluation(quickstart_run):
    output_dir, stdout, _ = quickstart_run
    result = json.loads((output_dir / "results.json").read_text())
    question = result["example"]["question"]
    max_new_tokens = result["settings"]["max_new_tokens"]

    softcot = AutoModelForCausalLM.from_pretrained(output_dir / "softcot")
    assert isinstance(softcot, SoftCoTForCausalLM)
    assert {p.name for p in (output_dir / "softcot").glob("*.safetensors")} == {"model.safetensors"}
    processor = AutoProcessor.from_pretrained(output_dir / "softcot")
    texts, _ = generate_texts(
        softcot, processor([question]), processor.backbone_tokenizer, max_new_tokens=max_new_tokens
    )
    coconut = AutoModelForCausalLM.from_pretrained(output_dir / "coconut")
    assert isinstance(coconut, CoconutForCausalLM)
    tokenizer = AutoTokenizer.from_pretrained(output_dir / "coconut")
    inputs = encode_prompts(
        tokenizer, [get_method("coconut").build_prompt(get_task("synthetic_arithmetic"), question)], chat=False
    )
    coconut_texts, _ = generate_texts(coconut, inputs, tokenizer, max_new_tokens=max_new_tokens)

    # The example question is test question 0: the reloaded models answer it as the batched evaluation did.
    for name, text in (("softcot", texts[0]), ("coconut", coconut_texts[0])):
        first = json.loads((output_dir / "eval" / name / "predictions.jsonl").read_text().splitlines()[0])
        assert first["question"] == question
        assert text == first["generated"][0] == result["example"]["answers"][name]
        assert f"{name} (reloaded from {output_dir / name}): {text}" in stdout


def test_quickstart_publishes_the_frozen_models_and_a_softcot_that_names_them(quickstart_run):
    output_dir, stdout, hub = quickstart_run
    backbone, assistant = f"{REPO_ID}-backbone", f"{REPO_ID}-assistant"
    assert f"pushed to the Hub: {backbone}, {assistant}, {REPO_ID}, {REPO_ID}-coconut" in stdout
    softcot = hub.files(REPO_ID)
    config = json.loads(softcot["config.json"])
    assert (config["backbone_model_name_or_path"], config["assistant_model_name_or_path"]) == (backbone, assistant)
    assert softcot["model.safetensors"] == (output_dir / "softcot" / "model.safetensors").read_bytes()
    assert "README.md" in softcot and not any(path.startswith("checkpoint") for path in softcot)
    coconut = hub.files(f"{REPO_ID}-coconut")
    assert coconut["model.safetensors"] == (output_dir / "coconut" / "model.safetensors").read_bytes()
    for repo_id, name in ((backbone, "backbone"), (assistant, "assistant")):
        assert hub.files(repo_id)["model.safetensors"] == (output_dir / name / "model.safetensors").read_bytes()


def test_an_unreachable_hub_gives_a_clear_error(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        client = importlib.import_module(HUB_TRANSPORT_ERRORS[0].__module__.split(".")[0])  # httpx2 or httpx
        raise client.ConnectError("[Errno 111] Connection refused")

    monkeypatch.setattr("huggingface_hub.HfApi.create_repo", refuse)
    with pytest.raises(ConnectionError, match="Could not push the quickstart to the Hub as me/q .*ConnectError"):
        push_results(tmp_path, "me/q", [{"method": "softcot"}, {"method": "coconut"}])


def test_the_quickstart_example_runs(tmp_path):
    script = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"
    completed = subprocess.run(
        [sys.executable, str(script), TINY_FLAG, "--output-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "| SoftCoT |" in completed.stdout and "best method here:" in completed.stdout
    assert (tmp_path / "out" / "softcot" / "model.safetensors").is_file()
