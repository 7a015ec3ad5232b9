"""Show the vocabulary tokens nearest to each latent thought of the quickstart's SoftCoT and Coconut checkpoints.

Run the quickstart first (`softcot-hf quickstart`, or `--seeds 0` for one seed), then:

    python examples/inspect_thoughts.py softcot-quickstart/synthetic_arithmetic/seed-0 --top-k 3
"""

import argparse
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoProcessor, AutoTokenizer

import softcot_hf  # noqa: F401  (registers SoftCoT with the Auto classes)
from softcot_hf.data import get_task
from softcot_hf.generation import encode_prompts
from softcot_hf.methods import get_method

TASK = "synthetic_arithmetic"

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("run_dir", type=Path, help="a quickstart seed folder holding softcot/ and coconut/")
parser.add_argument("--question", default="start with 1 , add 6 , add 5 . what is the result ?")
parser.add_argument("--top-k", type=int, default=3)
args = parser.parse_args()


def show(name: str, inspection) -> None:
    """One line per thought: the top-k tokens by logit lens and by embedding cosine, with their scores."""
    print(f"{name}: thought | logit lens (probability) | nearest input embeddings (cosine)")
    for position in range(inspection.logit_lens_ids.shape[1]):
        lens = zip(
            inspection.logit_lens_tokens[0][position], inspection.logit_lens_scores[0, position].tolist(), strict=True
        )
        cosine = zip(
            inspection.embedding_tokens[0][position], inspection.embedding_scores[0, position].tolist(), strict=True
        )
        print(
            f"  {position} | "
            + ", ".join(f"{token!r} {score:.2f}" for token, score in lens)
            + " | "
            + ", ".join(f"{token!r} {score:.2f}" for token, score in cosine)
        )


print(f"Question: {args.question}")
softcot = AutoModelForCausalLM.from_pretrained(args.run_dir / "softcot")
processor = AutoProcessor.from_pretrained(args.run_dir / "softcot")
show("SoftCoT", softcot.inspect_thoughts(**processor([args.question]), top_k=args.top_k, tokenizer=processor))

coconut = AutoModelForCausalLM.from_pretrained(args.run_dir / "coconut")
tokenizer = AutoTokenizer.from_pretrained(args.run_dir / "coconut")
prompt = get_method("coconut").build_prompt(get_task(TASK), args.question)
inputs = encode_prompts(tokenizer, [prompt], chat=False)
show("Coconut", coconut.inspect_thoughts(**inputs, top_k=args.top_k, tokenizer=tokenizer))
