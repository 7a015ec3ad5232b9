"""Train a SoftCoT projection (or the CoT-Unk / LoRA baselines) on GSM8K and evaluate it.

    python examples/train_softcot.py --output-dir runs/softcot-llama            # the paper's LLaMA pair
    python examples/train_softcot.py --pair qwen --output-dir runs/softcot-qwen  # the paper's Qwen pair
    torchrun --nproc_per_node 4 examples/train_softcot.py --batch-size 1 --output-dir runs/softcot-llama  # DDP

Same as `softcot-hf train softcot|cot_unk|lora ...` (every option works here, and `--config recipe.yaml`), with the
paper's model pairs as defaults: lr 2e-5, 10 epochs, N=4, linear projection; rerunning a command resumes from its
last checkpoint; the output folder loads with `AutoModelForCausalLM.from_pretrained(folder)` +
`AutoProcessor.from_pretrained(folder)`.
"""

import argparse
import sys

from softcot_hf.arguments_parser import parse_arguments
from softcot_hf.methods import get_method
from softcot_hf.pipelines import train_and_report
from softcot_hf.training.softcot_training import LLAMA_PAIR, QWEN_PAIR


def main(argv: list[str] | None = None) -> dict:
    choices = argparse.ArgumentParser(add_help=False)
    choices.add_argument("--method", choices=("softcot", "cot_unk", "lora"), default="softcot")
    choices.add_argument("--pair", choices=("llama", "qwen"), default="llama", help="the paper's model pairs")
    picked, argv = choices.parse_known_args(sys.argv[1:] if argv is None else argv)
    method = get_method(picked.method)
    pair = LLAMA_PAIR if picked.pair == "llama" else QWEN_PAIR
    defaults = {name: pair[name] for name in ("backbone", "assistant") if hasattr(method.arguments, name)}
    defaults["method"] = method.name
    args = parse_arguments(method.arguments, argv, "train_softcot.py", __doc__, defaults=defaults)
    return train_and_report(args)


if __name__ == "__main__":
    main()
