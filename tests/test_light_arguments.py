"""The arguments dataclasses import light (no torch, transformers or datasets), every trained method is listed with
them, and training arguments become `transformers.TrainingArguments` only through `to_training_arguments`."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import TrainingArguments

from softcot_hf.evaluation import EvaluationArguments
from softcot_hf.methods import METHODS, method_for
from softcot_hf.training.arguments import CurriculumTrainingArguments, route_trainer_args
from softcot_hf.training.method_arguments import TRAINED_METHODS, CoconutTrainingArguments, SoftCoTTrainingArguments

ROOT = Path(__file__).resolve().parents[1]
LIGHT = [
    "softcot_hf.shared_options",
    "softcot_hf.training.arguments",
    "softcot_hf.training.method_arguments",
    "softcot_hf.evaluation.arguments",
    "softcot_hf.bench",
]
HEAVY = ("torch", "transformers", "datasets", "peft", "accelerate")


def imported_by(modules: list[str]) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after importing `modules`. The root package stands in
    as an empty one: its own imports are the command line's to keep light (tests/test_cli.py); what is checked here
    is every module below it on the way to `modules`."""
    code = f"""
import importlib, json, sys, types
root = types.ModuleType("softcot_hf")
root.__path__ = [{str(ROOT / "softcot_hf")!r}]
root.__version__ = "0"
sys.modules["softcot_hf"] = root
for name in {modules!r}:
    importlib.import_module(name)
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


def test_the_arguments_import_light():
    assert imported_by(LIGHT) & set(HEAVY) == set()


def test_the_light_check_sees_a_heavy_import():
    assert "torch" in imported_by(["softcot_hf.training.engines"])


def test_every_trained_method_is_listed_with_its_arguments():
    trained = {name: method.arguments for name, method in METHODS.items() if method.arguments is not None}
    assert {name: entry.arguments for name, entry in TRAINED_METHODS.items()} == trained
    assert list(TRAINED_METHODS) == list(trained)  # the papers' table order
    for entry in TRAINED_METHODS.values():
        assert entry.summary and "\n" not in entry.summary
        fields = {field.name: field for field in dataclasses.fields(entry.arguments)}
        assert "method" in fields and not any(f.type is TrainingArguments for f in fields.values())


def test_no_arguments_class_is_an_empty_subclass():
    for entry in TRAINED_METHODS.values():
        own = set(vars(entry.arguments).get("__annotations__", {}))
        assert own, f"{entry.arguments.__name__} adds no option of its own"


def test_a_method_is_named_by_its_arguments_not_their_type(tmp_path):
    args = CurriculumTrainingArguments(method="no_cot", backbone="gpt2", output_dir=str(tmp_path))
    assert method_for(args).name == "no_cot"
    with pytest.raises(TypeError, match="coconut trains with CoconutTrainingArguments"):
        method_for(CurriculumTrainingArguments(method="coconut", backbone="gpt2", output_dir=str(tmp_path)))


def test_max_new_tokens_is_declared_once_and_defaults_by_method(tmp_path):
    declared = [
        cls.__name__
        for module in (sys.modules["softcot_hf.shared_options"],)
        for cls in vars(module).values()
        if isinstance(cls, type) and "max_new_tokens" in vars(cls).get("__annotations__", {})
    ]
    assert declared == ["AnswerOptions"]
    for cls in (EvaluationArguments, SoftCoTTrainingArguments, CoconutTrainingArguments):
        assert "max_new_tokens" not in vars(cls).get("__annotations__", {})
    assert EvaluationArguments(task="gsm8k", method="coconut", model="gpt2").max_new_tokens == 128
    assert EvaluationArguments(task="gsm8k", method="softcot", model="gpt2").max_new_tokens == 256


def test_training_arguments_build_the_trainers(tmp_path):
    args = CoconutTrainingArguments(
        backbone="gpt2", output_dir=str(tmp_path), select_checkpoint="best_validation", task="prosqa_style",
        trainer_args={"bf16": False, "adam_beta2": 0.99}, lr_scheduler_type="linear",
    )  # fmt: skip
    built = args.to_training_arguments(output_dir=str(tmp_path / "checkpoints"))
    assert isinstance(built, TrainingArguments)
    assert built.output_dir == str(tmp_path / "checkpoints") and built.learning_rate == 1e-4
    assert built.adam_beta2 == 0.99 and built.save_strategy == "epoch" and built.data_seed == args.seed
    assert (
        built.eval_strategy == "epoch" and built.load_best_model_at_end and built.metric_for_best_model == "accuracy"
    )
    assert built.use_cpu and not built.remove_unused_columns


def test_trainer_args_refuse_unknown_and_own_fields(tmp_path):
    args = CoconutTrainingArguments(backbone="gpt2", output_dir=str(tmp_path), trainer_args='{"bf17": true}')
    with pytest.raises(ValueError, match="bf17 is not a TrainingArguments field"):
        args.to_training_arguments()
    with pytest.raises(ValueError, match="options of their own: pass --learning_rate"):
        CoconutTrainingArguments(backbone="gpt2", output_dir=str(tmp_path), trainer_args={"learning_rate": 1.0})


def test_trainer_fields_of_a_recipe_or_config_go_to_trainer_args():
    options = {"learning_rate": 1e-3, "bf16": True, "trainer_args": {"tf32": False}, "no_such_option": 1}
    routed = route_trainer_args(SoftCoTTrainingArguments, options)
    assert routed == {"learning_rate": 1e-3, "trainer_args": {"bf16": True, "tf32": False}, "no_such_option": 1}
    assert route_trainer_args(SoftCoTTrainingArguments, {"learning_rate": 1e-3}) == {"learning_rate": 1e-3}


def test_a_config_file_may_give_trainer_fields_at_top_level(tmp_path):
    from softcot_hf.arguments_parser import parse_arguments

    config = tmp_path / "options.yaml"
    config.write_text("bf16: false\nlearning_rate: 0.001\n")
    argv = ["--config", str(config), "--backbone", "b", "--assistant", "a", "--output-dir", str(tmp_path / "run")]
    args = parse_arguments(SoftCoTTrainingArguments, argv, "softcot-hf train softcot")
    assert args.trainer_args == {"bf16": False} and args.learning_rate == 1e-3
