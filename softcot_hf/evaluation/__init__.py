"""Evaluation: every method of the SoftCoT and Coconut papers on any task, self-consistency, results tables.

Metrics ship as local `evaluate` modules (`load_metric`), so evaluation works offline. The methods themselves (how
each artifact is loaded and prompted) live in `softcot_hf.methods`.
"""

from .arguments import EvaluationArguments
from .harness import evaluate, run_evaluation
from .metrics import load_metric
from .report import load_summaries, plot_summaries, summarize_table, write_report
from .voting import majority_vote

__all__ = [
    "EvaluationArguments",
    "evaluate",
    "load_metric",
    "load_summaries",
    "majority_vote",
    "plot_summaries",
    "run_evaluation",
    "summarize_table",
    "write_report",
]
