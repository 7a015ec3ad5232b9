"""The quickstart from Python: train SoftCoT and Coconut on the package's synthetic arithmetic task with the shipped
tiny models, evaluate them against Zero-Shot CoT, CoT and No-CoT, save, reload and answer. CPU, a few minutes.

    python examples/quickstart.py                 # same as `softcot-hf quickstart` (same options)
    python examples/quickstart.py --tiny          # seconds; the numbers mean nothing
"""

import sys

from softcot_hf.cli import parse_arguments
from softcot_hf.quickstart import QuickstartArguments, run_quickstart

args = parse_arguments(QuickstartArguments, sys.argv[1:], "quickstart.py", __doc__.splitlines()[0])
result = run_quickstart(
    args.output_dir, tiny=args.tiny, push_to_hub=args.push_to_hub, seed=args.seed, overwrite=args.overwrite
)
best = max(result["summaries"], key=lambda summary: summary["accuracy"])
print(f"best method here: {best['method']} ({100 * best['accuracy']:.1f}%)")
