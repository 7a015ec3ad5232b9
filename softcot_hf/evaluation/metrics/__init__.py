"""The package's `evaluate` metrics, loaded from their folders here (no Hub access, so they work offline)."""

from pathlib import Path

import evaluate

METRICS_DIR = Path(__file__).parent
METRICS = ("answer_accuracy", "mean_generated_tokens")


def load_metric(name: str, config_name: str | None = None, **kwargs) -> evaluate.EvaluationModule:
    """`evaluate.load` of the shipped metric `name` (one of `METRICS`); `answer_accuracy` takes the task as config."""
    if name not in METRICS:
        raise ValueError(f"Unknown metric {name!r}; choose one of {', '.join(METRICS)}.")
    return evaluate.load(str(METRICS_DIR / name), config_name, **kwargs)
