"""Coconut's curriculum on the data side: an example `{"question", "steps", "answer"}` becomes the token layout of
stage s, where the first s reasoning steps are replaced by s * c continuous thoughts.

Layout (Coconut), with labels on the remaining steps and the answer only::

    question\\n <|start-latent|> <|latent|> * (n * c) <|end-latent|> step_{n+1}\\n ... step_k\\n ### answer <eos>

- stage s <= max_latent_stage: n = s latent "steps" replace the first s rationale steps; an example with fewer
  steps gets min(s, k) of them unless `pad_latent_to_max`, which always writes s.
- stage s > max_latent_stage: every step is removed, and n = max_latent_stage (`pad_latent_to_max`) or
  min(k, max_latent_stage).
- `uniform_prob`: with this probability an example takes a stage drawn uniformly from 0..max_latent_stage instead.

The paper's baselines: "no_thoughts" is the same layout without latent tokens between the markers
(`write_latents=False`); "cot" (question, steps, answer) and "no_cot" (question, answer) are `RationaleExamples`.
"""

import math
import random
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase, TrainerCallback

from ..modeling.modeling_coconut import END_LATENT_TOKEN, LATENT_TOKEN, START_LATENT_TOKEN


@dataclass
class CurriculumSettings:
    """What the Coconut paper varies: c thoughts per step, the last latent stage, padding and stage mixing."""

    c_thought: int = 1
    max_latent_stage: int = 6
    pad_latent_to_max: bool = False
    uniform_prob: float = 0.0

    def __post_init__(self):
        if self.c_thought < 1 or self.max_latent_stage < 0 or not 0 <= self.uniform_prob <= 1:
            raise ValueError(
                "Need c_thought >= 1, max_latent_stage >= 0 and 0 <= uniform_prob <= 1; got c_thought="
                f"{self.c_thought}, max_latent_stage={self.max_latent_stage}, uniform_prob={self.uniform_prob}."
            )


def _special_id(tokenizer: PreTrainedTokenizerBase, token: str) -> int:
    token_id = tokenizer.get_vocab().get(token)
    if token_id is None:
        raise ValueError(
            f"The tokenizer has no {token} token: CoconutForCausalLM.from_base(model, tokenizer) adds the three "
            "Coconut tokens."
        )
    return token_id


def _eos_id(tokenizer: PreTrainedTokenizerBase) -> int:
    if tokenizer.eos_token_id is None:
        raise ValueError("The tokenizer has no EOS token; answers end with it. Set tokenizer.eos_token first.")
    return tokenizer.eos_token_id


class RationaleExamples:
    """The Coconut paper's fine-tuned baselines: "cot" writes `question\\n step\\n ... ### answer <eos>` with labels
    on the steps and the answer, "no_cot" (`with_steps=False`) the question and the answer only. No stages."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, with_steps: bool = True):
        self.tokenizer = tokenizer
        self.with_steps = with_steps
        self.eos_id = _eos_id(tokenizer)

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def encode(self, example: dict, stage: int = 0, epoch: int = 0, index: int = 0) -> dict[str, list[int]]:
        """`input_ids` and `labels` (-100 on the question) of one example; the stage does not matter."""
        question = self._ids(example["question"] + "\n")
        steps = example["steps"] if self.with_steps else []
        target = [token for step in steps for token in self._ids(step + "\n")]
        target += self._ids("### " + str(example["answer"])) + [self.eos_id]
        return {"input_ids": question + target, "labels": [-100] * len(question) + target}


class CoconutCurriculum:
    """Tokenizes Coconut-format examples for a given stage. Deterministic for a given (seed, epoch, index).
    `write_latents=False` is the "no_thoughts" baseline: the steps go, but no latent tokens replace them."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        settings: CurriculumSettings,
        seed: int = 0,
        write_latents: bool = True,
    ):
        self.tokenizer = tokenizer
        self.settings = settings
        self.seed = seed
        self.write_latents = write_latents
        self.start_id = _special_id(tokenizer, START_LATENT_TOKEN)
        self.end_id = _special_id(tokenizer, END_LATENT_TOKEN)
        self.latent_id = _special_id(tokenizer, LATENT_TOKEN)
        self.eos_id = _eos_id(tokenizer)

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def scheduled_stage(self, stage: int, epoch: int = 0, index: int = 0) -> int:
        """The stage one example is written at: `stage`, or with `uniform_prob` a uniformly random one."""
        settings = self.settings
        rng = random.Random(f"{self.seed}-{epoch}-{index}")
        if settings.uniform_prob > 0 and rng.random() < settings.uniform_prob:
            return rng.randint(0, settings.max_latent_stage)
        return stage

    def layout(self, steps: list[str], stage: int) -> tuple[int, int]:
        """(number of leading steps removed, number of latent tokens) for an example with these steps at `stage`."""
        settings, k = self.settings, len(steps)
        if stage > settings.max_latent_stage:
            removed = k
            n = settings.max_latent_stage if settings.pad_latent_to_max else min(k, settings.max_latent_stage)
        else:
            removed = min(stage, k)
            n = stage if settings.pad_latent_to_max else removed
        return removed, n * settings.c_thought

    def encode(self, example: dict, stage: int, epoch: int = 0, index: int = 0) -> dict[str, list[int]]:
        """`input_ids` and `labels` (-100 on the question, markers and thoughts) of one example at `stage`."""
        question = self._ids(example["question"] + "\n")
        answer = self._ids("### " + str(example["answer"])) + [self.eos_id]
        steps = list(example["steps"])
        removed, num_latents = self.layout(steps, self.scheduled_stage(stage, epoch, index))
        thoughts = [self.latent_id] * num_latents if self.write_latents else []
        prefix = question + [self.start_id] + thoughts + [self.end_id]
        rest = [token for step in steps[removed:] for token in self._ids(step + "\n")] + answer
        return {"input_ids": prefix + rest, "labels": [-100] * len(prefix) + rest}


class CoconutStageDataset(torch.utils.data.Dataset):
    """Examples encoded lazily at the current `stage` and `epoch`, which `CoconutStageCallback` moves along."""

    def __init__(self, examples: list[dict], curriculum: CoconutCurriculum | RationaleExamples):
        self.examples = examples
        self.curriculum = curriculum
        self.stage = 0
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.curriculum.encode(self.examples[index], self.stage, self.epoch, index)


def collate_right_padded(features: list[dict[str, list[int]]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-pad `input_ids` (pad id), `labels` (-100) and build `attention_mask`: (batch, max_length) each."""
    width = max(len(f["input_ids"]) for f in features)

    def pad(key: str, value: int) -> torch.Tensor:
        return torch.tensor([f[key] + [value] * (width - len(f[key])) for f in features], dtype=torch.long)

    lengths = torch.tensor([len(f["input_ids"]) for f in features])
    return {
        "input_ids": pad("input_ids", pad_token_id),
        "labels": pad("labels", -100),
        "attention_mask": (torch.arange(width)[None, :] < lengths[:, None]).long(),
    }


def reset_optimizer(optimizer: torch.optim.Optimizer | None) -> None:
    """Clear the optimizer's state (moments and step counts): a fresh AdamW, as the official codes build at a
    curriculum change; the learning-rate schedule carries on. `None` (no optimizer yet): nothing to clear."""
    if optimizer is not None:
        optimizer.state.clear()


class CoconutStageCallback(TrainerCallback):
    """Stage = start_stage + epoch // epochs_per_stage. At each stage change (each new epoch with `reset_each_epoch`,
    as the official code with `reset_optimizer: True`) the optimizer's state is cleared; the learning-rate schedule
    carries on. `start_stage` > 0 skips the first stages (the official `resume`, in whole stages).

    Resuming from a checkpoint picks up the stage of the epoch the checkpoint was written in, so the optimizer state
    loaded with it is kept (cleared only if the next epoch would clear it in an uninterrupted run)."""

    def __init__(
        self, dataset: CoconutStageDataset, epochs_per_stage: int, start_stage: int = 0, reset_each_epoch: bool = False
    ):
        if epochs_per_stage < 1 or start_stage < 0:
            raise ValueError(f"Need epochs_per_stage >= 1, start_stage >= 0; got {epochs_per_stage}, {start_stage}.")
        self.dataset = dataset
        self.epochs_per_stage = epochs_per_stage
        self.start_stage = start_stage
        self.reset_each_epoch = reset_each_epoch
        dataset.stage = start_stage

    def stage(self, epoch: int) -> int:
        return self.start_stage + epoch // self.epochs_per_stage

    def on_train_begin(self, args, state, control, **kwargs):
        last_begun = math.ceil(state.epoch or 0) - 1  # state.epoch > 0 only when resuming
        if last_begun >= 0:
            self.dataset.epoch = last_begun
            self.dataset.stage = self.stage(last_begun)

    def on_epoch_begin(self, args, state, control, optimizer=None, **kwargs):
        epoch = math.floor(state.epoch or 0)  # fractional when resuming in the middle of an epoch
        stage = self.stage(epoch)
        new_epoch = epoch != self.dataset.epoch
        self.dataset.epoch = epoch
        if stage != self.dataset.stage or (self.reset_each_epoch and new_epoch):
            self.dataset.stage = stage
            reset_optimizer(optimizer)


__all__ = [
    "CoconutCurriculum",
    "CoconutStageCallback",
    "CoconutStageDataset",
    "CurriculumSettings",
    "RationaleExamples",
    "collate_right_padded",
    "reset_optimizer",
]
