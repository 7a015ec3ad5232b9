"""`softcot-hf` command line. Every command's options are one dataclass, parsed with `transformers.HfArgumentParser`
(each field is `--field_name` and `--field-name`), so an option is defined once with its help text, and the Python
API takes the same dataclass. `--config FILE` (YAML or JSON, keyed by field name) gives values that flags override.

    softcot-hf train METHOD [--config recipe.yaml] [--flag value ...]   # one sub-command per trained method
    softcot-hf eval | report | push | quickstart | bench ...
    softcot-hf lm-eval --model softcot|coconut --model_args pretrained=DIR --tasks ...   # lm-evaluation-harness
"""

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass

from transformers import HfArgumentParser

from . import __version__
from .settings_files import check_keys, read_config
from .training.arguments import route_trainer_args

OFFLINE_HINT = (
    "Offline? Set HF_HUB_OFFLINE=1 so that Hub lookups fail at once, pass local folders instead of Hub ids, and "
    "--data-dir for a task's data."
)


@dataclass(frozen=True)
class Command:
    """A command: its options (a dataclass), what runs them, and the field that leading bare words fill (e.g. the
    folder of `softcot-hf push FOLDER`); with `passthrough`, every word after that first one goes to `rest` as is."""

    name: str
    help: str
    arguments: type
    run: Callable
    positional: str | None = None
    passthrough: str | None = None
    defaults: dict | None = None
    defaults: dict | None = None


def _commands() -> dict[str, Command]:
    """The commands other than train and lm-eval; the library code each runs is imported here, on use."""
    from .bench import BenchArguments, run_bench
    from .evaluation.arguments import EvaluationArguments, ReportArguments
    from .evaluation.console import evaluate_and_print, report_and_print
    from .hub import PushArguments, run_push
    from .quickstart import QuickstartArguments
    from .quickstart.run import run_quickstart
    from .reproduce import ReproduceArguments, reproduce

    commands = [
        Command(
            "eval",
            "evaluate a method on a task: predictions.jsonl, summary.json, table",
            EvaluationArguments,
            evaluate_and_print,
        ),
        Command(
            "report",
            "markdown table and bar chart from several summary.json files",
            ReportArguments,
            report_and_print,
            positional="summaries",
        ),
        Command(
            "push",
            "publish a saved SoftCoT / CoT-Unk / Coconut folder on the Hub, with a model card",
            PushArguments,
            run_push,
            positional="folder",
        ),
        Command(
            "quickstart",
            "train SoftCoT and Coconut on two synthetic tasks over 3 seeds, evaluate, compare (CPU, minutes)",
            QuickstartArguments,
            run_quickstart,
        ),
        Command(
            "bench",
            "run a speed/memory benchmark of the source checkout (benchmarks/NAME.py)",
            BenchArguments,
            run_bench,
            positional="name",
            passthrough="args",
        ),
        Command(
            "reproduce",
            "one paper-table row from a recipe file: train, evaluate with its seeds, print ours beside the paper's",
            ReproduceArguments,
            reproduce,
            positional="recipe",
        ),
    ]
    return {command.name: command for command in commands}


def _train_commands() -> dict[str, Command]:
    """`softcot-hf train METHOD`: one per method that trains, on its training arguments (`method` set to METHOD)."""
    from .training.method_arguments import TRAINED_METHODS

    def train_and_report(args):
        from .pipelines import train_and_report

        return train_and_report(args)

    return {
        name: Command(name, entry.summary, entry.arguments, train_and_report, defaults={"method": name})
        for name, entry in TRAINED_METHODS.items()
    }


def _first_bare_word(parser: argparse.ArgumentParser, argv: list[str]) -> int | None:
    """Index of the first word of `argv` that is neither a flag nor a flag's value (`None` if there is none)."""
    index = 0
    while index < len(argv):
        word = argv[index]
        if not word.startswith("-"):
            return index
        action = parser._option_string_actions.get(word.split("=", 1)[0])
        takes_value = action is not None and action.nargs != 0 and "=" not in word
        # A boolean flag (nargs "?") takes the next word only when it is a boolean.
        if takes_value and action.nargs == "?":
            nxt = argv[index + 1] if index + 1 < len(argv) else ""
            takes_value = nxt.lower() in ("true", "false", "yes", "no", "1", "0", "t", "f", "y", "n")
        index += 2 if takes_value else 1
    return None


def parse_arguments(
    arguments: type,
    argv: list[str],
    prog: str,
    description: str | None = None,
    positional: str | None = None,
    passthrough: str | None = None,
    defaults: dict | None = None,
):
    """
    An `arguments` dataclass from `argv`: its flags, optionally `--config FILE` (values that flags override) and
    leading bare words for the `positional` field (with `passthrough`, the words after the first one go to that field
    as they are). `defaults` replace the dataclass's own. A value the dataclass refuses is a usage error.
    """
    parser = HfArgumentParser(arguments, prog=prog, description=description)
    parser.add_argument("--config", help="YAML or JSON file of options, by field name (flags override it)")
    argv = list(argv)
    rest = None
    if positional and (first := _first_bare_word(parser, argv)) is not None:
        if passthrough:
            argv, rest = [*argv[:first], f"--{positional}", argv[first]], argv[first + 1 :]
        else:  # the bare words up to the next flag fill the positional field
            argv = [*argv[:first], f"--{positional}", *argv[first:]]
    if defaults:
        parser.set_defaults(**defaults)
    known, _ = parser.parse_known_args(argv)
    if known.config:
        try:
            config = route_trainer_args(arguments, read_config(known.config))  # TrainingArguments keys: trainer_args
            check_keys(known.config, config, (field.name for field in dataclasses.fields(arguments)))
        except (OSError, ValueError) as error:
            parser.error(str(error))
        parser.set_defaults(**config)
    values = vars(parser.parse_args(argv))
    values.pop("config")
    if rest is not None:
        values[passthrough] = rest
    try:
        return arguments(**values)
    except (ValueError, TypeError, OSError) as error:  # a value the dataclass refuses, a file it cannot read
        parser.error(str(error))


def parse(command: Command, argv: list[str], prog: str):
    """`command.arguments` from `argv` (see `parse_arguments`)."""
    return parse_arguments(
        command.arguments, argv, prog, command.help, command.positional, command.passthrough, command.defaults
    )


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser (for `--help` and `--version`); each command parses its own options."""
    parser = argparse.ArgumentParser(prog="softcot-hf", description="Latent chain-of-thought for Hugging Face models.")
    parser.add_argument("--version", action="version", version=f"softcot-hf {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("train", help="train a method's artifact: softcot-hf train METHOD --help")
    commands.add_parser("lm-eval", help="lm-evaluation-harness with --model softcot|coconut (pip install lm-eval)")
    for command in _commands().values():
        commands.add_parser(command.name, help=command.help)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-"):
        build_parser().parse_args(argv or ["--help"])
        return
    name, argv = argv[0], argv[1:]
    if name == "lm-eval":  # lm-eval's own command line and options, with our model types registered
        from .lm_eval_models import main as lm_eval_main

        return lm_eval_main(argv)
    if name == "train":
        methods = _train_commands()
        if not argv or argv[0] not in methods:
            raise SystemExit(f"usage: softcot-hf train METHOD [options]; METHOD is one of {', '.join(methods)}.")
        command, argv, prog = methods[argv[0]], argv[1:], f"softcot-hf train {argv[0]}"
    else:
        commands = _commands()
        if name not in commands:
            build_parser().error(f"unknown command {name!r}; choose one of train, {', '.join(commands)}.")
        command, prog = commands[name], f"softcot-hf {name}"
    args = parse(command, argv, prog)
    from .hub import HUB_TRANSPORT_ERRORS, offline_if_unreachable
    from .run_files import DifferentRunError

    # One look at the Hub before the command: out of reach, its lookups fail at once instead of after 5 retries (push
    # needs the Hub and says so itself).
    try:
        with contextlib.nullcontext() if name == "push" else offline_if_unreachable() as note:
            if note:
                print(f"{prog}: {note}", file=sys.stderr)
            command.run(args)
    except (ConnectionError, *HUB_TRANSPORT_ERRORS) as error:  # the network: one line that says what to do
        raise SystemExit(f"{prog}: error: {error} {OFFLINE_HINT}") from None
    except (OSError, DifferentRunError) as error:  # a missing file or model, another run's folder: the message says
        raise SystemExit(f"{prog}: error: {error}") from None


if __name__ == "__main__":
    main()
