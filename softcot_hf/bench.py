"""`softcot-hf bench NAME [args]`: run `benchmarks/NAME.py` of a source checkout with the given arguments.

The benchmarks live in the repository, not in the wheel: with an editable install they sit next to the package
(`<repo>/benchmarks`); otherwise point at them with `--benchmarks-dir`.
"""

import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BENCHMARKS_DIR = Path(__file__).resolve().parent.parent / "benchmarks"


def find_benchmarks_dir(benchmarks_dir: str | Path | None = None) -> Path:
    """The folder holding the benchmark scripts: `benchmarks_dir` if given, else the checkout's `benchmarks/`."""
    folder = Path(benchmarks_dir) if benchmarks_dir is not None else DEFAULT_BENCHMARKS_DIR
    if not (folder / "common.py").is_file():
        raise FileNotFoundError(
            f"No benchmarks in {folder}: the benchmark scripts ship with the source repository, not the installed "
            "package. Run from an editable install (`pip install -e .` in a clone), or pass "
            "`--benchmarks-dir <clone>/benchmarks`."
        )
    return folder


def list_benchmarks(benchmarks_dir: str | Path | None = None) -> list[str]:
    """Names of the benchmark scripts (every `*.py` but the shared helpers)."""
    folder = find_benchmarks_dir(benchmarks_dir)
    return sorted(path.stem for path in folder.glob("*.py") if path.stem != "common")


def run_benchmark(name: str, argv: list[str] | None = None, benchmarks_dir: str | Path | None = None) -> None:
    """Run `benchmarks/<name>.py` as `__main__` with `argv` as its command line (as `python benchmarks/NAME.py`)."""
    folder = find_benchmarks_dir(benchmarks_dir)
    names = list_benchmarks(folder)
    if name not in names:
        raise ValueError(f"Unknown benchmark {name!r}; choose one of {', '.join(names)}.")
    script = folder / f"{name}.py"
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [str(script), *(argv or [])]
    sys.path.insert(0, str(folder))
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


@dataclass
class BenchArguments:
    """`softcot-hf bench NAME [script arguments]`: runs benchmarks/NAME.py of a source checkout."""

    name: str | None = field(default=None, metadata={"help": "benchmark script name, e.g. coconut_generate"})
    benchmarks_dir: str | None = field(default=None, metadata={"help": "the benchmarks/ folder of a source checkout"})
    show_list: bool = field(default=False, metadata={"help": "list the benchmarks and exit", "aliases": ["--list"]})
    args: list[str] = field(default_factory=list, metadata={"help": "arguments for the script (after NAME)"})


def run_bench(args: BenchArguments) -> None:
    try:
        if args.show_list or args.name is None:
            print("\n".join(list_benchmarks(args.benchmarks_dir)))
            return
        run_benchmark(args.name, args.args, args.benchmarks_dir)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"softcot-hf bench: {error}") from error
