"""`softcot-hf`: the command table. Each command is a name, a one-line help, its arguments dataclass and a small run
function; the arguments are parsed by `arguments_parser` (every field a flag, `--config FILE` equal to the same
flags), and the library is imported inside the run function, so that `--version` and every `--help` answer without
importing torch or transformers.

    softcot-hf train METHOD [--config recipe.yaml] [--flag value ...]   # one sub-command per trained method
    softcot-hf eval | report | push | quickstart | bench | reproduce ...
    softcot-hf lm-eval --model softcot|coconut --model_args pretrained=DIR --tasks ...   # lm-evaluation-harness
"""

import argparse
import contextlib
import difflib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass

from . import __version__
from .arguments_parser import ArgumentsParser
from .bench import BenchArguments
from .compare_arguments import CompareArguments
from .errors import InputError
from .evaluation.arguments import EvaluationArguments, ReportArguments
from .push_arguments import PushArguments
from .quickstart import QuickstartArguments
from .reproduce_arguments import ReproduceArguments
from .training.arguments import MethodTrainingArguments
from .training.method_arguments import TRAINED_METHODS

OFFLINE_HINT = (
    "Offline? Set HF_HUB_OFFLINE=1 so that Hub lookups fail at once, pass local folders instead of Hub ids, and "
    "--data-dir for a task's data."
)
LM_EVAL_MISSING = "lm-eval is not installed: pip install 'softcot-hf[lm_eval]'"


@dataclass(frozen=True)
class Command:
    """A command: its one-line help, its arguments dataclass (light: no torch), what runs
    them, and the field that the first bare word fills (e.g. the folder of `softcot-hf push FOLDER`); with
    `passthrough`, every word after that first one goes to that field as is."""

    name: str
    help: str
    arguments: type
    run: Callable
    positional: str | None = None
    passthrough: str | None = None
    probe_hub: bool = True  # look at the Hub once first, and run offline when it is out of reach


def trained_methods() -> dict[str, tuple[str, type]]:
    """Each trained method's name -> (one-line summary, training arguments dataclass), in the papers' order."""
    return {name: (method.summary, method.arguments) for name, method in TRAINED_METHODS.items()}


# --- what each command runs --------------------------------------------------------------------------------------
def run_eval(args) -> dict:
    from .evaluation.console import evaluate_and_print

    return evaluate_and_print(args)


def run_report(args) -> None:
    from .evaluation.console import report_and_print

    report_and_print(args)


def run_push(args):
    from .hub import run_push as push

    return push(args)


def run_quickstart(args):
    from .quickstart.run import run_quickstart as quickstart

    return quickstart(args)


def run_compare(args) -> dict:
    from .pipelines.compare import run_compare as compare

    return compare(args)


def run_bench(args) -> None:
    from .bench import run_bench as bench

    bench(args)


def run_reproduce(args):
    from .reproduce import reproduce

    return reproduce(args)


def run_training(args) -> dict:
    from .pipelines import train_and_report

    return train_and_report(args)


COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        Command(
            "eval",
            "evaluate a method on a task: predictions.jsonl, summary.json, table",
            EvaluationArguments,
            run_eval,
        ),
        Command(
            "report",
            "markdown table and bar chart from several summary.json files",
            ReportArguments,
            run_report,
            positional="summaries",
            probe_hub=False,  # reads summary files
        ),
        Command(
            "push",
            "publish a saved SoftCoT / CoT-Unk / Coconut folder on the Hub, with a model card",
            PushArguments,
            run_push,
            positional="folder",
            probe_hub=False,  # push needs the Hub and says so itself
        ),
        Command(
            "quickstart",
            "train SoftCoT and Coconut on two synthetic tasks over 3 seeds, evaluate, compare (CPU, minutes)",
            QuickstartArguments,
            run_quickstart,
            probe_hub=False,  # shipped models and generated data: offline by design
        ),
        Command(
            "compare",
            "train and evaluate methods on one task and base model over seeds: table, paired tests, figure (CPU)",
            CompareArguments,
            run_compare,
            probe_hub=False,  # shipped models and generated data
        ),
        Command(
            "bench",
            "run a speed/memory benchmark of the source checkout (benchmarks/NAME.py)",
            BenchArguments,
            run_bench,
            positional="name",
            passthrough="args",
            probe_hub=False,  # a local script (`bench --list` stays light)
        ),
        Command(
            "reproduce",
            "one paper-table row from a recipe file: train, evaluate with its seeds, print ours beside the paper's",
            ReproduceArguments,
            run_reproduce,
            positional="recipe",
        ),
    )
}
TRAIN_HELP = "train a method's artifact: softcot-hf train METHOD --help"
LM_EVAL_HELP = "lm-evaluation-harness with --model softcot|coconut (pip install 'softcot-hf[lm_eval]')"


# --- parsing -----------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The top-level parser (for `--help` and `--version`); each command parses its own options."""
    parser = argparse.ArgumentParser(
        prog="softcot-hf",
        description="Latent chain-of-thought for Hugging Face models.",
        epilog="run `softcot-hf COMMAND --help` for a command's options",
    )
    parser.add_argument("--version", action="version", version=f"softcot-hf {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("train", help=TRAIN_HELP)
    for command in COMMANDS.values():
        commands.add_parser(command.name, help=command.help)
    commands.add_parser("lm-eval", help=LM_EVAL_HELP)
    return parser


def train_usage() -> str:
    """`softcot-hf train --help`: the methods, one line each."""
    methods = trained_methods()
    width = max(map(len, methods))
    lines = [f"  {name:<{width}}  {summary}" for name, (summary, _) in methods.items()]
    return "\n".join(
        [
            "usage: softcot-hf train METHOD [--config FILE] [options]",
            "",
            "Train a method's artifact (checkpoints, the final model, its evaluation). METHOD is one of:",
            *lines,
            "",
            "run `softcot-hf train METHOD --help` for a method's options",
        ]
    )


def _unknown(what: str, name: str, choices) -> SystemExit:
    """The error for an unknown command or method: the likely intended one, then every valid one."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return SystemExit(f"softcot-hf: error: unknown {what} {name!r}{hint}; choose one of {', '.join(choices)}.")


def command_parser(argv: list[str]) -> tuple[Command, ArgumentsParser, list[str]]:
    """The command `argv` names, its parser and the rest of `argv`; `SystemExit` for an unknown command or method
    (and for `softcot-hf train --help`, after printing the methods)."""
    name, argv = argv[0], argv[1:]
    if name == "train":
        methods = trained_methods()
        if not argv or argv[0] in ("-h", "--help"):  # asked: the list on stdout; no method given: a usage error
            print(train_usage(), file=sys.stdout if argv else sys.stderr)
            raise SystemExit(0 if argv else 2)
        if argv[0] not in methods:
            raise _unknown("method", argv[0], methods)
        method, argv = argv[0], argv[1:]
        summary, arguments = methods[method]
        command = Command(method, summary, lambda: arguments, run_training)
        prog = f"softcot-hf train {method}"
        fixed = {"method": method} if "method" in arguments.__dataclass_fields__ else None  # a shared class
        parser = ArgumentsParser(
            arguments,
            prog,
            summary,
            own_title=f"{method} options",
            fixed=fixed,
            common=MethodTrainingArguments,
        )
        return command, parser, argv
    if name not in COMMANDS:
        raise _unknown("command", name, ["train", *COMMANDS, "lm-eval"])
    command = COMMANDS[name]
    prog = f"softcot-hf {name}"
    parser = ArgumentsParser(
        command.arguments, prog, command.help, command.positional, command.passthrough, own_title=f"{name} options"
    )
    return command, parser, argv


def check_command_line(argv: list[str]) -> None:
    """Parse a whole `softcot-hf ...` argument list (without the program name) down to its flags and their types,
    without building the arguments (no file checks) or running anything: `SystemExit` with the usage message for an
    unknown command, method or flag, a missing value, a bad type or choice (`SystemExit(0)` after printing the help
    of a `--help`). `lm-eval`'s words are lm-eval's own command line: not checked."""
    argv = list(argv)
    if not argv or argv[0].startswith("-"):
        build_parser().parse_args(argv)
        return
    if argv[0] == "lm-eval":
        return
    _, parser, argv = command_parser(argv)
    parser.parse_values(argv)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-"):
        build_parser().parse_args(argv or ["--help"])
        return
    if argv[0] == "lm-eval":  # lm-eval's own command line and options, with our model types registered
        if importlib.util.find_spec("lm_eval") is None:
            raise SystemExit(LM_EVAL_MISSING)
        from .lm_eval_models import main as lm_eval_main

        return lm_eval_main(argv[1:])
    command, parser, argv = command_parser(argv)
    args = parser.parse(argv)
    probe = contextlib.nullcontext()
    if command.probe_hub:  # out of reach, the Hub's lookups then fail at once instead of after 5 retries
        from .hub import offline_if_unreachable

        probe = offline_if_unreachable()
    try:
        with probe as note:
            if note:
                print(f"{parser.prog}: {note}", file=sys.stderr)
            command.run(args)
    except Exception as error:
        message = one_line_error(error)
        if message is None:
            raise
        raise SystemExit(f"{parser.prog}: error: {message}") from None


def one_line_error(error: Exception) -> str | None:
    """What `softcot-hf` prints instead of a traceback for `error` (None: a bug, shown with its traceback): the
    network, with what to do offline; a missing file or model, another run's folder, an input the library refused.
    The library's error types are imported here, once an error happened, so that a command starts light."""
    from .hub import HUB_TRANSPORT_ERRORS
    from .run_files import DifferentRunError

    if isinstance(error, (ConnectionError, *HUB_TRANSPORT_ERRORS)):
        return f"{error} {OFFLINE_HINT}"
    if isinstance(error, (OSError, DifferentRunError, InputError)):
        return str(error)
    return None


if __name__ == "__main__":
    main()
