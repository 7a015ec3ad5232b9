"""The task registry: every benchmark of the SoftCoT and Coconut papers, by name."""

from . import arithmetic, boolean, choice, graph, prosqa_style, synthetic_arithmetic
from .task import Task

_TASKS = {task.name: task for task in (*arithmetic.TASKS, *choice.TASKS, *boolean.TASKS, *graph.TASKS)}
# Synthetic tasks the package generates (for the quickstart and tests); not paper benchmarks, so not in `_ORDER`.
_TASKS.update({task.name: task for task in (*synthetic_arithmetic.TASKS, *prosqa_style.TASKS)})
# SoftCoT paper's order, then Coconut paper's.
_ORDER = ("gsm8k", "asdiv_aug", "aqua", "strategyqa", "date_understanding", "gsm8k_aug", "prontoqa", "prosqa")


def list_tasks() -> list[str]:
    """Names of the registered tasks: the papers' benchmarks in the papers' order, then the generated tasks."""
    return [*_ORDER, *(name for name in _TASKS if name not in _ORDER)]


def get_task(name: str) -> Task:
    """The task called `name` (see `list_tasks()`)."""
    if name not in _TASKS:
        raise KeyError(f"Unknown task {name!r}; choose one of {', '.join(list_tasks())}.")
    return _TASKS[name]
