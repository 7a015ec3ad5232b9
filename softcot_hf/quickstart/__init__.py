"""The README's first command: the papers' claims at small scale, offline, on a CPU in a few minutes.

`softcot-hf quickstart` trains and evaluates on two tasks the package generates, with tiny models shipped for them
(`softcot_hf/assets/quickstart/`, made by `scripts/make_quickstart_models.py`), over 3 training seeds:

1. `synthetic_arithmetic` (chains of 2-4 add/subtract/multiply steps), a Llama-shaped backbone and a smaller
   assistant: a SoftCoT projection on the frozen pair, Coconut on the backbone (curriculum), the fine-tuned CoT and
   No-CoT baselines, and the frozen backbone with Zero-Shot CoT. SoftCoT against Zero-Shot CoT on the same questions
   is tested for significance (paired bootstrap over questions; McNemar's exact test per seed).
2. `prosqa_style` (the Coconut paper's ProsQA shape, smaller graphs: `PROSQA_OPTIONS`), a backbone that knows the
   chain-of-facts format (stage 0 of the curriculum done ahead of time): Coconut through every stage of its
   curriculum, up to all steps latent, against CoT and No-CoT fine-tuned as long; accuracy after each stage too.

Each method is trained once per seed and evaluated greedily on held-out test questions; the tables give mean ± std
over seeds, per seed, and generated tokens per answer, the figures the same (`<task>.png`). The seed-0 SoftCoT and
Coconut checkpoints are then reloaded with `AutoModelForCausalLM.from_pretrained` to answer a question, and with
`--push-to-hub USER/NAME` published with their results.

Everything lands in `./softcot-quickstart/`, whose marker file records the run's identity (settings, seeds, the
shipped models' fingerprints, the package version). Rerunning a finished quickstart of the same settings returns its
results; one of other settings is refused, and `--overwrite` replaces the quickstart's files (nothing else). `--tiny`
runs the same code path with a handful of examples and steps (for the test suite); its numbers mean nothing.

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
