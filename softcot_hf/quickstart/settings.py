"""What the quickstart runs: its tasks, methods, seeds, the FULL and TINY budgets and its command-line arguments.

Light on purpose: only the standard library and `softcot_hf.checks`, so that the CLI renders `softcot-hf quickstart
--help` without importing torch, transformers or datasets.
"""

from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from .. import checks

TASK = "synthetic_arithmetic"
# The second task: ProsQA-style graphs (softcot_hf/data/prosqa_style.py), smaller than the paper's (2-3 hops
# instead of 3-6, 6-8 concepts instead of 12-26, two people) so that a 4-layer model learns them on a CPU.
PROSQA_TASK = "prosqa_style"
PROSQA_OPTIONS = {"min_depth": 2, "max_depth": 3, "min_concepts": 6, "max_concepts": 8, "max_people": 2}
SEEDS = (0, 1, 2)
# Rows of each task's table, in order: (label, run_evaluation method, artifact folder or None for the frozen model).
METHODS = (
    ("Zero-Shot CoT", "zero_shot_cot", None),
    ("SoftCoT", "softcot", "softcot"),
    ("Coconut", "coconut", "coconut"),
    ("CoT (fine-tuned)", "cot", "cot"),
    ("No-CoT (fine-tuned)", "no_cot", "no_cot"),
)
PROSQA_METHODS = (
    ("Coconut (all stages)", "coconut", "coconut"),
    ("CoT (fine-tuned)", "cot", "cot"),
    ("No-CoT (fine-tuned)", "no_cot", "no_cot"),
)
# The paired comparisons reported, per task: (method a, method b); "a beats b" is what the papers claim.
COMPARISONS = {TASK: (("softcot", "zero_shot_cot"),), PROSQA_TASK: (("coconut", "cot"),)}


@dataclass(frozen=True)
class QuickstartSettings:
    """How much the quickstart trains and evaluates, per seed. Learning rates are far above the papers' (2e-5, 1e-4):
    these models are tiny and the budget is a few hundred steps."""

    train_examples: int  # first rows of the train split, for every method
    test_examples: int  # first rows of the test split
    softcot_steps: int
    softcot_lr: float
    coconut_epochs_per_stage: int
    # c = 1 thought per removed step; the task has 2 to 4 steps. Training ends at this stage: the first
    # `max_latent_stage` steps become thoughts and the rest stay written out (these tiny models do not learn the
    # all-latent last stage in the budget).
    max_latent_stage: int
    coconut_lr: float
    baseline_epochs: int  # CoT and No-CoT fine-tuning
    finetune_lr: float
    batch_size: int
    max_new_tokens: int
    # prosqa_style: Coconut runs stages 0..prosqa_max_latent_stage (the last one writes every step as a thought:
    # graphs have at most PROSQA_OPTIONS["max_depth"] steps); CoT and No-CoT train for as many epochs in all.
    prosqa_train_examples: int
    prosqa_test_examples: int
    prosqa_epochs_per_stage: int
    prosqa_max_latent_stage: int
    prosqa_lr: float
    prosqa_max_new_tokens: int
    stage_curve_examples: int  # test questions evaluated after each stage (the curve across stages)


FULL = QuickstartSettings(
    train_examples=1024,
    test_examples=500,
    softcot_steps=192,
    softcot_lr=3e-3,
    coconut_epochs_per_stage=3,
    max_latent_stage=1,
    coconut_lr=1e-3,
    baseline_epochs=3,
    finetune_lr=3e-4,
    batch_size=32,
    max_new_tokens=48,
    prosqa_train_examples=512,
    prosqa_test_examples=500,
    prosqa_epochs_per_stage=1,
    prosqa_max_latent_stage=PROSQA_OPTIONS["max_depth"],
    prosqa_lr=1e-3,
    prosqa_max_new_tokens=32,
    stage_curve_examples=200,
)
# The same code path with a handful of examples and steps (for the test suite): its numbers mean nothing.
TINY = replace(
    FULL,
    train_examples=32,
    test_examples=8,
    softcot_steps=4,
    coconut_epochs_per_stage=1,
    baseline_epochs=1,
    batch_size=16,
    max_new_tokens=24,
    prosqa_train_examples=16,
    prosqa_test_examples=8,
    prosqa_max_new_tokens=16,
    stage_curve_examples=4,
)


def shipped_models() -> Path:
    """The folder holding the shipped `backbone/`, `assistant/` and `prosqa_backbone/` (safetensors + tokenizers)."""
    return Path(str(resources.files("softcot_hf") / "assets" / "quickstart"))


@dataclass
class QuickstartArguments:
    """`softcot-hf quickstart`: train SoftCoT and Coconut on two synthetic tasks over 3 seeds, evaluate, compare."""

    output_dir: str = field(default="softcot-quickstart", metadata={"help": "where everything lands"})
    tiny: bool = field(default=False, metadata={"help": "a few examples and steps (seconds; for tests)"})
    push_to_hub: str | None = field(default=None, metadata={"help": "USER/NAME: also publish the checkpoints"})
    seeds: list[int] = field(
        default_factory=lambda: list(SEEDS), metadata={"help": "training seeds; every method is trained once per seed"}
    )
    overwrite: bool = field(
        default=False, metadata={"help": "run again from scratch, replacing the quickstart's files in OUTPUT_DIR"}
    )

    def __post_init__(self):
        checks.output_folder(self, "output_dir")
        seeds = list(self.seeds)
        checks.require(self, "seeds", bool(seeds) and len(set(seeds)) == len(seeds), "one or more distinct seeds")

    @property
    def settings(self) -> QuickstartSettings:
        """The budget these arguments ask for: TINY with `--tiny`, else FULL."""
        return TINY if self.tiny else FULL
