"""The quickstart from Python: train SoftCoT and Coconut on the package's synthetic tasks with the shipped tiny models
over 3 seeds, evaluate them against Zero-Shot CoT, CoT and No-CoT, test the differences, save, reload and answer. CPU,
a few minutes.

    python examples/quickstart.py                 # same as `softcot-hf quickstart` (same options)
    python examples/quickstart.py --tiny          # seconds; the numbers mean nothing
"""

import sys

from softcot_hf.arguments_parser import parse_arguments
from softcot_hf.quickstart import QuickstartArguments
from softcot_hf.quickstart.run import run_quickstart

args = parse_arguments(QuickstartArguments, sys.argv[1:], "quickstart.py", __doc__.splitlines()[0])
result = run_quickstart(args)
for task, outcome in result["tasks"].items():
    best = max(outcome["rows"], key=lambda row: row["accuracy_mean"])
    print(f"{task}: best method here: {best['label']} ({100 * best['accuracy_mean']:.1f}% mean over seeds)")
