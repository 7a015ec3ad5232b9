"""SoftCoT++ (Xu et al., arXiv 2505.11484): SoftCoT with M soft-thought sets per question, made by giving the frozen
assistant's placeholders M different initial embeddings, pushed apart during training by a contrastive term, each
generating its own rationale at test time; the harness majority-votes over the M x K paths of a question.

The artifact is a SoftCoT folder whose projection also holds the M set vectors (`num_thought_sets` in config.json);
`modeling/thought_sets.py` is the model side, `softcot_hf/training/thought_set_loss.py` the loss.

Both the official run and ours are selectable: the loss options (`thought_set_loss.py`'s `ThoughtSetLossSettings`,
defaults ours, `.official(M)` the official) and `thought_set_init` (`official`: the assistant rows the official code
takes; `random`: ours). Deviations from the official code that no option undoes: the contrastive loss is computed per
question for any batch size (the official loop is right at batch size 1 only); evaluation runs one batched assistant
forward over M x B rows and samples every path with its own random numbers. `train_thought_sets` lets the set vectors
learn (the official code declares them trainable but never gives them a gradient, so they stay where they start):
off by default.
"""

from dataclasses import dataclass, field
from typing import Literal

import torch
from transformers import PretrainedConfig, PreTrainedModel
from transformers.utils import logging

from .. import checks
from ..data import Task
from ..modeling.thought_sets import (
    add_thought_sets,
    random_thought_set_vectors,
    thought_set_vector_problems,
    thought_set_vectors_from_tokens,
)
from ..processing_softcot import left_pad
from ..training.engines import gathered
from ..training.thought_set_loss import ThoughtSetLossSettings, ThoughtSetTrainer
from .softcot import SoftCoT, SoftCoTTrainingArguments

logger = logging.get_logger(f"transformers.{__name__}")
# The official code's set vectors: the assistant embedding rows from this id on, one per set, by the assistant's
# model type (xuyige/SoftCoT@fa7f537, llm_model.py, ScalingEfficientSoftCoTFromSmallModel.__init__). On LLaMA-3 these
# are <|reserved_special_token_3|> onwards, which never occur in text (rows possibly untrained); on Qwen2.5 ordinary
# vocabulary tokens (rare scripts and symbols). The official code allows at most 10 sets on Qwen.
OFFICIAL_FIRST_SET_ROW = {"llama": 128011, "qwen2": 150001, "qwen3": 150001}
OFFICIAL_MAX_SETS = {"qwen2": 10, "qwen3": 10}
_DEFAULT_LOSS = ThoughtSetLossSettings()
# More thought sets than this is a typo, not an experiment: M sets make M assistant rows per question.
MAX_THOUGHT_SETS = 64


@dataclass
class SoftCoTPPTrainingArguments(SoftCoTTrainingArguments):
    """SoftCoT++ training: SoftCoT's options plus the M thought sets and the contrastive term."""

    num_thought_sets: int = field(default=4, metadata={"help": "M, soft-thought sets per question (1: SoftCoT)"})
    thought_set_init: Literal["random", "tokens", "official"] = field(
        default="random",
        metadata={
            "help": "random: M draws from a normal with the assistant embedding table's per-dimension mean and std "
            "(seeded by --seed); tokens: the assistant embedding rows of --thought-set-token-ids; official: the rows "
            "the official code takes (LLaMA: 128011 on, Qwen: 150001 on, M <= 10), kept even if they would collapse "
            "(a warning says so)"
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
    thought_set_loss_reduction: Literal["mean", "sum_over_sets"] = field(
        default=_DEFAULT_LOSS.reduction,
        metadata={
            "help": "cross-entropy: mean over the labelled tokens of all sets (ours), or each row's token mean summed "
            "over the sets and averaged over questions (official)"
        },
    )
    contrastive_weight: float = field(
        default=_DEFAULT_LOSS.contrastive_weight,
        metadata={
            "help": "loss = cross_entropy + CONTRASTIVE_WEIGHT x contrastive; 0: no contrastive term (official "
            "`scaling` run); official `scaling-nce`: 1/M"
        },
    )
    contrastive_temperature: float = field(
        default=_DEFAULT_LOSS.contrastive_temperature,
        metadata={"help": "InfoNCE temperature (SimCSE and official: 0.05)"},
    )
    contrastive_dropout: float = field(
        default=_DEFAULT_LOSS.contrastive_dropout,
        metadata={"help": "dropout making each set's positive copy (ours, as SimCSE: 0.1; official: 0.5)"},
    )
    contrastive_dropout_on: Literal["assistant_states", "projected_thoughts"] = field(
        default=_DEFAULT_LOSS.contrastive_dropout_on,
        metadata={"help": "what the dropout hits: the assistant states (ours) or the projected thoughts (official)"},
    )
    contrastive_pooling: Literal["mean", "flatten"] = field(
        default=_DEFAULT_LOSS.contrastive_pooling,
        metadata={
            "help": "a set's representation: the mean of its N projected thoughts (ours) or all N x D flattened "
            "(official)"
        },
    )

    def __post_init__(self):
        super().__post_init__()  # first: it checks the types of every number and flag
        checks.require(
            self,
            "num_thought_sets",
            1 <= self.num_thought_sets <= MAX_THOUGHT_SETS,
            f"between 1 and {MAX_THOUGHT_SETS} (each set is one more assistant row per question in training and "
            "evaluation, and one more path to vote on; softcot_hf/recipes/softcot/softcotpp-* use 10)",
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
            with gathered([table]):  # ZeRO-3 partitions the assistant as it loads
                if args.thought_set_init == "tokens":
                    vectors = thought_set_vectors_from_tokens(table, args.thought_set_token_ids)
                elif args.thought_set_init == "official":
                    vectors = official_thought_set_vectors(table, model.config.assistant_config, args.num_thought_sets)
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
        with gathered(list(model.assistant.parameters())):  # ZeRO-3: the assistant whole, on every process at once
            for start in range(0, len(examples), args.eval_batch_size):
                rows = [example["assistant_input_ids"] for example in examples[start : start + args.eval_batch_size]]
                input_ids = left_pad(rows, collator.assistant_pad_token_id).repeat_interleave(num_sets, 0)
                attention_mask = left_pad([[1] * len(row) for row in rows], 0).repeat_interleave(num_sets, 0)
                input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
                set_ids = torch.arange(num_sets, device=device).repeat(len(rows)) if num_sets > 1 else None
                with torch.no_grad():
                    batch_states = model.get_assistant_states(input_ids, attention_mask, set_ids)
                states.append(batch_states.view(len(rows), num_sets, *batch_states.shape[1:]).cpu())
        return torch.cat(states) if num_sets > 1 else torch.cat(states).squeeze(1)


def official_thought_set_token_ids(assistant_config: PretrainedConfig, num_sets: int) -> list[int]:
    """The M assistant token ids whose embedding rows the official code takes as sets (`OFFICIAL_FIRST_SET_ROW`)."""
    model_type = assistant_config.model_type
    if model_type not in OFFICIAL_FIRST_SET_ROW:
        raise ValueError(
            f"--thought-set-init official: the official code names set rows for LLaMA and Qwen assistants only, not "
            f"model type {model_type!r}. Use --thought-set-init random, or tokens with --thought-set-token-ids."
        )
    if num_sets > OFFICIAL_MAX_SETS.get(model_type, num_sets):
        raise ValueError(
            f"--thought-set-init official allows at most {OFFICIAL_MAX_SETS[model_type]} sets on a {model_type} "
            f"assistant (as the official code asserts), got --num-thought-sets {num_sets}."
        )
    first = OFFICIAL_FIRST_SET_ROW[model_type]
    return list(range(first, first + num_sets))


def official_thought_set_vectors(
    embedding_weight: torch.Tensor, assistant_config: PretrainedConfig, num_sets: int
) -> torch.Tensor:
    """(M, d) fp32 copies of the official rows. Rows that would collapse (`thought_set_vector_problems`) are kept with
    a warning, not refused: the official run used exactly them, so a faithful reproduction must too (LLaMA-3's
    reserved-token rows may be untrained)."""
    token_ids = official_thought_set_token_ids(assistant_config, num_sets)
    vectors = thought_set_vectors_from_tokens(embedding_weight, token_ids, check=False)
    if problems := thought_set_vector_problems(vectors, embedding_weight, [f"token {token}" for token in token_ids]):
        logger.warning(
            f"The official thought-set rows {token_ids[0]}..{token_ids[-1]} are kept as the official code has them, "
            f"although {'; '.join(problems)}. The sets may write (nearly) the same thoughts; --thought-set-init "
            "random avoids it."
        )
    return vectors
