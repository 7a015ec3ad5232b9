"""CPU seconds that `softcot-hf --version` and the `--help` of the commands take (start-up: imports and parsing).

Each command runs `--repeats` times in a child process; its CPU time (user + system, from `resource.getrusage` of the
children) is the figure, not the wall time, which the machine's load stretches. The median is reported. Compare
installs with `--softcot-hf PATH` (e.g. another virtual environment's `bin/softcot-hf`).

    python benchmarks/cli_startup.py [--softcot-hf PATH] [--repeats 5] [--label after] [--output FILE.json]
"""

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

COMMANDS = (
    ["--version"],
    ["--help"],
    ["train", "--help"],
    ["train", "softcot", "--help"],
    ["eval", "--help"],
    ["report", "--help"],
    ["push", "--help"],
    ["quickstart", "--help"],
    ["reproduce", "--help"],
    ["bench", "--help"],
)
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def child_cpu_seconds(command: list[str]) -> float:
    """CPU seconds (user + system) of running `command` to its end; its output is discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--softcot-hf", default=shutil.which("softcot-hf"), help="the console script to time")
    parser.add_argument("--repeats", type=int, default=5, help="runs per command; the median is reported")
    parser.add_argument("--label", default="current", help="a name for this install, e.g. before or after")
    parser.add_argument("--output", help="JSON file (default: benchmarks/results/cli_startup-LABEL.json)")
    parser.add_argument("--quick", action="store_true", help="one run each (a smoke test; not a measurement)")
    args = parser.parse_args(argv)
    if not args.softcot_hf:
        parser.error("no softcot-hf on PATH: install the package or pass --softcot-hf PATH")
    repeats = 1 if args.quick else args.repeats
    if repeats < 1:
        parser.error(f"--repeats must be >= 1, not {repeats}")
    rows = []
    for words in COMMANDS:
        seconds = [child_cpu_seconds([args.softcot_hf, *words]) for _ in range(repeats)]
        rows.append(
            {"command": " ".join(["softcot-hf", *words]), "cpu_s": seconds, "median_cpu_s": statistics.median(seconds)}
        )
    payload = {
        "benchmark": "cli_startup",
        "label": args.label,
        "machine": {
            "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
            "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
        },
        "settings": {"softcot_hf": args.softcot_hf, "repeats": repeats},
        "results": rows,
    }
    output = Path(args.output) if args.output else RESULTS_DIR / f"cli_startup-{args.label}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"| command | CPU s, median of {repeats} ({args.label}) |\n|---|---|")
    for row in rows:
        print(f"| `{row['command']}` | {row['median_cpu_s']:.2f} |")
    return payload


if __name__ == "__main__":
    main()
