"""`softcot-hf`'s help and start-up: every command's `--help` renders (sections in order, booleans as switches, each
default once), unknown names are refused with the valid ones, and parsing imports neither torch nor transformers."""

import dataclasses
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from softcot_hf import cli
from softcot_hf.arguments_parser import ArgumentsParser, ExtraOptions
from softcot_hf.cli import COMMANDS, check_command_line, main, trained_methods
from softcot_hf.training.arguments import MethodTrainingArguments

METHOD_NAMES = list(trained_methods())


def help_of(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0, argv
    return capsys.readouterr().out


def check_help(text: str, arguments: type) -> None:
    for line in text.splitlines():
        assert line.count("(default:") <= 1, line
    for dataclass_field in dataclasses.fields(arguments):
        dashed = dataclass_field.name.replace("_", "-")
        if dataclass_field.type in (bool, "bool") and f"--{dashed}" in text:
            assert re.search(rf"--{dashed}(, --[\w-]+)*, --no-{dashed}\b", text), dashed
            assert not re.search(rf"--{dashed} \[?\{{?(true|{dashed.upper().replace('-', '_')})", text), dashed


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_help_renders(name, capsys):
    text = help_of([name], capsys)
    assert text.startswith(f"usage: softcot-hf {name}")
    check_help(text, COMMANDS[name].arguments)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_every_method_help_renders_its_own_options_first(method, capsys):
    text = help_of(["train", method], capsys)
    assert text.startswith(f"usage: softcot-hf train {method}")
    summary, arguments = trained_methods()[method]
    check_help(text, arguments)
    assert "common options:" in text and "--output-dir" in text and "--lr" in text
    common = {f.name for f in dataclasses.fields(MethodTrainingArguments)}
    if {f.name for f in dataclasses.fields(arguments)} - common - {"method"}:
        assert text.index(f"{method} options:") < text.index("common options:")
    assert f"softcot-hf train {method} --help-all" in text
    assert "--adam-beta1" not in text  # transformers' TrainingArguments options wait for --help-all


def test_help_all_shows_the_training_arguments_of_transformers(capsys):
    text = help_of(["train", "softcot"], capsys).split("usage:")[0]
    with pytest.raises(SystemExit) as exited:
        main(["train", "softcot", "--help-all"])
    assert exited.value.code == 0
    assert "--adam-beta1" in capsys.readouterr().out and not text


def test_train_help_lists_the_methods_one_line_each(capsys):
    text = help_of(["train"], capsys)
    for method, (summary, _) in trained_methods().items():
        assert re.search(rf"^  {method} +{re.escape(summary)}$", text, re.MULTILINE)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "nosuch"], "unknown method 'nosuch'; choose one of " + ", ".join(METHOD_NAMES)),
        (["trian"], "unknown command 'trian' (did you mean 'train'?); choose one of train, eval"),
        (["eval", "--temprature", "1.0"], "unknown option --temprature; did you mean --temperature?"),
    ],
)
def test_unknown_names_are_refused_with_the_valid_ones(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert message in f"{exited.value.code}{capsys.readouterr().err}"


def test_booleans_are_switches_and_the_old_true_false_form_still_parses(capsys):
    parser = ArgumentsParser(COMMANDS["eval"].arguments, "softcot-hf eval")
    assert parser.parse_values(["--do-sample", "--temperature", "1.0"]) == {"do_sample": True, "temperature": 1.0}
    assert parser.parse_values(["--no-do-sample"]) == {"do_sample": False}
    assert parser.parse_values(["--do_sample", "false", "--length_buckets=true"]) == {
        "do_sample": False,
        "length_buckets": True,
    }
    with pytest.raises(SystemExit):
        parser.parse_values(["--do-sample=maybe"])
    assert "expected true or false, not 'maybe'" in capsys.readouterr().err


def test_check_command_line_parses_flags_without_building_or_running():
    check_command_line(["report", "no/such/summary.json", "--output-dir", "x"])  # no file is read
    check_command_line(["train", "softcot", "--backbone", "b", "--lr", "1e-4", "--no-resume"])  # nothing required
    check_command_line(["bench", "coconut_generate", "--quick", "--device", "cpu"])  # the script's own flags
    for bad in (
        ["eval", "--batch-size", "many"],  # bad type
        ["eval", "--scoring"],  # missing value
        ["train", "softcot", "--projection-type", "conv"],  # bad choice
        ["train", "softcot", "--nosuch-flag", "1"],  # unknown flag
        ["train", "nosuch"],
        ["nosuch"],
    ):
        with pytest.raises(SystemExit):
            check_command_line(bad)


def test_a_refused_value_is_a_one_line_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["eval", "--task", "gsm9k", "--method", "softcot"])
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error[0].startswith("usage: softcot-hf eval") and "gsm9k" in error[-1] and len(error) <= 3


def test_lm_eval_without_lm_eval_installed_says_how_to_install(monkeypatch):
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SystemExit, match=re.escape("lm-eval is not installed: pip install 'softcot-hf[lm_eval]'")):
        main(["lm-eval", "--help"])


@dataclass
class Trainer:
    warmup_ratio: float = 0.0
    bf16: bool = False
    optim: str = "adamw"


@dataclass
class Light:
    lr: float = field(default=1.0, metadata={"help": "step size"})
    trainer_args: dict = field(default_factory=dict, metadata={"help": "other trainer options"})


def test_unknown_flags_that_the_extra_source_declares_go_into_its_dict(tmp_path):
    loads = []
    extra = ExtraOptions("trainer_args", lambda: loads.append(1) or Trainer, "Trainer")
    parser = ArgumentsParser(Light, "light", extra=extra)
    assert parser.parse(["--lr", "2"]) == Light(2.0) and not loads  # the source is imported only when needed
    args = parser.parse(["--warmup-ratio", "0.1", "--bf16", "--lr", "3", "--optim=sgd"])
    assert args == Light(3.0, {"warmup_ratio": 0.1, "bf16": True, "optim": "sgd"})
    (tmp_path / "config.json").write_text(json.dumps({"lr": 4, "bf16": True}))
    assert parser.parse(["--config", str(tmp_path / "config.json")]) == Light(4, {"bf16": True})
    with pytest.raises(SystemExit):
        parser.parse(["--warmup-ratoi", "0.1"])


LIGHT_ARGV = [
    ["--version"],
    ["--help"],
    ["bench", "--help"],
    ["bench", "coconut_generate", "--quick"],
    ["train", "--help"],
    ["train", "softcot", "--help"],
    ["push", "--help"],
    ["reproduce", "--help"],
    ["train", "cot", "--lr", "1", "--no-evaluate"],
    ["eval", "--help"],
    ["report", "--help"],
    ["quickstart", "--help"],
]
CHECK = (
    "from softcot_hf.cli import check_command_line\n"
    "try:\n    check_command_line({argv!r})\nexcept SystemExit:\n    pass"
)


def imported_heavy_modules(code: str) -> list[str]:
    """The heavy packages that `code` imports, run in a fresh interpreter."""
    report = "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'datasets'}))"
    done = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\n{report}"], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))


def test_importing_the_package_is_light_and_its_models_load_on_use():
    assert imported_heavy_modules("import softcot_hf\nassert softcot_hf.__version__") == []
    code = (
        "from transformers import AutoConfig\nimport softcot_hf\nsoftcot_hf.SoftCoTConfig\n"
        "assert type(AutoConfig.for_model('coconut')).__name__ == 'CoconutConfig'"
    )
    assert "transformers" in imported_heavy_modules(code)  # a public name registers the Auto classes


@pytest.mark.parametrize("argv", LIGHT_ARGV)
def test_parsing_and_help_import_neither_torch_nor_transformers(argv):
    assert imported_heavy_modules(CHECK.format(argv=argv)) == []


def test_a_light_command_runs_without_importing_torch():
    assert imported_heavy_modules("from softcot_hf.cli import main\nmain(['bench', '--list'])") == []
