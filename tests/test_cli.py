"""The command line: one dataclass per command, `--config FILE` equal to the same flags, usage errors with flag
names, and the Python API taking the very same dataclass."""

import dataclasses
import json

import pytest
import yaml

from softcot_hf import __version__
from softcot_hf.arguments_parser import parse_arguments
from softcot_hf.cli import main
from softcot_hf.evaluation import EvaluationArguments
from softcot_hf.methods import METHODS, get_method
from softcot_hf.reproduce import load_recipe
from softcot_hf.settings_files import read_config

RECIPE = {
    "backbone": "meta-llama/Llama-3.1-8B-Instruct",
    "assistant": "meta-llama/Llama-3.2-1B-Instruct",
    "task": "gsm8k",
    "num_thought_tokens": 4,
    "learning_rate": 2e-5,
    "num_train_epochs": 10,
    "per_device_train_batch_size": 4,
    "projection_type": "linear",
    "seed": 41,
}
FLAGS = [
    "--backbone", "meta-llama/Llama-3.1-8B-Instruct", "--assistant", "meta-llama/Llama-3.2-1B-Instruct",
    "--task", "gsm8k", "--num-thought-tokens", "4", "--lr", "2e-5", "--epochs", "10", "--batch-size", "4",
    "--projection_type", "linear", "--seed", "41",
]  # fmt: skip


def softcot_args(argv: list[str]):
    return parse_arguments(get_method("softcot").arguments, argv, "softcot-hf train softcot")


@pytest.fixture
def recipe_files(tmp_path):
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(RECIPE))
    (tmp_path / "recipe.json").write_text(json.dumps(RECIPE))
    return tmp_path / "recipe.yaml", tmp_path / "recipe.json"


def test_a_yaml_recipe_the_same_flags_and_the_python_api_give_the_same_arguments(recipe_files, tmp_path):
    out = ["--output-dir", str(tmp_path / "run")]
    from_flags = softcot_args(FLAGS + out)
    for recipe in recipe_files:
        assert softcot_args(["--config", str(recipe), *out]) == from_flags
    from_python = get_method("softcot").arguments(**read_config(recipe_files[0]), output_dir=str(tmp_path / "run"))
    assert from_python == from_flags
    assert (from_flags.learning_rate, from_flags.num_train_epochs, from_flags.per_device_train_batch_size) == (
        2e-5, 10, 4
    )  # fmt: skip
    assert from_flags.save_steps is None  # no --save-steps: every epoch
    assert from_flags.to_training_arguments().save_strategy == "epoch"


def test_flags_override_the_config_file(recipe_files, tmp_path):
    args = softcot_args(["--config", str(recipe_files[0]), "--lr", "1e-3", "--output-dir", str(tmp_path)])
    assert args.learning_rate == 1e-3 and args.num_thought_tokens == 4


def test_every_trained_method_parses_the_same_shared_options(tmp_path):
    shared = ["--backbone", "gpt2", "--output-dir", str(tmp_path), "--lr", "3e-4", "--epochs", "2"]
    shared += ["--batch-size", "2", "--no-evaluate", "--no-resume", "--limit", "5", "--seed", "3"]
    for method in METHODS.values():
        if method.arguments is None:
            continue
        extra = (
            ["--assistant", "small"] if "assistant" in {f.name for f in dataclasses.fields(method.arguments)} else []
        )
        args = parse_arguments(method.arguments, shared + extra, f"train {method.name}")
        assert (args.learning_rate, args.num_train_epochs, args.per_device_train_batch_size) == (3e-4, 2, 2)
        assert (args.evaluate, args.resume, args.limit, args.seed) == (False, False, 5, 3)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--output-dir", "x"], "softcot needs --assistant"),
        (["--assistant", "a", "--output-dir", "x"], "Pass --backbone"),
        (["--assistant", "a", "--backbone", "b"], "Pass --output-dir"),
        (["--assistant", "a", "--backbone", "b", "--output-dir", "x", "--task", "gsm9k"], "Unknown task 'gsm9k'"),
        (["--assistant", "a", "--backbone", "b", "--output-dir", "x", "--num-thought-tokens", "0"], "more than 0"),
        (["--assistant", "a", "--backbone", "b", "--output-dir", "x", "--projection-type", "conv"], "invalid choice"),
    ],
)
def test_bad_options_are_usage_errors_that_name_the_flag(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        softcot_args(argv)
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "usage: softcot-hf train softcot" in error and message in error


def test_a_config_with_unknown_options_is_refused(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**RECIPE, "learnign_rate": 1.0}))
    with pytest.raises(SystemExit):
        softcot_args(["--config", str(tmp_path / "bad.yaml"), "--output-dir", str(tmp_path)])
    assert "unknown options ['learnign_rate']" in capsys.readouterr().err


def test_eval_takes_generated_tasks_and_a_config(tmp_path):
    for task in ("synthetic_arithmetic", "prosqa_style"):
        args = parse_arguments(EvaluationArguments, ["--task", task, "--method", "coconut"], "softcot-hf eval")
        assert (args.task, args.seeds, args.batch_size) == (task, [41], 16)
    (tmp_path / "eval.yaml").write_text(yaml.safe_dump({"task": "gsm8k", "method": "softcot", "seeds": [41, 42]}))
    args = parse_arguments(EvaluationArguments, ["--config", str(tmp_path / "eval.yaml")], "softcot-hf eval")
    assert (args.method, args.seeds) == ("softcot", [41, 42])


def test_version_and_unknown_commands(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit, match="unknown method 'magic'; choose one of .*softcot"):
        main(["train", "magic"])


def test_yaml_numbers_without_a_dot_are_numbers(tmp_path):
    """YAML 1.1 (PyYAML) reads 2e-5 as text; config files and recipes read it as the number everyone means."""
    (tmp_path / "config.yaml").write_text("learning_rate: 2e-5\nmax_grad_norm: 1E+1\nname: e5\nversion: 1.2.3\n")
    assert read_config(tmp_path / "config.yaml") == {
        "learning_rate": 2e-05,
        "max_grad_norm": 10.0,
        "name": "e5",
        "version": "1.2.3",
    }
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("method: softcot\ntask: gsm8k\ntrain: {backbone: b/b, assistant: a/a, learning_rate: 3e-4}\n")
    assert load_recipe(recipe).training_arguments(tmp_path / "run").learning_rate == 3e-4
