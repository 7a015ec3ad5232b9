"""Recipes: every file loads and dry-runs with real tokenizers, the tiny one runs end to end, paper numbers."""

import json
import os
import socket
import subprocess
import warnings
from functools import cache
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from softcot_hf.cli import main
from softcot_hf.compat import checkpointing_field
from softcot_hf.evaluation.arguments import EvaluationArguments
from softcot_hf.fidelity import FLAVOURS, check
from softcot_hf.paper_results import PAPER_RESULTS
from softcot_hf.recipe_files import NOT_RECIPES, RECIPES_DIR, find_recipe, recipe_names
from softcot_hf.reproduce import (
    backbone_generation_config,
    compare,
    dry_run,
    load_recipe,
    plan,
    reproduce,
)
from softcot_hf.reproduce_arguments import ReproduceArguments
from softcot_hf.run_files import training_identity

ROOT = Path(__file__).resolve().parents[1]
# accelerate/ holds launcher configs (accelerate launch --config_file) and official/ the official settings the recipes
# compare with (softcot_hf.fidelity): neither is a recipe.
RECIPES = sorted(
    path for path in RECIPES_DIR.rglob("*.yaml") if path.relative_to(RECIPES_DIR).parts[0] not in NOT_RECIPES
)
TOKENIZERS = ROOT.parent / "shared" / "tokenizers"
SHARED_DATA = ROOT.parent / "shared" / "data"
DATA_FOLDERS = {"asdiv_aug": "asdiv", "gsm8k_aug": "gsm8k_aug_icot"}
needs_tokenizers = pytest.mark.skipif(not TOKENIZERS.is_dir(), reason=f"real tokenizers not found at {TOKENIZERS}")


def _folder(name: str) -> str:
    """Where a recipe's model files are read offline: a local folder, or the shared copy of its Hub id's family
    (tokenizer and, for LLaMA-3 and Qwen2.5, the real checkpoints' generation_config.json)."""
    if Path(name).exists():
        return name
    family = "llama3" if "llama" in name.lower() else "qwen2.5" if "qwen" in name.lower() else "gpt2"
    return str(TOKENIZERS / family)


@cache
def _tokenizer(name: str):
    return AutoTokenizer.from_pretrained(_folder(name))


def test_recipes_cover_the_papers_tables():
    assert len(RECIPES) >= 60
    recipes = [load_recipe(path) for path in RECIPES]
    # each names its own run folder, runs/<path under recipes/>, and is found by that name
    names = [path.relative_to(RECIPES_DIR).with_suffix("").as_posix() for path in RECIPES]
    assert [recipe.name for recipe in recipes] == names and sorted(names) == recipe_names()
    named = {recipe.paper_result for recipe in recipes if recipe.paper_result is not None}
    # every reported number has a recipe, and a recipe's row is its own method and task
    assert named == set(PAPER_RESULTS.values())
    for recipe in recipes:
        if recipe.paper_result is not None:
            assert (recipe.paper_result.method, recipe.paper_result.task) == (recipe.method.name, recipe.task)


@needs_tokenizers
@pytest.mark.parametrize("path", RECIPES, ids=lambda path: str(path.relative_to(RECIPES_DIR)))
def test_every_recipe_dry_runs(path, tmp_path):
    recipe = load_recipe(path)
    tokenizers, names = {}, {}
    for side in ("backbone", "assistant"):
        if (name := recipe.model_name(side)) is not None:
            tokenizers[side], names[side] = _tokenizer(name), name
    shared = SHARED_DATA / DATA_FOLDERS.get(recipe.task, recipe.task)
    data_dir = str(shared) if shared.is_dir() else None  # the generated tasks need no data
    generation_config = backbone_generation_config(_folder(names["backbone"]))
    # Each flavour plans with no undeclared deviation in its table (check raises on one); the paper flavour is also
    # printed (test_qwen_dry_run_shows_the_sampling_the_backbone_inherits prints both flavours).
    for flavour in FLAVOURS:
        planned = plan(recipe, tmp_path, data_dir, tokenizers, flavour, generation_config)
        check(planned.rows, f"{recipe.name} ({flavour})")
    text = dry_run(recipe, plan(recipe, tmp_path, data_dir, tokenizers, "paper", generation_config))
    assert recipe.fidelity is None or "setting | official | this run | equal" in text
    assert f"{recipe.method.name} on {recipe.task}" in text
    assert "backbone (" in text and "ids: [" in text
    assert ("assistant (" in text) == (recipe.method.name in ("softcot", "softcotpp", "assist_cot"))
    if recipe.paper_result is not None:
        assert f"paper: {recipe.paper_result.accuracy:.2f} %" in text


@needs_tokenizers
def test_dry_run_command_prints_the_exact_prompts(capsys, tmp_path):
    llama = str(TOKENIZERS / "llama3")
    (tmp_path / "empty").mkdir()  # holds no GSM8K files: the dry run shows a stand-in question
    main(
        ["reproduce", "softcot/gsm8k-llama", "--dry-run", "--output-dir", str(tmp_path)]
        + ["--backbone-tokenizer", llama, "--assistant-tokenizer", llama, "--data-dir", str(tmp_path / "empty")]
    )
    out = capsys.readouterr().out
    assert "paper: 81.03 %" in out and "sampling_preset: 'softcot_official'" in out and "top_k: 50" in out
    assert "learning_rate: 2e-05" in out and "max_new_tokens: 1024" in out
    # the assistant's placeholders (<|end_of_text|>, 128001) and the backbone's markers and slots
    assert "<|end_of_text|><|end_of_text|><|end_of_text|><|end_of_text|>" in out
    assert "128002, 128005, 128005, 128005, 128005, 128003" in out
    assert not (tmp_path / "train").exists()


@needs_tokenizers
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_qwen_dry_run_shows_the_sampling_the_backbone_inherits(capsys, tmp_path, flavour):
    qwen = str(TOKENIZERS / "qwen2.5")  # holds the real Qwen2.5-7B-Instruct generation_config.json
    main(
        ["reproduce", str(RECIPES_DIR / "softcot/gsm8k-qwen.yaml"), "--dry-run", "--output-dir", str(tmp_path)]
        + ["--backbone-tokenizer", qwen, "--assistant-tokenizer", qwen, "--flavour", flavour]
        + _local_gsm8k_options()
    )
    out = capsys.readouterr().out
    sampling = out.split("sampling as the backbone sees it")[1].split("fidelity:")[0]
    assert "top_k: 20" in sampling and "repetition_penalty: 1.05" in sampling and "temperature: 1.0" in sampling
    assert "top_k | 20 | 20 | yes" in out and "repetition_penalty | 1.05 | 1.05 | yes" in out
    # N = 32 in training, 4 at evaluation; the backbone's prompt ends with the user turn
    assert "num_thought_tokens_train | 32 | 32 | yes" in out and "num_thought_tokens_eval | 4 | 4 | yes" in out
    assert "backbone_prompt_end | user turn (no generation prompt) | user turn (no generation prompt) | yes" in out
    projection = (
        "projection_dtype | bf16 | bf16 | yes" if flavour == "paper" else "projection_dtype | bf16 | fp32 | DEVIATION"
    )
    assert projection in out


def _local_gsm8k() -> str | None:
    """The shared GSM8K folder, so a dry run reads its first question locally (None: it falls back to a stand-in)."""
    folder = SHARED_DATA / "gsm8k"
    return str(folder) if folder.is_dir() else None


def _local_gsm8k_options() -> list[str]:
    return ["--data-dir", _local_gsm8k()] if _local_gsm8k() else []


def _recipe_copy(tmp_path, edit) -> Path:
    """recipes/softcot/gsm8k-llama.yaml with `edit` applied to its text, under a recipes/ folder of its own (the
    official tables copied beside it)."""
    folder = tmp_path / "recipes"
    (folder / "softcot").mkdir(parents=True)
    for table in (RECIPES_DIR / "official").glob("*.yaml"):
        (folder / "official").mkdir(exist_ok=True)
        (folder / "official" / table.name).write_text(table.read_text())
    path = folder / "softcot" / "gsm8k-llama.yaml"
    path.write_text(edit((RECIPES_DIR / "softcot/gsm8k-llama.yaml").read_text()))
    return path


@needs_tokenizers
def test_a_wrong_recipe_is_caught(tmp_path):
    """ "this run" is read from the arguments the run will use: a recipe that trains at another learning rate or
    evaluates with the generation prompt is refused, and so is a deviation declared where the values agree."""
    llama = _tokenizer("meta-llama/Llama-3.1-8B-Instruct")
    tokenizers = {"backbone": llama, "assistant": llama}
    config = backbone_generation_config(str(TOKENIZERS / "llama3"))

    def refused(edit, message):
        recipe = load_recipe(_recipe_copy(tmp_path / str(len(list(tmp_path.iterdir()))), edit))
        with pytest.raises(ValueError, match=message):
            dry_run(recipe, plan(recipe, tmp_path, _local_gsm8k(), tokenizers, "paper", config))

    refused(lambda text: text.replace("learning_rate: 2.0e-5", "learning_rate: 1.0e-4"), r"undeclared.*learning_rate")
    refused(lambda text: text.replace("  num_thought_tokens: 4\n", ""), r"undeclared.*num_thought_tokens_eval")
    refused(lambda text: text.replace("prompt_preset: official", "prompt_preset: null"), r"undeclared.*instruction")
    refused(lambda text: text.replace("  batch_size: 16", "  batch_size: 1"), r"\['eval_batch_size'\] that agree")
    # the same check guards a real run before anything trains
    args = ReproduceArguments(recipe=str(_recipe_copy(tmp_path / "run", lambda t: t.replace("seed: 42", "seed: 41"))))
    args.backbone_tokenizer = args.assistant_tokenizer = str(TOKENIZERS / "llama3")
    args.data_dir = _local_gsm8k()
    with pytest.raises(ValueError, match=r"undeclared deviations \['seed'\]"):
        reproduce(args)
    assert not (tmp_path / "runs").exists()


def test_fidelity_tables_name_known_settings_and_sources(tmp_path):
    bad = _recipe_copy(
        tmp_path, lambda text: text.replace("  official:\n", "  official:\n    lr: {value: 1, source: x}\n")
    )
    with pytest.raises(ValueError, match="unknown setting 'lr'"):
        load_recipe(bad)
    bad.write_text(bad.read_text().replace("    lr: {value: 1, source: x}\n", "    seed: 42\n"))
    with pytest.raises(ValueError, match="needs exactly"):
        load_recipe(bad)
    for path in RECIPES:
        table = load_recipe(path).fidelity
        assert table is not None and table.official, f"{path} has no fidelity table"
        assert all(row.source for row in table.official.values())


def test_compare_prints_the_difference_in_standard_deviations():
    paper = PAPER_RESULTS["softcot/llama/softcot/gsm8k"]
    summary = {"accuracy": 0.8203, "accuracy_std": 0.005, "seeds": [41, 42, 43, 44, 45], "num_examples": 1319}
    line = compare(summary, paper)
    assert "ours 82.03 ± 0.50 %" in line and "paper 81.03 %" in line and "+1.00 (+2.0 std)" in line
    assert compare(summary, None).endswith("paper: -")


def test_recipe_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: zero_shot_cot\ntask: gsm8k\ntrain: {backbone: x}\neval: {}\n")
    with pytest.raises(ValueError, match="no train section"):
        load_recipe(bad)
    bad.write_text("method: softcot\ntask: gsm8k\nlr: 1\n")
    with pytest.raises(ValueError, match="unknown keys"):
        load_recipe(bad)
    bad.write_text("method: softcot\ntask: gsm8k\npaper_result: softcot/llama/softcot/nope\ntrain: {}\n")
    with pytest.raises(ValueError, match="PAPER_RESULTS"):
        load_recipe(bad)
    offline = ReproduceArguments(recipe="softcot/gsm8k-llama", dry_run=True)
    offline.backbone_tokenizer = str(tmp_path / "no-tokenizer")
    with pytest.raises(FileNotFoundError, match="--backbone-tokenizer .*no-tokenizer: no such folder"):
        reproduce(offline)


def test_tiny_recipe_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the recipe names the shipped models relative to its own file: any folder works
    run = tmp_path / "run"
    args = ReproduceArguments(recipe="tiny/softcot-synthetic_arithmetic", output_dir=str(run))
    summary = reproduce(args)
    assert summary["seeds"] == [41, 42] and summary["num_examples"] == 8
    assert summary["settings"]["top_k"] == 50 and summary["settings"]["max_new_tokens"] == 24
    assert summary["comparison"].startswith("ours ") and summary["comparison"].endswith("paper: -")
    assert json.loads((run / "eval" / "summary.json").read_text())["accuracy"] == summary["accuracy"]
    written = json.loads((run / "reproduce.json").read_text())
    assert written["recipe"] == "tiny/softcot-synthetic_arithmetic" and written["comparison"] == summary["comparison"]
    assert (run / "train" / "run.json").is_file()
    again = reproduce(args)  # a rerun resumes the finished training and evaluates the same predictions
    assert again["accuracy_per_seed"] == summary["accuracy_per_seed"]


def test_the_tiny_recipe_dry_runs_by_name_from_any_folder(tmp_path):
    """The command a new user types, from a folder that is not the repository: the recipe is found by name in the
    package and its model paths are read from the recipe's own folder."""
    done = subprocess.run(
        ["softcot-hf", "reproduce", "tiny/softcot-synthetic_arithmetic", "--dry-run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "recipe tiny/softcot-synthetic_arithmetic (paper flavour): softcot on synthetic_arithmetic" in done.stdout
    shipped = RECIPES_DIR.parent / "assets" / "quickstart" / "backbone"
    assert f"backbone: {str(shipped)!r}" in done.stdout
    assert list(tmp_path.iterdir()) == []  # a dry run writes nothing


def test_an_unreachable_hub_is_said_at_once_not_after_retries(tmp_path):
    """HF_HUB_OFFLINE unset and the Hub out of reach (a closed local port): the command says so in one line and runs
    offline, so the tokenizer lookup fails at once instead of after the Hub client's 5 retries with backoff."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf_home")}
    env.pop("HF_HUB_OFFLINE", None)
    done = subprocess.run(
        ["softcot-hf", "reproduce", "softcot/gsm8k-llama", "--dry-run", "--output-dir", str(tmp_path / "run")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert f"softcot-hf reproduce: Cannot reach the Hub at {endpoint}" in done.stderr
    assert "running offline" in done.stderr and "pass --backbone-tokenizer" in done.stderr
    assert "Retry" not in done.stderr


def test_recipes_are_found_by_name_or_path(tmp_path, capsys):
    by_name = find_recipe("softcot/gsm8k-llama")
    assert by_name == RECIPES_DIR / "softcot" / "gsm8k-llama.yaml"
    # the suffix and the old repository path are accepted; a file is a file wherever it is
    assert find_recipe("softcot/gsm8k-llama.yaml") == find_recipe("recipes/softcot/gsm8k-llama.yaml") == by_name
    copy = tmp_path / "mine.yaml"
    copy.write_text(by_name.read_text())
    assert find_recipe(copy) == copy and load_recipe(copy).name == "mine"
    with pytest.raises(FileNotFoundError, match=r"(?s)No recipe at softcot/gsm8k-lama: .*you mean softcot/gsm8k-ll"):
        find_recipe("softcot/gsm8k-lama")
    with pytest.raises(FileNotFoundError, match=r"(?s)shipped recipes.*softcot/: aqua-llama, aqua-qwen,.*tiny/:"):
        find_recipe("nosuch")
    for folder in NOT_RECIPES:  # launcher configs and official tables are not recipes
        with pytest.raises(FileNotFoundError, match="No recipe"):
            find_recipe(f"{folder}/{next((RECIPES_DIR / folder).glob('*.yaml')).stem}")
    # the command line: a usage error that lists the names
    with pytest.raises(SystemExit):
        main(["reproduce", "softcot/nosuch", "--dry-run"])
    assert "No recipe at softcot/nosuch: " in capsys.readouterr().err


def test_a_recipes_relative_model_paths(tmp_path, monkeypatch):
    """./ and ../ start from the recipe's folder; other relative paths from the working directory. A model path that
    does not exist is reported as such (before any tokenizer is looked for), not as a tokenizer problem."""
    tiny = (RECIPES_DIR / "tiny" / "softcot-synthetic_arithmetic.yaml").read_text()
    shipped = RECIPES_DIR.parent / "assets" / "quickstart"
    (tmp_path / "models").symlink_to(shipped)
    recipe = tmp_path / "recipes" / "mine.yaml"
    recipe.parent.mkdir()
    recipe.write_text(tiny.replace("../../assets/quickstart/", "../models/"))
    assert load_recipe(recipe).train["backbone"] == str(tmp_path / "models" / "backbone")
    monkeypatch.chdir(tmp_path)
    recipe.write_text(tiny.replace("../../assets/quickstart/", "models/"))
    assert load_recipe(recipe).train["backbone"] == "models/backbone"  # a Hub-id-like name stays as written
    for written, shown in (("./nowhere/", str(tmp_path / "recipes" / "nowhere")), ("nowhere/x/", "nowhere/x")):
        recipe.write_text(tiny.replace("../../assets/quickstart/", written))
        with pytest.raises(ValueError, match="must be a local model folder that exists") as error:
            reproduce(ReproduceArguments(recipe=str(recipe), dry_run=True, output_dir=str(tmp_path / "run")))
        assert f"{shown}/assistant" in str(error.value) and "tokenizer" not in str(error.value)
    # a method that trains nothing names its models in eval: the same holds there
    recipe.write_text("method: zero_shot_cot\ntask: synthetic_arithmetic\neval: {backbone: ./nowhere/backbone}\n")
    with pytest.raises(ValueError, match="must be a local model folder that exists") as error:
        reproduce(ReproduceArguments(recipe=str(recipe), dry_run=True, output_dir=str(tmp_path / "run")))
    assert str(tmp_path / "recipes" / "nowhere" / "backbone") in str(error.value)
    assert "tokenizer" not in str(error.value)


@needs_tokenizers
def test_training_and_evaluation_read_their_own_data_folders(tmp_path):
    du = load_recipe("softcot/date_understanding-llama")
    du_data, gsm8k_data = str(SHARED_DATA / "date_understanding"), str(SHARED_DATA / "gsm8k")
    assert du.training_arguments(tmp_path, du_data).data_dir is None  # GSM8K training never reads DU's folder
    assert du.training_arguments(tmp_path, du_data, gsm8k_data).data_dir == gsm8k_data
    assert du.evaluation_arguments(None, tmp_path, du_data).data_dir == du_data
    tokenizers = {"backbone": _tokenizer("llama"), "assistant": _tokenizer("llama")}
    text = dry_run(du, plan(du, tmp_path, du_data, tokenizers, train_data_dir=gsm8k_data))
    training, _, evaluation = text.partition("evaluation (EvaluationArguments):")
    assert f"data_dir: {gsm8k_data!r}" in training and du_data not in training
    assert f"data_dir: {du_data!r}" in evaluation
    gsm8k = load_recipe("softcot/gsm8k-llama")  # same task: one folder serves both
    assert gsm8k.training_arguments(tmp_path, gsm8k_data).data_dir == gsm8k_data


def test_loader_options_reach_training_and_evaluation(tmp_path):
    recipe = load_recipe("softcot/gsm8k-llama")
    assert recipe.training_arguments(tmp_path).data_options == {"socratic": True, "keep_notes": True}
    du = load_recipe("softcot/date_understanding-llama")
    assert du.training_arguments(tmp_path).task == "gsm8k"  # DU is evaluated with the GSM8K-trained projection
    assert du.evaluation_arguments(None, tmp_path).data_options is None  # BIG-Bench-Hard's 250
    args = EvaluationArguments(
        task="date_understanding", method="zero_shot_cot", data_options='{"bigbench_369": true}'
    )
    assert args.data_options == {"bigbench_369": True}


def test_the_official_bf16_projection_is_a_knob(tmp_path):
    from softcot_hf.data import get_task
    from softcot_hf.methods import get_method
    from softcot_hf.quickstart import shipped_models

    softcot, pair = get_method("softcot"), shipped_models()
    options = {"backbone": str(pair / "backbone"), "assistant": str(pair / "assistant"), "output_dir": str(tmp_path)}
    for dtype, expected in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        args = softcot.arguments(**options, projection_dtype=dtype)
        model, _, _ = softcot.build(args, get_task("synthetic_arithmetic"), torch.float32)
        assert {p.dtype for p in model.projection.parameters()} == {expected}
        assert training_identity(args)["projection_dtype"] == dtype


def test_training_arguments_warn_about_nothing_the_user_did_not_do(tmp_path):
    """SoftCoT's gradient_checkpointing is ours (the frozen backbone's layers), not transformers' deprecated alias of
    activation_checkpointing: set or not, it raises no FutureWarning and leaves Trainer's own checkpointing off."""
    recipe = load_recipe("tiny/softcot-synthetic_arithmetic")
    for checkpointing in (False, True):
        recipe.train["gradient_checkpointing"] = checkpointing
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            args = recipe.training_arguments(tmp_path)
            trainer = args.to_training_arguments()
        assert args.gradient_checkpointing is checkpointing
        assert not getattr(trainer, checkpointing_field())  # Trainer's own stays off


def test_trainers_checkpointing_is_set_under_the_name_transformers_has():
    """Coconut's gradient_checkpointing is Trainer's: set, it reaches TrainingArguments under the field this
    transformers has (activation_checkpointing from 5.25) without a FutureWarning."""
    from softcot_hf.methods import get_method

    arguments = get_method("coconut").arguments
    for checkpointing in (False, True):
        args = arguments(backbone="b", output_dir="unused", gradient_checkpointing=checkpointing)
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            trainer = args.to_training_arguments()
        assert getattr(trainer, checkpointing_field()) is checkpointing


def test_loader_options_are_part_of_a_runs_identity(tmp_path):
    from softcot_hf.methods import get_method

    lora = get_method("lora").arguments
    plain = lora(backbone="b", output_dir=str(tmp_path))
    socratic = lora(backbone="b", output_dir=str(tmp_path), data_options={"socratic": True})
    assert training_identity(plain)["data_options"] is None
    assert training_identity(socratic)["data_options"] == {"socratic": True}
    coconut = get_method("coconut")
    args = coconut.arguments(backbone="b", output_dir=str(tmp_path), task="gsm8k", data_options='{"socratic": true}')
    assert training_identity(args)["data_options"] == {"socratic": True}


def test_a_recipe_gives_other_trainingarguments_fields_at_top_level(tmp_path):
    """A recipe's train section may set any TrainingArguments field (e.g. bf16): it reaches Trainer through
    trainer_args, and a key that is neither ours nor Trainer's is still refused."""
    recipe = load_recipe(
        _recipe_copy(tmp_path / "a", lambda text: text.replace("  seed: 42", "  seed: 42\n  bf16: false"))
    )
    args = recipe.training_arguments(tmp_path / "run")
    assert args.trainer_args == {"bf16": False} and args.to_training_arguments().bf16 is False
    with pytest.raises(ValueError, match="bf17"):
        load_recipe(_recipe_copy(tmp_path / "b", lambda text: text.replace("  seed: 42", "  seed: 42\n  bf17: false")))
