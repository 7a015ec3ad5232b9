"""`softcot-hf eval` (one method on one task) and `softcot-hf report` (a table and chart from several summaries)."""

from dataclasses import dataclass, field

from .. import checks
from ..cli import Command
from .arguments import EvaluationArguments
from .harness import evaluate
from .report import load_summaries, summarize_table, write_report


def run_eval(args: EvaluationArguments) -> dict:
    if args.output_dir is None:
        args.output_dir = f"eval/{args.task}-{args.method}"
    summary = evaluate(args)
    print(summarize_table([summary], show_tokens=True))
    print(f"wrote {args.output_dir}/predictions.jsonl and summary.json")
    return summary


@dataclass
class ReportArguments:
    """Several evaluation summaries as one table and chart."""

    summaries: list[str] = field(default_factory=list, metadata={"help": "summary.json files or folders holding them"})
    output_dir: str = field(default="softcot-report", metadata={"help": "where results.md and results.png go"})

    def __post_init__(self):
        if not self.summaries:
            raise ValueError("Pass the summary.json files (or folders that hold them) to report on.")
        load_summaries(self.summaries)  # read now: a wrong file is a usage error
        checks.output_folder(self, "output_dir")


def run_report(args: ReportArguments) -> None:
    summaries = load_summaries(args.summaries)
    table, chart = write_report(summaries, args.output_dir)
    print(summarize_table(summaries))
    print(f"wrote {table} and {chart}")


COMMANDS = [
    Command(
        "eval", "evaluate a method on a task: predictions.jsonl, summary.json, table", EvaluationArguments, run_eval
    ),
    Command(
        "report",
        "markdown table and bar chart from several summary.json files",
        ReportArguments,
        run_report,
        positional="summaries",
    ),
]
