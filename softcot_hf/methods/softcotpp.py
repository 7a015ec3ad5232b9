"""SoftCoT++ (Xu et al., arXiv 2505.11484): SoftCoT with M soft-thought sets per question, made by giving the frozen
assistant's placeholders M different initial embeddings, pushed apart during training by a contrastive term, each
generating its own rationale at test time; the harness majority-votes over the M x K paths of a question.

The artifact is a SoftCoT folder whose projection also holds the M set vectors (`num_thought_sets` in config.json);
`modeling/thought_sets.py` is the model side, `softcot_hf/training/thought_set_loss.py` the loss.

Deviations from the official code, on purpose: the contrastive loss is computed for any batch size; the set vectors
come from chosen assistant token rows or from random draws with the embedding table's statistics (never hard-coded
ids; identical or near-zero rows are refused), for any M; evaluation runs one batched assistant forward over M x B
rows and samples every path with its own random numbers. `train_thought_sets` lets the set vectors learn (the official
code declares them trainable but never gives them a gradient, so they stay where they start): off by default.
"""

from dataclasses import dataclass, field
from typing import Literal

import torch
from transformers import PreTrainedModel

from .. import checks
from ..data import Task
from ..modeling.thought_sets import add_thought_sets, random_thought_set_vectors, thought_set_vectors_from_tokens
from ..processing_softcot import left_pad
from ..training.thought_set_loss import ThoughtSetTrainer
from .softcot import SoftCoT, SoftCoTTrainingArguments

# More thought sets than this is a typo, not an experiment: M sets make M assistant rows per question.
MAX_THOUGHT_SETS = 64


@dataclass
class SoftCoTPPTrainingArguments(SoftCoTTrainingArguments):
    """SoftCoT++ training: SoftCoT's options plus the M thought sets and the contrastive term."""

    num_thought_sets: int = field(default=4, metadata={"help": "M, soft-thought sets per question (1: SoftCoT)"})
    thought_set_init: Literal["random", "tokens"] = field(
        default="random",
        metadata={
            "help": "random: M draws from a normal with the assistant embedding table's per-dimension mean and std "
            "(seeded by --seed); tokens: the assistant embedding rows of --thought-set-token-ids"
        },
    )
    thought_set_token_ids: list[int] | None = field(
        default=None, metadata={"help": "with thought_set_init=tokens: M assistant token ids, one per set"}
    )
    train_thought_sets: bool = field(
        default=False,
        metadata={
            "help": "also train the set vectors, through the frozen assistant (a deviation: the official ones never "
            "learn); runs the assistant every step"
        },
    )
    contrastive_weight: float = field(
        default=1.0, metadata={"help": "loss = cross_entropy + CONTRASTIVE_WEIGHT x contrastive; 0: no contrastive"}
    )
    contrastive_temperature: float = field(default=0.05, metadata={"help": "InfoNCE temperature (SimCSE: 0.05)"})
    contrastive_dropout: float = field(
        default=0.1, metadata={"help": "dropout making each set's positive copy (SimCSE: 0.1)"}
    )
    set_loss_reduction: Literal["mean", "sum_over_sets"] = field(
        default="mean",
        metadata={"help": "cross-entropy: mean over the tokens of all sets, or the sum of each set's mean"},
    )

    def __post_init__(self):
        super().__post_init__()  # first: it checks the types of every number and flag
        checks.require(
            self,
            "num_thought_sets",
            1 <= self.num_thought_sets <= MAX_THOUGHT_SETS,
            f"between 1 and {MAX_THOUGHT_SETS} (each set is one more assistant row per question in training and "
            "evaluation, and one more path to vote on; recipes/softcot/softcotpp-* use 10)",
        )
        checks.positive(self, "contrastive_temperature")
        checks.require(self, "contrastive_weight", self.contrastive_weight >= 0, "0 or more")
        checks.require(self, "contrastive_dropout", 0 <= self.contrastive_dropout < 1, "in [0, 1)")
        if self.thought_set_init == "tokens":
            ids = self.thought_set_token_ids or []
            checks.require(
                self, "thought_set_token_ids", len(ids) == self.num_thought_sets, "num_thought_sets token ids"
            )
        elif self.thought_set_token_ids is not None:
            raise ValueError("--thought-set-token-ids is read only with --thought-set-init tokens.")
        if self.assistant_cache_dir is not None:
            raise ValueError(
                "softcotpp keeps its per-set assistant states in memory only: drop --assistant-cache-dir "
                "(--assistant-cache computes them once per run)."
            )


class SoftCoTPP(SoftCoT):
    name = "softcotpp"
    title = "SoftCoT++"
    arguments = SoftCoTPPTrainingArguments
    artifact_hint = "a SoftCoT++ folder or Hub id (the projection with its thought sets, and the processor)"
    trainer_class = ThoughtSetTrainer

    def build(self, args: SoftCoTPPTrainingArguments, task: Task, dtype: torch.dtype):
        model, processor, tokenizer = super().build(args, task, dtype)
        if args.num_thought_sets > 1:
            table = model.assistant.get_input_embeddings().weight
            if args.thought_set_init == "tokens":
                vectors = thought_set_vectors_from_tokens(table, args.thought_set_token_ids)
            else:
                generator = torch.Generator().manual_seed(args.seed)
                vectors = random_thought_set_vectors(table, args.num_thought_sets, generator)
            add_thought_sets(model, vectors, trainable=args.train_thought_sets)
        return model, processor, tokenizer

    def precompute(self, model: PreTrainedModel, examples: list[dict], collator, args) -> torch.Tensor | None:
        """Each example's assistant states for each set, computed once: (num_examples, M, N, d_assistant); none when
        the set vectors train (the states then change every step)."""
        if not args.assistant_cache or args.train_thought_sets:
            return None
        num_sets = model.config.num_thought_sets
        device = model.assistant.get_input_embeddings().weight.device
        states = []
        for start in range(0, len(examples), args.eval_batch_size):
            rows = [example["assistant_input_ids"] for example in examples[start : start + args.eval_batch_size]]
            input_ids = left_pad(rows, collator.assistant_pad_token_id).repeat_interleave(num_sets, 0).to(device)
            attention_mask = left_pad([[1] * len(row) for row in rows], 0).repeat_interleave(num_sets, 0).to(device)
            set_ids = torch.arange(num_sets, device=device).repeat(len(rows)) if num_sets > 1 else None
            with torch.no_grad():
                batch_states = model.get_assistant_states(input_ids, attention_mask, set_ids)
            states.append(batch_states.view(len(rows), num_sets, *batch_states.shape[1:]).cpu())
        return torch.cat(states) if num_sets > 1 else torch.cat(states).squeeze(1)
