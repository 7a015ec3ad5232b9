"""`softcot-hf` command line."""

import argparse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="softcot-hf", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    quickstart = commands.add_parser("quickstart", help="tiny end-to-end run: build, train, generate, save, reload")
    quickstart.add_argument("--output-dir", default="softcot-quickstart")
    quickstart.add_argument("--steps", type=int, default=30)
    quickstart.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.command == "quickstart":
        from .quickstart import run_quickstart

        result = run_quickstart(args.output_dir, steps=args.steps, seed=args.seed)
        if not result["reload_matches"]:
            raise SystemExit("the reloaded model generated differently")


if __name__ == "__main__":
    main()
