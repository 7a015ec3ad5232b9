"""The README's first command: the papers' claims at small scale, offline, on a CPU in a few minutes
(docs/how-the-quickstart-works.md says what it runs and found).

Modules, one job each: `settings` (tasks, methods, FULL/TINY budgets, `QuickstartArguments`; light: no torch),
`folder` (the output folder and its marker), `run` (`run_quickstart(args)`: training and evaluation runs), `pooling`
(seeds into rows and paired tests), `tables` (markdown and figures), `push` (publishing). This package imports only
`settings`, so `from softcot_hf.quickstart import QuickstartArguments` stays light; import `run_quickstart` from
`softcot_hf.quickstart.run`.
"""

from .settings import (
    FULL,
    PROSQA_OPTIONS,
    PROSQA_TASK,
    SEEDS,
    TASK,
    TINY,
    QuickstartArguments,
    QuickstartSettings,
    shipped_models,
)

__all__ = [
    "FULL",
    "PROSQA_OPTIONS",
    "PROSQA_TASK",
    "SEEDS",
    "TASK",
    "TINY",
    "QuickstartArguments",
    "QuickstartSettings",
    "shipped_models",
]
