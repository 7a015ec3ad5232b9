"""The README's first command, `softcot-hf quickstart`, in its reduced mode: the same code path end to end (train
over several seeds on both tasks, evaluate, compare, plot, print the tables, save, reload, push), with a handful of
examples and steps. Also the synthetic task it runs on and how seeds are pooled."""

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hub_server import HubServer
from transformers import AutoModelForCausalLM, AutoProcessor, AutoTokenizer

import softcot_hf
from softcot_hf import CoconutForCausalLM, SoftCoTForCausalLM
from softcot_hf.data import get_task
from softcot_hf.data.synthetic_arithmetic import generate_arithmetic_chains, generate_split
from softcot_hf.generation import encode_prompts, generate_texts
from softcot_hf.hub import HUB_TRANSPORT_ERRORS
from softcot_hf.methods import get_method
from softcot_hf.quickstart import FULL, TINY, QuickstartArguments
from softcot_hf.quickstart.pooling import aggregate, compare, majority_answer_rate
from softcot_hf.quickstart.push import push_results
from softcot_hf.quickstart.settings import METHODS, PROSQA_METHODS, PROSQA_OPTIONS, shipped_models

# What the README's first command runs, plus the reduced mode (tests/test_readme_commands.py checks the README).
QUICKSTART_COMMAND = ["softcot-hf", "quickstart"]
TINY_FLAG = "--tiny"
REPO_ID = "quickstart-user/tiny"
SEEDS = ["0", "1"]  # two training seeds: the pooling and the paired tests run, at two thirds of the default's cost
TASKS = {"synthetic_arithmetic": METHODS, "prosqa_style": PROSQA_METHODS}


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
    assert record["prosqa"]["data_options"] == PROSQA_OPTIONS
    tokenizer = AutoTokenizer.from_pretrained(folder / "backbone")
    task = get_task("synthetic_arithmetic")
    prompt = get_method("zero_shot_cot").build_prompt(task, task.load("test")[0]["question"])
    assert tokenizer.unk_token_id not in encode_prompts(tokenizer, [prompt], chat=True)["input_ids"][0].tolist()
    # The ProsQA-style backbone's vocabulary covers every question, chain and answer of the quickstart's graphs, and
    # decoding gives the answer back as it is scored.
    tokenizer = AutoTokenizer.from_pretrained(folder / "prosqa_backbone")
    task = get_task("prosqa_style")
    for row in task.load("test", **PROSQA_OPTIONS).select(range(50)):
        ids = tokenizer(" ".join([row["question"], *row["steps"], "###", row["answer"]]), add_special_tokens=False)
        assert tokenizer.unk_token_id not in ids["input_ids"]
        assert task.score(tokenizer.decode(ids["input_ids"]), row["answer"])


def test_seeds_pool_into_mean_std_and_paired_tests_by_hand():
    summaries = [{"accuracy": a, "mean_generated_tokens": t, "num_examples": 4} for a, t in ((0.5, 10), (0.75, 12))]
    row = aggregate("SoftCoT", "softcot", summaries, [3.0, 5.0])
    assert row["accuracy_mean"] == 0.625 and row["accuracy_std"] == pytest.approx(0.1767767, abs=1e-7)  # (n - 1)
    assert row["tokens_mean"] == 11 and row["train_time_s_mean"] == 4.0
    frozen = aggregate("Zero-Shot CoT", "zero_shot_cot", summaries[:1], None)
    assert frozen["accuracy_std"] == 0.0 and frozen["train_time_s_mean"] is None
    # A frozen greedy method has one run; it is paired with each seed of the trained one.
    outcomes = {"a": [[1, 1, 0, 1], [1, 0, 0, 1]], "b": [[0, 0, 0, 1]]}
    result = compare("a", "b", outcomes)
    assert [(run["only_a"], run["only_b"]) for run in result["mcnemar_per_seed"]] == [(2, 0), (1, 0)]
    assert result["difference"] == pytest.approx((1 + 0.5 + 0 + 0) / 4)  # per-question accuracy over seeds
    assert result["verdict"] in ("significant", "not significant")


def test_the_majority_answer_rate_is_the_commonest_gold_answers_share():
    assert majority_answer_rate(["7", "3", "7", "12", "7"]) == 0.6
    assert majority_answer_rate(["1", "2"]) == 0.5
    with pytest.raises(ValueError, match="at least one test question"):
        majority_answer_rate([])


def test_tiny_shrinks_the_sizes_of_full_and_keeps_its_learning_rates_and_curriculum():
    kept = ("softcot_lr", "coconut_lr", "finetune_lr", "prosqa_lr", "max_latent_stage", "prosqa_max_latent_stage")
    for name in kept:
        assert getattr(TINY, name) == getattr(FULL, name), name
    for name in ("train_examples", "test_examples", "softcot_steps", "prosqa_train_examples", "stage_curve_examples"):
        assert getattr(TINY, name) < getattr(FULL, name), name
    assert QuickstartArguments(tiny=True).settings is TINY and QuickstartArguments().settings is FULL


@pytest.mark.parametrize("seeds", [[], [1, 1]])
def test_seeds_must_be_one_or_more_and_distinct(seeds, tmp_path):
    with pytest.raises(ValueError, match="--seeds must be one or more distinct seeds, got " + re.escape(str(seeds))):
        QuickstartArguments(output_dir=str(tmp_path / "out"), seeds=seeds)


def test_the_arguments_and_settings_import_neither_torch_nor_transformers():
    """The CLI renders `softcot-hf quickstart --help` from `softcot_hf.quickstart`: importing the package (its settings
    and arguments) must stay light. The package's parent, `softcot_hf/__init__.py`, is stood in for by a bare
    package here, so that this checks the quickstart's own imports."""
    package = Path(softcot_hf.__file__).parent
    script = (
        "import sys, types\n"
        f"parent = types.ModuleType('softcot_hf'); parent.__path__ = [{str(package)!r}]\n"
        "sys.modules['softcot_hf'] = parent\n"
        "from softcot_hf.quickstart import QuickstartArguments\n"
        "QuickstartArguments()\n"
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'torch', 'transformers', 'datasets', "
        "'matplotlib', 'numpy'}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip() == "[]"


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
            [
                *QUICKSTART_COMMAND,
                TINY_FLAG,
                "--output-dir",
                str(output_dir),
                "--push-to-hub",
                REPO_ID,
                "--seeds",
                *SEEDS,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        yield output_dir, completed.stdout, hub
    finally:
        hub.stop()


def _correct(eval_dir: Path) -> list[bool]:
    rows = [json.loads(line) for line in (eval_dir / "predictions.jsonl").read_text().splitlines()]
    return [row["correct"] for row in sorted(rows, key=lambda row: row["index"])]


def test_quickstart_prints_the_tables_over_seeds_and_writes_every_evaluation(quickstart_run):
    output_dir, stdout, _ = quickstart_run
    result = json.loads((output_dir / "results.json").read_text())
    assert result["seeds"] == [0, 1]
    for task, methods in TASKS.items():
        outcome = result["tasks"][task]
        assert [row["method"] for row in outcome["rows"]] == [method for _, method, _ in methods]
        for (label, method, folder), row in zip(methods, outcome["rows"], strict=True):
            # Every per-seed accuracy is that seed's evaluation on disk; a frozen greedy model is evaluated once.
            eval_dirs = (
                [output_dir / task / "eval" / method]
                if folder is None
                else [output_dir / task / f"seed-{seed}" / "eval" / method for seed in SEEDS]
            )
            on_disk = [json.loads((folder / "summary.json").read_text()) for folder in eval_dirs]
            assert row["accuracy_per_seed"] == [summary["accuracy"] for summary in on_disk]
            assert {summary["task"] for summary in on_disk} == {task}
            for eval_dir in eval_dirs:
                assert len(_correct(eval_dir)) == row["num_questions"]
            section = stdout.split(f"### {task} ")[1].split("### ")[0]  # the task's table (labels repeat)
            line = next(line for line in section.splitlines() if line.startswith(f"| {label} |"))
            assert f"{100 * row['accuracy_mean']:.1f} ± {100 * row['accuracy_std']:.1f}%" in line
            assert f"| {row['tokens_mean']:.1f} |" in line
        # The paired test's discordant counts, recounted from the predictions.
        (comparison,) = outcome["comparisons"]
        folder_of = {method: folder for _, method, folder in methods}
        for seed, counts in zip(SEEDS, comparison["mcnemar_per_seed"], strict=True):
            a, b = (
                _correct(output_dir / task / ("eval" if folder_of[m] is None else f"seed-{seed}/eval") / m)
                for m in (comparison["a"], comparison["b"])
            )
            assert (counts["only_a"], counts["only_b"]) == (
                sum(x and not y for x, y in zip(a, b, strict=True)),
                sum(y and not x for x, y in zip(a, b, strict=True)),
            )
        assert outcome["sentences"][0] in stdout and comparison["verdict"] in outcome["sentences"][0]
        if task == "prosqa_style":
            assert outcome["references"] == {"chance (2 options)": 0.5}
        else:  # the share of the commonest gold answer among the test questions evaluated
            answers = [json.loads(line)["gold"] for line in (output_dir / task / "eval" / "zero_shot_cot" /
                       "predictions.jsonl").read_text().splitlines()]  # fmt: skip
            top = max(answers.count(answer) for answer in answers)
            assert outcome["references"] == {"majority answer": top / len(answers)}
        png = output_dir / f"{task}.png"
        assert Path(outcome["plot"]) == png and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"![{task}]({task}.png)" in result["table"]
    assert (output_dir / "results.md").read_text() == result["table"]


def test_coconut_curve_covers_every_stage_and_its_last_point_is_the_saved_model(quickstart_run):
    output_dir, stdout, _ = quickstart_run
    result = json.loads((output_dir / "results.json").read_text())
    settings = result["settings"]
    curve = result["tasks"]["prosqa_style"]["stage_curve"]
    assert [point["stage"] for point in curve] == list(range(settings["prosqa_max_latent_stage"] + 1))
    assert settings["prosqa_max_latent_stage"] == PROSQA_OPTIONS["max_depth"]  # the last stage: every step latent
    for seed in SEEDS:
        evals = output_dir / "prosqa_style" / f"seed-{seed}" / "eval"
        stages = [json.loads((evals / "stages" / f"stage-{p['stage']}" / "summary.json").read_text()) for p in curve]
        assert [point["accuracy_per_seed"][SEEDS.index(seed)] for point in curve] == [s["accuracy"] for s in stages]
        # After the last stage the model in training is the one saved: same answers on the same questions.
        final = [json.loads(line) for line in (evals / "coconut" / "predictions.jsonl").read_text().splitlines()]
        last = [json.loads(line) for line in (evals / "stages" / f"stage-{curve[-1]['stage']}" / "predictions.jsonl")
                .read_text().splitlines()]  # fmt: skip
        assert len(last) == settings["stage_curve_examples"]
        assert [row["generated"] for row in last] == [row["generated"] for row in final[: len(last)]]


@torch.no_grad()
def test_quickstart_checkpoints_reload_and_answer_like_the_evaluation(quickstart_run):
    output_dir, stdout, _ = quickstart_run
    result = json.loads((output_dir / "results.json").read_text())
    question = result["example"]["question"]
    max_new_tokens = result["settings"]["max_new_tokens"]
    trained = output_dir / "synthetic_arithmetic" / "seed-0"

    softcot = AutoModelForCausalLM.from_pretrained(trained / "softcot")
    assert isinstance(softcot, SoftCoTForCausalLM)
    assert {p.name for p in (trained / "softcot").glob("*.safetensors")} == {"model.safetensors"}
    processor = AutoProcessor.from_pretrained(trained / "softcot")
    texts, _ = generate_texts(
        softcot, processor([question]), processor.backbone_tokenizer, max_new_tokens=max_new_tokens
    )
    coconut = AutoModelForCausalLM.from_pretrained(trained / "coconut")
    assert isinstance(coconut, CoconutForCausalLM)
    tokenizer = AutoTokenizer.from_pretrained(trained / "coconut")
    inputs = encode_prompts(
        tokenizer, [get_method("coconut").build_prompt(get_task("synthetic_arithmetic"), question)], chat=False
    )
    coconut_texts, _ = generate_texts(coconut, inputs, tokenizer, max_new_tokens=max_new_tokens)

    # The example question is test question 0: the reloaded models answer it as the batched evaluation did.
    for name, text in (("softcot", texts[0]), ("coconut", coconut_texts[0])):
        first = json.loads((trained / "eval" / name / "predictions.jsonl").read_text().splitlines()[0])
        assert first["question"] == question
        assert text == first["generated"][0] == result["example"]["answers"][name]
        assert f"{name} (reloaded from {trained / name}): {text}" in stdout


def test_quickstart_publishes_the_frozen_models_and_a_softcot_that_names_them(quickstart_run):
    output_dir, stdout, hub = quickstart_run
    backbone, assistant = f"{REPO_ID}-backbone", f"{REPO_ID}-assistant"
    assert f"pushed to the Hub: {backbone}, {assistant}, {REPO_ID}, {REPO_ID}-coconut" in stdout
    softcot = hub.files(REPO_ID)
    config = json.loads(softcot["config.json"])
    assert (config["backbone_model_name_or_path"], config["assistant_model_name_or_path"]) == (backbone, assistant)
    trained = output_dir / "synthetic_arithmetic" / "seed-0"
    assert softcot["model.safetensors"] == (trained / "softcot" / "model.safetensors").read_bytes()
    assert "README.md" in softcot and not any(path.startswith("checkpoint") for path in softcot)
    coconut = hub.files(f"{REPO_ID}-coconut")
    assert coconut["model.safetensors"] == (trained / "coconut" / "model.safetensors").read_bytes()
    for repo_id, name in ((backbone, "backbone"), (assistant, "assistant")):
        assert hub.files(repo_id)["model.safetensors"] == (output_dir / name / "model.safetensors").read_bytes()


def test_an_unreachable_hub_gives_a_clear_error(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        client = importlib.import_module(HUB_TRANSPORT_ERRORS[0].__module__.split(".")[0])  # httpx2 or httpx
        raise client.ConnectError("[Errno 111] Connection refused")

    monkeypatch.setattr("huggingface_hub.HfApi.create_repo", refuse)
    with pytest.raises(ConnectionError, match="Could not push the quickstart to the Hub as me/q .*ConnectError"):
        push_results(tmp_path, tmp_path / "seed-0", "me/q")


def test_the_quickstart_example_runs(tmp_path):
    script = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"
    completed = subprocess.run(
        [sys.executable, str(script), TINY_FLAG, "--seeds", "0", "--output-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "| SoftCoT |" in completed.stdout and "best method here:" in completed.stdout
    assert (tmp_path / "out" / "synthetic_arithmetic" / "seed-0" / "softcot" / "model.safetensors").is_file()
