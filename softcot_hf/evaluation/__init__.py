"""Evaluation: every method of the SoftCoT and Coconut papers on any task, self-consistency, results tables.

Metrics ship as local `evaluate` modules (`load_metric`), so evaluation works offline. The methods themselves (how
each artifact is loaded and prompted) live in `softcot_hf.methods`. Importing this package imports only the arguments
(light); the harness, report, metrics and voting load on first use of their names.
"""

from .arguments import EvaluationArguments, ReportArguments


def __getattr__(name: str):
    """The heavier names of this package, imported from their modules on first use (PEP 562)."""
    if name in ("evaluate", "run_evaluation"):
        from . import harness

        return getattr(harness, name)
    if name in ("load_summaries", "plot_summaries", "summarize_table", "write_report"):
        from . import report

        return getattr(report, name)
    if name == "load_metric":
        from .metrics import load_metric

        return load_metric
    if name == "majority_vote":
        from .voting import majority_vote

        return majority_vote
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EvaluationArguments",
    "ReportArguments",
    "evaluate",
    "load_metric",
    "load_summaries",
    "majority_vote",
    "plot_summaries",
    "run_evaluation",
    "summarize_table",
    "write_report",
]
