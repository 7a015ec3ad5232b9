"""iCoT-SI's token-level curriculum (stepwise internalization, Deng et al. 2024): the model fine-tunes on question,
written rationale and answer, and the first k rationale *tokens* are cut away, k growing with the optimizer steps.

Layout of one example (as the CoT baseline's, `RationaleExamples`), labels on what remains after the question::

    question\\n [rationale tokens r_{k+1} ... r_n] ### answer <eos>

Schedule (`TokenRemovalSchedule`), at optimizer step g of a run with S optimizer steps per epoch:
- k(g) = g // round(S / tokens_removed_per_epoch): `tokens_removed_per_epoch` more tokens each epoch, one at a time;
- each example removes k(g) + r tokens, r its removal-smoothing offset: P(r) = (1 - e^-lambda) e^(-lambda r) for
  r < 99, the rest of the mass on r = 99 (lambda = inf: r = 0); the removal stops at the rationale's end;
- once k(g) >= `remove_all_beyond`, every rationale token goes;
- the optimizer state is cleared at each step where k grows (`TokenRemovalCallback`), while that still changes data.

The removal happens when a batch is collated (`TokenRemovalCollator`), which counts the micro-batches it builds: the
data loader's prefetching and a resumed run's skipped batches do not move the schedule.
"""

import math
import random
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase, TrainerCallback

from .coconut_curriculum import RationaleExamples, collate_right_padded, reset_optimizer

TRUNCATE_OFFSET = 100  # offsets r are drawn from 0..99 (the official code's truncation)


def offset_distribution(smoothing_lambda: float, size: int = TRUNCATE_OFFSET) -> list[float]:
    """P(r) for r = 0..size-1: (1 - e^-lambda) e^(-lambda r), the mass beyond size-1 put on size-1; [1, 0, ...] for
    lambda = inf (no smoothing)."""
    if math.isinf(smoothing_lambda):
        return [1.0] + [0.0] * (size - 1)
    probabilities = [(1 - math.exp(-smoothing_lambda)) * math.exp(-smoothing_lambda * r) for r in range(size)]
    probabilities[-1] += 1 - sum(probabilities)
    return probabilities


@dataclass
class TokenRemovalSchedule:
    """How many rationale tokens an example loses at an optimizer step (see the module docstring)."""

    tokens_removed_per_epoch: float = 8
    smoothing_lambda: float = 4.0
    remove_all_beyond: int | None = None  # None: never remove everything at once
    seed: int = 0
    steps_per_epoch: int = 1  # optimizer steps per epoch; set when training begins

    def __post_init__(self):
        self.weights = offset_distribution(self.smoothing_lambda)

    @property
    def steps_per_token(self) -> int:
        """Optimizer steps between two increases of k (at least 1)."""
        return max(1, round(self.steps_per_epoch / self.tokens_removed_per_epoch))

    def scheduled(self, step: int) -> float:
        """k at optimizer step `step`: a number of tokens, or inf once it reaches `remove_all_beyond`."""
        k = step // self.steps_per_token
        return math.inf if self.remove_all_beyond is not None and k >= self.remove_all_beyond else k

    def grows_at(self, step: int) -> bool:
        """Whether k increases at `step` (from a finite number: nothing grows once everything goes)."""
        return step > 0 and self.scheduled(step) > self.scheduled(step - 1) and math.isfinite(self.scheduled(step - 1))

    def offset(self, step: int, index: int) -> int:
        """The removal-smoothing offset r of training example `index` at optimizer step `step`: the same on every
        process of a distributed run."""
        return random.Random(f"{self.seed}-{step}-{index}").choices(range(TRUNCATE_OFFSET), self.weights)[0]

    def removed(self, step: int, offset: int, rationale_length: int) -> int:
        """Rationale tokens an example of `rationale_length` tokens loses at `step` with offset `offset`."""
        return int(min(self.scheduled(step) + offset, rationale_length))


class TokenRemovalExamples(RationaleExamples):
    """The CoT baseline's layout with the rationale's span recorded: `encode` adds `rationale_start` and
    `rationale_length` (token positions), which `TokenRemovalCollator` cuts from, and the example's `index`."""

    def encode(self, example: dict, stage: int = 0, epoch: int = 0, index: int = 0) -> dict:
        encoded = super().encode(example)
        question = len(self._ids(example["question"] + "\n"))
        answer = len(self._ids("### " + str(example["answer"]))) + 1
        length = len(encoded["input_ids"]) - question - answer
        return {**encoded, "rationale_start": question, "rationale_length": length, "index": index}


def cut_rationale(feature: dict, removed: int) -> dict[str, list[int]]:
    """`input_ids` and `labels` of an encoded example without the first `removed` rationale tokens."""
    start = feature["rationale_start"]
    return {key: feature[key][:start] + feature[key][start + removed :] for key in ("input_ids", "labels")}


class TokenRemovalCollator:
    """Collates micro-batches with the schedule's removal applied: the n-th micro-batch it builds belongs to optimizer
    step `step_of(n)`. Padded as the curriculum's other batches (`collate_right_padded`)."""

    def __init__(self, schedule: TokenRemovalSchedule, pad_token_id: int, accumulation_steps: int = 1):
        self.schedule = schedule
        self.pad_token_id = pad_token_id
        self.accumulation_steps = accumulation_steps
        self.batches_per_epoch = 1  # micro-batches per epoch on this process; set when training begins
        self.batches = 0  # micro-batches built so far in the run

    def step_of(self, batch: int) -> int:
        """The optimizer step micro-batch `batch` is part of (an epoch's last step may take fewer micro-batches)."""
        epoch, within = divmod(batch, self.batches_per_epoch)
        return epoch * self.schedule.steps_per_epoch + within // self.accumulation_steps

    def __call__(self, features: list[dict]):
        step = self.step_of(self.batches)
        schedule = self.schedule
        cut = [
            cut_rationale(f, schedule.removed(step, schedule.offset(step, f["index"]), f["rationale_length"]))
            for f in features
        ]
        self.batches += 1
        return collate_right_padded(cut, self.pad_token_id)


class TokenRemovalCallback(TrainerCallback):
    """Sets the schedule's epoch length from the training data loader, places the collator's count where a resumed run
    starts, and clears the optimizer state at each step where k grows (with `reset_optimizer`), as long as k is
    below the longest rationale (past it no example changes)."""

    def __init__(self, collator: TokenRemovalCollator, longest_rationale: int, reset_optimizer: bool = True):
        self.collator = collator
        self.longest_rationale = longest_rationale
        self.reset_optimizer = reset_optimizer

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        collator, schedule = self.collator, self.collator.schedule
        collator.batches_per_epoch = len(train_dataloader)
        schedule.steps_per_epoch = math.ceil(collator.batches_per_epoch / collator.accumulation_steps)
        epochs, steps_in_epoch = divmod(state.global_step, schedule.steps_per_epoch)
        collator.batches = epochs * collator.batches_per_epoch + steps_in_epoch * collator.accumulation_steps

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        schedule = self.collator.schedule
        step = state.global_step
        if self.reset_optimizer and schedule.grows_at(step) and schedule.scheduled(step - 1) < self.longest_rationale:
            reset_optimizer(optimizer)


def removal_training(
    tokenizer: PreTrainedTokenizerBase, examples: list[dict], schedule: TokenRemovalSchedule, args
) -> tuple[TokenRemovalCollator, list[TrainerCallback]]:
    """The collator and callback of an iCoT-SI run on `examples` (`args`: its gradient accumulation and reset flag)."""
    encoder = TokenRemovalExamples(tokenizer)
    longest = max(encoder.encode(example)["rationale_length"] for example in examples)
    collator = TokenRemovalCollator(schedule, tokenizer.pad_token_id, args.gradient_accumulation_steps)
    return collator, [TokenRemovalCallback(collator, longest, args.optimizer_reset)]


__all__ = [
    "TokenRemovalCallback",
    "TokenRemovalCollator",
    "TokenRemovalExamples",
    "TokenRemovalSchedule",
    "cut_rationale",
    "offset_distribution",
    "removal_training",
]
