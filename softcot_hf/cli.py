"""`softcot-hf` command line: each command lives next to the code it runs and registers itself here."""

import argparse
import importlib

# Modules with `add_commands(subparsers)`: each adds its sub-commands and sets `func(args)` on them.
COMMAND_MODULES = ("softcot_hf.quickstart", "softcot_hf.evaluation.cli", "softcot_hf.hub", "softcot_hf.bench")
# Modules with `add_train_commands(subparsers)`: the methods of `softcot-hf train METHOD`.
TRAIN_COMMAND_MODULES = ("softcot_hf.training.softcot_training", "softcot_hf.training.coconut_training")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="softcot-hf", description="Latent chain-of-thought for Hugging Face models.")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(commands)
    if TRAIN_COMMAND_MODULES:
        train = commands.add_parser("train", help="train a method's artifact (see `softcot-hf train -h`)")
        methods = train.add_subparsers(dest="method", required=True)
        for module in TRAIN_COMMAND_MODULES:
            importlib.import_module(module).add_train_commands(methods)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
