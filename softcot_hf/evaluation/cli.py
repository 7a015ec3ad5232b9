"""`softcot-hf eval` (one method on one task) and `softcot-hf report` (a table and chart from several summaries)."""

import argparse

from ..data import list_tasks
from .harness import run_evaluation
from .methods import METHODS
from .report import load_summaries, summarize_table, write_report


def add_commands(commands: argparse._SubParsersAction) -> None:
    """`softcot-hf eval` and `softcot-hf report`."""
    parser = commands.add_parser("eval", help="evaluate a method on a task: predictions.jsonl, summary.json, table")
    parser.add_argument("--task", required=True, choices=list_tasks())
    parser.add_argument("--method", required=True, choices=METHODS)
    parser.add_argument("--model", help="the method's artifact: a folder or Hub id (see softcot_hf.evaluation)")
    parser.add_argument("--backbone", help="zero_shot_cot / assist_cot: the backbone LM")
    parser.add_argument("--assistant", help="assist_cot: the assistant LM that writes hints")
    parser.add_argument("--data-dir", help="a local copy of the task in its original layout (default: the Hub)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, help="evaluate the first LIMIT examples only")
    parser.add_argument("--num-samples", type=int, default=1, help="> 1: self-consistency over sampled paths")
    parser.add_argument("--seeds", type=int, nargs="+", default=[41])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--do-sample", action="store_true", help="sample a single path too (default: greedy)")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--num-hint-tokens", type=int, default=32, help="assist_cot: hint length")
    parser.add_argument("--dtype", help="e.g. bfloat16 or auto (default: float32)")
    parser.add_argument("--output-dir", help="default: eval/TASK-METHOD")
    parser.set_defaults(func=_eval_command)

    parser = commands.add_parser("report", help="markdown table and bar chart from several summary.json files")
    parser.add_argument("summaries", nargs="+", metavar="SUMMARY_OR_DIR")
    parser.add_argument("--output-dir", default="softcot-report")
    parser.set_defaults(func=_report_command)


def _eval_command(args: argparse.Namespace) -> None:
    summary = run_evaluation(
        args.task,
        args.method,
        args.model,
        backbone=args.backbone,
        assistant=args.assistant,
        data_dir=args.data_dir,
        split=args.split,
        limit=args.limit,
        num_samples=args.num_samples,
        seeds=args.seeds,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        output_dir=args.output_dir or f"eval/{args.task}-{args.method}",
        do_sample=True if args.do_sample else None,
        temperature=args.temperature,
        top_p=args.top_p,
        num_hint_tokens=args.num_hint_tokens,
        dtype=args.dtype,
    )
    print(summarize_table([summary], show_tokens=True))
    print(f"wrote {args.output_dir or f'eval/{args.task}-{args.method}'}/predictions.jsonl and summary.json")


def _report_command(args: argparse.Namespace) -> None:
    summaries = load_summaries(args.summaries)
    table, chart = write_report(summaries, args.output_dir)
    print(summarize_table(summaries))
    print(f"wrote {table} and {chart}")
