"""Evaluate several methods on one task and print the SoftCoT paper's table (methods x tasks, mean ± std over seeds).

    python examples/evaluate_methods.py --task gsm8k --backbone meta-llama/Llama-3.1-8B-Instruct \
        --assistant meta-llama/Llama-3.2-1B-Instruct --softcot runs/softcot --lora runs/lora --limit 200 \
        --seeds 41 42 43 44 45 --dtype bfloat16

Methods run when their model is given: zero_shot_cot (--backbone), assist_cot (--backbone and --assistant),
cot_unk / softcot / lora / coconut (their trained folders or Hub ids). Each run writes OUTPUT_DIR/METHOD/; the table
and a bar chart go to OUTPUT_DIR/results.md and results.png.
"""

import argparse

from softcot_hf.data import list_tasks
from softcot_hf.evaluation import run_evaluation, summarize_table, write_report

METHODS_WITH_ARTIFACTS = ("cot_unk", "softcot", "lora", "coconut")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="gsm8k", choices=list_tasks())
    parser.add_argument("--data-dir", help="a local copy of the task (default: the Hub)")
    parser.add_argument("--backbone")
    parser.add_argument("--assistant")
    for method in METHODS_WITH_ARTIFACTS:
        parser.add_argument(f"--{method.replace('_', '-')}", dest=method, help=f"the trained {method} model")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--seeds", type=int, nargs="+", default=[41])
    parser.add_argument("--num-samples", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--dtype")
    parser.add_argument("--output-dir", default="eval-example")
    args = parser.parse_args(argv)

    runs = {}
    if args.backbone:
        runs["zero_shot_cot"] = {"backbone": args.backbone}
        if args.assistant:
            runs["assist_cot"] = {"backbone": args.backbone, "assistant": args.assistant}
    runs.update(
        {method: {"model": getattr(args, method)} for method in METHODS_WITH_ARTIFACTS if getattr(args, method)}
    )
    if not runs:
        parser.error("nothing to evaluate: give --backbone and/or trained models (--softcot, --lora, ...)")

    summaries = [
        run_evaluation(
            args.task,
            method,
            **models,
            data_dir=args.data_dir,
            limit=args.limit,
            seeds=args.seeds,
            num_samples=args.num_samples,
            max_new_tokens=args.max_new_tokens,
            dtype=args.dtype,
            output_dir=f"{args.output_dir}/{method}",
        )
        for method, models in runs.items()
    ]
    print(summarize_table(summaries))
    table, chart = write_report(summaries, args.output_dir)
    print(f"wrote {table} and {chart}")
    return summaries


if __name__ == "__main__":
    main()
