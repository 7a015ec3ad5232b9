"""Evaluation: every method of the SoftCoT and Coconut papers on any task, self-consistency, results tables.

Metrics ship as local `evaluate` modules (`load_metric`), so evaluation works offline.
"""

from .harness import run_evaluation
from .methods import METHODS, load_method
from .metrics import load_metric
from .report import load_summaries, plot_summaries, summarize_table, write_report
from .voting import majority_vote

__all__ = [
    "METHODS",
    "load_method",
    "load_metric",
    "load_summaries",
    "majority_vote",
    "plot_summaries",
    "run_evaluation",
    "summarize_table",
    "write_report",
]
