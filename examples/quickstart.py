"""The quickstart from Python: train SoftCoT and Coconut on the package's synthetic arithmetic task with the shipped
tiny models, evaluate them against Zero-Shot CoT, CoT and No-CoT, save, reload and answer. CPU, a few minutes.

    python examples/quickstart.py                 # same as `softcot-hf quickstart`
    python examples/quickstart.py --tiny          # seconds; the numbers mean nothing
"""

import argparse

from softcot_hf.quickstart import run_quickstart

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--output-dir", default="softcot-quickstart")
parser.add_argument("--tiny", action="store_true")
parser.add_argument("--push-to-hub", metavar="USER/NAME")
args = parser.parse_args()

result = run_quickstart(args.output_dir, tiny=args.tiny, push_to_hub=args.push_to_hub)
best = max(result["summaries"], key=lambda summary: summary["accuracy"])
print(f"best method here: {best['method']} ({100 * best['accuracy']:.1f}%)")
