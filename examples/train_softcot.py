"""Train a SoftCoT projection (or the CoT-Unk / LoRA baselines) on GSM8K and evaluate it.

    python examples/train_softcot.py --output-dir runs/softcot-llama            # the paper's LLaMA pair
    python examples/train_softcot.py --pair qwen --output-dir runs/softcot-qwen  # the paper's Qwen pair
    torchrun --nproc_per_node 4 examples/train_softcot.py --batch-size 1 --output-dir runs/softcot-llama  # DDP

Same as `softcot-hf train softcot ...`: defaults follow the paper (lr 2e-5, 10 epochs, N=4, linear projection);
rerunning a command resumes from its last checkpoint; the output folder loads with
`AutoModelForCausalLM.from_pretrained(folder)` + `AutoProcessor.from_pretrained(folder)`.
"""

import argparse

from softcot_hf.training.softcot_training import LLAMA_PAIR, QWEN_PAIR, add_arguments, run_from_args


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=("softcot", "cot_unk", "lora"), default="softcot")
    parser.add_argument("--pair", choices=("llama", "qwen"), default="llama", help="the paper's model pairs")
    add_arguments(parser, "example")
    args = parser.parse_args(argv)
    pair = LLAMA_PAIR if args.pair == "llama" else QWEN_PAIR
    args.backbone = args.backbone or pair["backbone"]
    if args.method == "softcot":
        args.assistant = args.assistant or pair["assistant"]
    else:
        args.assistant = None  # cot_unk and lora use the backbone only
    return run_from_args(args.method, args)


if __name__ == "__main__":
    main()
