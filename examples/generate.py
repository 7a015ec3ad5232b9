"""Load a published SoftCoT model by its Hub id and answer a question, streaming the answer as it is generated.

`from_pretrained` fetches the config and the projection, then the frozen assistant and backbone from their own repos.

    python examples/generate.py you/softcot-gsm8k --question "Tom has 4 apples and buys 3 more. How many now?"
"""

import argparse

from transformers import AutoModelForCausalLM, AutoProcessor, TextStreamer

import softcot_hf.auto  # noqa: F401  (registers SoftCoT with the Auto classes)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("repo_id", help="a SoftCoT model on the Hub (or a local folder)")
parser.add_argument("--question", default="Tom has 4 apples and buys 3 more. How many apples does Tom have?")
parser.add_argument("--revision", help="branch, tag or commit of the SoftCoT repo (default: main)")
parser.add_argument("--max-new-tokens", type=int, default=256)
args = parser.parse_args()

model = AutoModelForCausalLM.from_pretrained(args.repo_id, revision=args.revision)
processor = AutoProcessor.from_pretrained(args.repo_id, revision=args.revision)
inputs = processor([args.question])
streamer = TextStreamer(processor.backbone_tokenizer, skip_prompt=True, skip_special_tokens=True)
model.generate(**inputs, max_new_tokens=args.max_new_tokens, do_sample=False, streamer=streamer)
