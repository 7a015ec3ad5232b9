"""The training arguments of each method with options of its own (light, as `softcot_hf.training.arguments`), and
`TRAINED_METHODS`: every method `softcot-hf train` trains, with a one-line summary and its arguments dataclass.

A method without options of its own takes a shared class with `method` set to its name: cot_unk
`ThoughtSlotsTrainingArguments`, cot and no_cot `CurriculumTrainingArguments`, no_thoughts
`CoconutTrainingArguments`. The method modules (`softcot_hf.methods`) name the same classes as their `arguments`.
"""

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from .. import checks
from .arguments import (
    CurriculumTrainingArguments,
    FrozenModelTrainingArguments,
    LoraArguments,
    MethodTrainingArguments,
    ThoughtSlotsTrainingArguments,
)
from .thought_set_settings import ThoughtSetLossSettings

_DEFAULT_LOSS = ThoughtSetLossSettings()
# More thought sets than this is a typo, not an experiment: M sets make M assistant rows per question.
MAX_THOUGHT_SETS = 64


@dataclass
class SoftCoTTrainingArguments(ThoughtSlotsTrainingArguments):
    """SoftCoT training: the paper's defaults (N = 4, linear projection, lr 2e-5, 10 epochs)."""

    method: str = field(default="softcot", metadata={"help": "softcot"})
    assistant: str | None = field(default=None, metadata={"help": "the small frozen assistant LM: Hub id or path"})
    projection_type: Literal["linear", "mlp"] = field(default="linear", metadata={"help": "paper: linear"})
    projection_dtype: Literal["fp32", "bf16"] = field(
        default="fp32",
        metadata={
            "help": "bf16: the official code's pure-bf16 projection, for exact reproduction only (at lr 2e-5 most of "
            "its updates round to zero)"
        },
    )
    assistant_template: str | None = field(
        default=None,
        metadata={
            "help": "the assistant's prompt, with {question} and {num_thought_tokens} (default: the processor's, "
            "softcot_hf.processing_softcot.DEFAULT_ASSISTANT_TEMPLATE)"
        },
    )
    prompt_preset: str | None = field(
        default=None,
        metadata={
            "help": "both prompts from a preset: 'official' (the official structure for the task's family, in our "
            "words) or a YAML/JSON file of softcot_hf.data.prompts.PromptPreset fields; replaces assistant_template"
        },
    )
    assistant_cache: bool = field(default=True, metadata={"help": "compute the assistant's states once, not per step"})
    assistant_cache_dir: str | None = field(default=None, metadata={"help": "keep that cache on disk here"})

    def __post_init__(self):
        if not self.assistant:
            raise ValueError("softcot needs --assistant (assistant=): the Hub id or path of the small frozen LM.")
        checks.model_location(self, "assistant")
        checks.output_folder(self, "assistant_cache_dir")
        if self.assistant_template is not None:
            from ..processing_softcot import ASSISTANT_TEMPLATE_FIELDS, check_template

            flag = checks.flag(self, "assistant_template")
            check_template(flag, self.assistant_template, ASSISTANT_TEMPLATE_FIELDS)
            need = "a prompt with {question} (and optionally {num_thought_tokens})"
            checks.require(self, "assistant_template", "{question}" in self.assistant_template, need)
        super().__post_init__()
        if self.prompt_preset is not None:  # read now: a bad file is a usage error, not a crash after loading models
            from ..data import get_task
            from ..data.prompts import prompt_preset

            prompt_preset(self.prompt_preset, get_task(self.task).answer.family)


@dataclass
class SoftCoTPPTrainingArguments(SoftCoTTrainingArguments):
    """SoftCoT++ training: SoftCoT's options plus the M thought sets and the contrastive term."""

    method: str = field(default="softcotpp", metadata={"help": "softcotpp"})
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
            "evaluation, and one more path to vote on; the softcot/softcotpp-* recipes use 10)",
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


@dataclass
class LoRATrainingArguments(FrozenModelTrainingArguments, LoraArguments):
    """LoRA training: SoftCoT's data and optimisation, an adapter on every linear layer of the backbone."""

    method: str = field(default="lora", metadata={"help": "lora"})

    def __post_init__(self):
        super().__post_init__()
        self.check_lora()


@dataclass
class CoconutTrainingArguments(CurriculumTrainingArguments):
    """Coconut training: the paper's GPT-2 / ProsQA run by default (but `new_token_init`, see its help); also the
    arguments of its "w/o thoughts" ablation (method="no_thoughts")."""

    method: str = field(default="coconut", metadata={"help": "coconut, or no_thoughts (the ablation)"})

    new_token_init: str = field(
        default="mean",
        metadata={
            "help": 'rows of the three new tokens: "mean" of the existing rows, or a copy of a vocabulary token\'s, '
            'e.g. "<<" (the official code on GPT-2, as the recipes set it)'
        },
    )
    start_stage: int = field(
        default=0,
        metadata={
            "help": "curriculum stage of the first epoch; 1 skips stage 0 for a backbone already fine-tuned on the "
            "written steps (the official GSM8k run starts from its CoT model, resume: 3 = 1 stage of 3 epochs)"
        },
    )
    optimizer_reset: Literal["stage", "epoch"] = field(
        default="stage",
        metadata={
            "help": "clear the optimizer state at each new stage, or at each new epoch (the official code with "
            "reset_optimizer: True)"
        },
    )

    def __post_init__(self):
        super().__post_init__()
        checks.require(self, "start_stage", self.start_stage >= 0, "0 or more")


@dataclass
class SimCoTTrainingArguments(CoconutTrainingArguments):
    """SIM-CoT training (Wei et al., arXiv 2509.20317): Coconut plus a step decoder that must write each latent
    group's reasoning step from its thoughts; loss = LM loss + step_loss_weight x mean step loss."""

    method: str = field(default="simcot", metadata={"help": "simcot"})
    step_loss_weight: float = field(default=1.0, metadata={"help": "weight of the step loss (official: 1.0)"})
    step_decoder: str = field(
        default="copy",
        metadata={
            "help": '"copy": a copy of the base LM (with the Coconut tokens); or a causal LM (Hub id or path) with '
            "the same tokenizer, e.g. the official GPT-2 run's fresh openai-community/gpt2 (a linear projection is "
            "trained where its width differs)"
        },
    )
    step_loss_reduction: Literal["example", "token"] = field(
        default="example",
        metadata={
            "help": "example: each step's summed token cross-entropy, averaged over examples, then over steps "
            "(official); token: the mean over every step token"
        },
    )
    save_step_decoder: bool = field(
        default=False, metadata={"help": "also write the trained step decoder to OUTPUT_DIR/step_decoder"}
    )

    def __post_init__(self):
        super().__post_init__()
        checks.require(self, "step_loss_weight", self.step_loss_weight >= 0, "0 or more")
        if self.step_decoder != "copy":
            checks.model_location(self, "step_decoder")
        if self.lora:
            raise ValueError(
                "simcot trains the whole model and its step decoder: drop --lora (the official runs fine-tune fully)."
            )


@dataclass
class IcotSiTrainingArguments(CurriculumTrainingArguments):
    """iCoT-SI training (stepwise internalization, Deng et al. 2024): the CoT baseline's data with the first k
    rationale tokens removed, k growing through training (`softcot_hf.training.token_removal`); the removal options
    default to the official GSM8k run's. The Coconut curriculum options (c_thought, max_latent_stage, ...) do not
    apply."""

    method: str = field(default="icot_si", metadata={"help": "icot_si"})
    tokens_removed_per_epoch: float = field(
        default=8, metadata={"help": "rationale tokens removed more each epoch, one at a time (official: 8)"}
    )
    removal_smoothing_lambda: float = field(
        default=4.0,
        metadata={
            "help": "each example removes r more tokens, P(r) proportional to exp(-lambda r) (official: 4; inf: none)"
        },
    )
    remove_all_beyond: int | None = field(
        default=None,
        metadata={"help": "once this many tokens are scheduled, remove the whole rationale (official GSM8k: 39)"},
    )
    optimizer_reset: bool = field(
        default=True, metadata={"help": "clear the optimizer state each time the removal grows (official: yes)"}
    )

    def __post_init__(self):
        super().__post_init__()
        checks.positive(self, "tokens_removed_per_epoch", "removal_smoothing_lambda", "remove_all_beyond")
        checks.require(
            self,
            "select_checkpoint",
            self.select_checkpoint == "last",
            "last (best_validation would also weigh epochs whose model still writes part of the rationale; the "
            "official code keeps the best epoch among those with all of it removed, which is not implemented)",
        )


@dataclass
class CodiTrainingArguments(CurriculumTrainingArguments):
    """CODI training (Shen et al., arXiv 2502.21074): one model as teacher (CoT) and student (K continuous thoughts),
    the student's state before the answer distilled towards the teacher's. LoRA by default, rank 128 and alpha 32, and
    K = 6: what third-party descriptions of the released CODI checkpoints give (not read in the paper itself). The
    optimisation options are the curriculum's (the curriculum's own options do not apply: CODI has no stages)."""

    method: str = field(default="codi", metadata={"help": "codi"})
    num_latent_thoughts: int = field(default=6, metadata={"help": "K, continuous thoughts per question"})
    distill_weight: float = field(default=1.0, metadata={"help": "alpha: loss = student CE + ALPHA x distill + ..."})
    teacher_weight: float = field(default=1.0, metadata={"help": "beta: ... + BETA x teacher CE"})
    distill_layers: list[int] | None = field(
        default=None,
        metadata={"help": "hidden states distilled (0: embeddings, l: layer l's output); default: every layer's"},
    )
    latent_projection: Literal["mlp", "none"] = field(
        default="mlp", metadata={"help": "the fed-back thought through an MLP + LayerNorm (paper), or as it is"}
    )
    new_token_init: str = field(
        default="mean",
        metadata={"help": 'rows of the three new tokens: "mean" of the existing rows, or a copy of a token\'s'},
    )
    lora: bool = field(default=True, metadata={"help": "train a LoRA adapter (paper; saved merged + in adapter/)"})
    lora_r: int = field(default=128, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha"})

    def __post_init__(self):
        super().__post_init__()
        checks.positive(self, "num_latent_thoughts")
        for name in ("distill_weight", "teacher_weight"):
            checks.require(self, name, getattr(self, name) >= 0, "0 or more")
        if self.distill_layers is not None:
            checks.require(self, "distill_layers", all(layer >= 0 for layer in self.distill_layers), "0 or more each")

    def wrap_in_lora(self, model, **settings):
        """LoRA on the LM's linear layers; the latent projection, new, trains whole (saved with the adapter)."""
        if self.latent_projection == "mlp":
            projection = {"modules_to_save": ["latent_projection"], "exclude_modules": r".*latent_projection.*"}
            settings = projection | settings
        return super().wrap_in_lora(model, **settings)


class TrainedMethod(NamedTuple):
    """A method `softcot-hf train` trains: its name, a one-line summary, its arguments dataclass."""

    name: str
    summary: str
    arguments: type[MethodTrainingArguments]


# In the papers' table order, as softcot_hf.methods.METHODS (a test keeps the two the same).
TRAINED_METHODS: dict[str, TrainedMethod] = {
    name: TrainedMethod(name, summary, arguments)
    for name, summary, arguments in (
        ("no_cot", "No-CoT: fine-tuned to answer right after the question", CurriculumTrainingArguments),
        ("cot", "CoT: fine-tuned on question, written rationale and answer", CurriculumTrainingArguments),
        ("cot_unk", "CoT-Unk: N trained embeddings in a frozen backbone's slots", ThoughtSlotsTrainingArguments),
        ("lora", "LoRA: an adapter on every linear layer of a frozen backbone", LoRATrainingArguments),
        ("no_thoughts", "Coconut w/o thoughts: the curriculum, no continuous thoughts", CoconutTrainingArguments),
        ("coconut", "Coconut: continuous thoughts, learned stage by stage", CoconutTrainingArguments),
        ("simcot", "SIM-CoT: Coconut whose thoughts must decode to their steps", SimCoTTrainingArguments),
        ("icot_si", "iCoT-SI: CoT fine-tuning, its rationale tokens removed step by step", IcotSiTrainingArguments),
        ("codi", "CODI: continuous thoughts distilled from the same model's CoT", CodiTrainingArguments),
        ("softcot", "SoftCoT: a frozen assistant's soft thoughts in a frozen backbone", SoftCoTTrainingArguments),
        ("softcotpp", "SoftCoT++: SoftCoT with M contrasted thought sets, voted", SoftCoTPPTrainingArguments),
    )
}


__all__ = [
    "MAX_THOUGHT_SETS",
    "TRAINED_METHODS",
    "CoconutTrainingArguments",
    "IcotSiTrainingArguments",
    "CodiTrainingArguments",
    "LoRATrainingArguments",
    "SimCoTTrainingArguments",
    "SoftCoTPPTrainingArguments",
    "SoftCoTTrainingArguments",
    "TrainedMethod",
]
