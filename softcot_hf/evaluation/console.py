"""What `softcot-hf eval` and `softcot-hf report` run: an evaluation or a report, then a table on the console."""

from .arguments import EvaluationArguments, ReportArguments
from .harness import evaluate
from .report import load_summaries, summarize_table, write_report


def evaluate_and_print(args: EvaluationArguments) -> dict:
    """One method on one task (`evaluate`), its table printed; `output_dir` defaults to eval/TASK-METHOD."""
    if args.output_dir is None:
        args.output_dir = f"eval/{args.task}-{args.method}"
    summary = evaluate(args)
    print(summarize_table([summary], show_tokens=True))
    print(f"wrote {args.output_dir}/predictions.jsonl and summary.json")
    return summary


def report_and_print(args: ReportArguments) -> None:
    """Several summaries as one table and chart in `args.output_dir`, the table printed."""
    summaries = load_summaries(args.summaries)
    table, chart = write_report(summaries, args.output_dir)
    print(summarize_table(summaries))
    print(f"wrote {table} and {chart}")


__all__ = ["evaluate_and_print", "report_and_print"]
