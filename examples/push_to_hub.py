"""Publish a saved SoftCoT, CoT-Unk or Coconut folder on the Hub, with a model card rendered from its evaluation.

Uploads exactly the model's files (config, trained weights, remote code, processor/tokenizer) and README.md; the frozen
assistant and backbone of a SoftCoT model stay in their own repos, referenced by id.

    python examples/push_to_hub.py runs/softcot-gsm8k you/softcot-gsm8k --summary runs/softcot-gsm8k/eval/summary.json
"""

import argparse
import json
from pathlib import Path

from softcot_hf.hub import push_folder

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("folder", help="what training (or save_pretrained) wrote")
parser.add_argument("repo_id", help="USER/NAME on the Hub")
parser.add_argument("--summary", help="evaluation summary.json to put in the card")
parser.add_argument("--private", action="store_true")
args = parser.parse_args()

summaries = [json.loads(Path(args.summary).read_text())] if args.summary else None
commit = push_folder(args.folder, args.repo_id, summaries=summaries, private=args.private or None)
print(f"Published {args.folder} as {args.repo_id}: {commit.commit_url}")
