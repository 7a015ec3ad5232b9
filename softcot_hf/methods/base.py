"""What a method is: `Method`, and the runners that turn a batch of questions into generated texts.

A method knows its name and table label, the prompt it gives the backbone, how to load its artifact for evaluation
and, when it trains, its training arguments (a light dataclass of `softcot_hf.training`, whose `method` field names
it) and how its pipeline builds the model and the data. Everything else (harness, report, CLI, quickstart, training
pipelines) takes a method object.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Protocol

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoProcessor,
    GenerationConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
)

from ..data import Task
from ..data.prompts import FINE_TUNED
from ..generation import encode_prompts, generate_texts, prompt_ids
from ..loading import load_lm
from ..training.coconut_curriculum import CoconutStageCallback, collate_right_padded
from ..training.engines import TrainablePartTrainer


class Runner(Protocol):
    """What the evaluation harness runs: a method's loaded artifact that turns questions into generated texts. The
    runners below subclass it for its defaults (one thought set, no thought slots, no processor, no hints)."""

    @property
    def num_thought_sets(self) -> int:
        """M, SoftCoT++'s thought sets: each question comes back as M x num_return_sequences paths."""
        return 1

    # The `SoftCoTProcessor` that builds the model's inputs (None: a tokenizer and a prompt template do).
    processor: Any | None = None

    @property
    def num_thought_tokens(self) -> int | None:
        """N, the thought slots each prompt gets (None: the method has none)."""
        return None if self.processor is None else self.processor.num_thought_tokens

    @property
    def num_hint_tokens(self) -> int | None:
        """The length of the hints an assistant writes first (None: none are written)."""
        return None

    @property
    def generation_config(self) -> GenerationConfig:
        """The generation config of the LM that writes the answers (`generate` falls back on it)."""
        return GenerationConfig()

    def settings(self) -> dict[str, Any]:
        """What this runner adds to an evaluation's identity (`num_thought_sets` only when there are several, so
        that runs saved before it existed still resume)."""
        settings = {"num_hint_tokens": self.num_hint_tokens, "num_thought_tokens": self.num_thought_tokens}
        if self.num_thought_sets > 1:
            settings["num_thought_sets"] = self.num_thought_sets
        return settings

    def generate(self, questions: list[str], **generate_kwargs) -> tuple[list[str], list[int]]:
        """Generated texts and generated-token counts, one per returned sequence (grouped by question)."""
        raise NotImplementedError


@dataclass
class PromptedLM(Runner):
    """A causal LM (or a peft / Coconut model) prompted with its method's template, through the chat template when
    the method's prompts use one."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    task: Task
    method: "Method"

    @property
    def generation_config(self) -> GenerationConfig:
        return self.model.generation_config

    def generate(self, questions: list[str], **generate_kwargs) -> tuple[list[str], list[int]]:
        prompts = [self.method.build_prompt(self.task, question) for question in questions]
        inputs = encode_prompts(self.tokenizer, prompts, chat=self.method.chat)
        return generate_texts(self.model, inputs, self.tokenizer, **generate_kwargs)


@dataclass
class ProcessorLM(Runner):
    """A SoftCoT or CoT-Unk model whose processor builds the inputs: `model.generate(**processor(questions))`."""

    model: PreTrainedModel
    processor: Any  # SoftCoTProcessor

    @property
    def num_thought_sets(self) -> int:
        return getattr(self.model.config, "num_thought_sets", 1)  # a config saved before SoftCoT++ has none

    @property
    def generation_config(self) -> GenerationConfig:
        return self.model.generation_config

    def generate(self, questions: list[str], **generate_kwargs) -> tuple[list[str], list[int]]:
        return generate_texts(
            self.model, self.processor(questions), self.processor.backbone_tokenizer, **generate_kwargs
        )


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_evaluated_lm(name_or_path: str | Path, load_kwargs: dict) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A causal LM (eval mode) and its tokenizer from a Hub id or folder; `load_kwargs` go to `from_pretrained`."""
    model, tokenizer = load_lm(name_or_path, **load_kwargs)
    return model.eval(), tokenizer


def load_with_processor(name_or_path: str | Path, load_kwargs: dict) -> tuple[PreTrainedModel, Any]:
    """A SoftCoT / CoT-Unk model (eval mode) and the processor saved with it."""
    model = AutoModelForCausalLM.from_pretrained(str(name_or_path), **load_kwargs)
    return model.eval(), AutoProcessor.from_pretrained(str(name_or_path))


class Method:
    """
    One row of the papers' tables. Subclasses set the class attributes and override the hooks that differ; the
    defaults describe a fine-tuned causal LM saved as an ordinary model folder.
    """

    name: ClassVar[str]
    title: ClassVar[str]  # the paper's label, used in reports
    prompt_template: ClassVar[str]  # a template of `softcot_hf.data.prompts`
    chat: ClassVar[bool] = True  # render prompts with the tokenizer's chat template
    arguments: ClassVar[type | None] = None  # the training arguments of a trained method; None: evaluation only
    artifact_hint: ClassVar[str] = "the artifact folder or Hub id to evaluate"
    artifact_model_type: ClassVar[str | None] = None  # config.json's model_type of the artifact; None: any causal LM
    thoughts_at_load: ClassVar[bool] = False  # loading takes num_thought_tokens (another N than the trained one)
    tokenizer_hint: ClassVar[str] = "tokenizer"
    answer_tokens: ClassVar[int] = 256  # max_new_tokens when the evaluation or training arguments leave it unset

    def __repr__(self) -> str:
        return f"<method {self.name}>"

    def build_prompt(self, task: Task, question: str, thoughts: str = "{thoughts}") -> str:
        """This method's backbone prompt for `question`, in `task`'s answer format."""
        return task.build_prompt(question, self.prompt_template, thoughts=thoughts)

    def example_prompts(self, task: Task, question: str, tokenizers: dict, args: Any = None) -> dict[str, list[int]]:
        """The token ids this method's model reads for `question`, by side ("backbone", "assistant"): what
        `softcot-hf reproduce --dry-run` prints. `tokenizers` maps sides to tokenizers; `args` are the training
        arguments of a trained method (None for an evaluated one)."""
        return {"backbone": prompt_ids(tokenizers["backbone"], self.build_prompt(task, question), self.chat)}

    def example_processor(self, task: Task, tokenizers: dict, args: Any = None) -> Any | None:
        """The `SoftCoTProcessor` a run with training arguments `args` builds its inputs with (None: the method
        prompts its LM with `build_prompt` and the chat template)."""
        return None

    def load_runner(
        self,
        task: Task,
        model: PreTrainedModel | str | Path | None = None,
        tokenizer: Any = None,
        *,
        backbone: str | Path | None = None,
        assistant: str | Path | None = None,
        num_hint_tokens: int = 32,
        device: str | torch.device | None = None,
        **load_kwargs,
    ) -> Runner:
        """
        The runner of this method on `task`. `model` is the artifact (a folder or Hub id), or an already-loaded model
        with its `tokenizer`. Models loaded here go to `device` (default: CUDA when available); `load_kwargs` (e.g.
        `dtype`) go to `from_pretrained`.
        """
        if model is None:
            raise ValueError(f"{self.name} needs model=: {self.artifact_hint}.")
        if not isinstance(model, str | Path):
            if tokenizer is None:
                hint = self.tokenizer_hint
                raise ValueError(f"An already-loaded model needs tokenizer= (its {hint}) to build prompts and decode.")
            return self.runner(model.eval(), tokenizer, task)
        loaded, tokenizer = self.load_artifact(model, load_kwargs)
        return self.runner(loaded.to(device or default_device()), tokenizer, task)

    def load_artifact(self, name_or_path: str | Path, load_kwargs: dict) -> tuple[PreTrainedModel, Any]:
        """The saved artifact (eval mode) and what builds its inputs (a tokenizer or a processor)."""
        return load_evaluated_lm(name_or_path, load_kwargs)

    def runner(self, model: PreTrainedModel, tokenizer: Any, task: Task) -> Runner:
        return PromptedLM(model, tokenizer, task, self)

    def artifact_load_kwargs(self, args) -> dict:
        """What the final evaluation loads the artifact of a run with training arguments `args` with (e.g. `dtype`)."""
        return {}

    def train(self, args, **kwargs) -> dict:
        """Train this method's artifact with `args` (an instance of `self.arguments`), without evaluating it;
        `softcot_hf.pipelines.train` trains and evaluates."""
        raise ValueError(f"{self.name} is evaluated as it is; it has nothing to train.")


class FrozenModelMethod(Method):
    """A method that trains a small part beside frozen models on the frozen-model pipeline
    (`softcot_hf.training.softcot_training`): SoftCoT, CoT-Unk, LoRA. Its artifact keeps only what trained."""

    # Trainer saving only the trainable part under every engine; a subclass when the method has its own loss
    trainer_class: ClassVar[type[Trainer]] = TrainablePartTrainer

    def build(self, args, task: Task, dtype: torch.dtype) -> tuple[PreTrainedModel, Any, PreTrainedTokenizerBase]:
        """The model to train (its trainable part initialised from torch's RNG), the processor that builds its inputs
        (`None`: prompts rendered with `build_prompt` and the chat template), and the backbone tokenizer."""
        raise NotImplementedError

    def target_format(self, args, task: Task) -> tuple[str | None, str | None]:
        """How training targets write the final answer (with `{answer}`; None: the task's own sentence) and each
        rationale step (with `{k}` and `{step}`; None: as it is)."""
        return None, None

    def trainer_kwargs(self, args) -> dict[str, Any]:
        """More keyword arguments of `trainer_class` for a run with training arguments `args`."""
        return {}

    def frozen_model(self, model: PreTrainedModel) -> PreTrainedModel:
        """The frozen LM whose layers gradient checkpointing covers."""
        return model.backbone

    def precompute(self, model: PreTrainedModel, examples: list[dict], collator, args) -> torch.Tensor | None:
        """States computed once before training (SoftCoT's assistant states), or `None`."""
        return None

    def artifact_load_kwargs(self, args) -> dict:
        """The frozen models load in the dtype they trained in."""
        from ..training.softcot_training import resolve_frozen_dtype

        return {"dtype": resolve_frozen_dtype(args.frozen_dtype)}

    def train(self, args, **kwargs) -> dict:
        from ..training.softcot_training import train_frozen_model_method

        return train_frozen_model_method(self, args, **kwargs)


class ThoughtSlotsMethod(FrozenModelMethod):
    """A frozen-model method whose artifact fills thought slots in the backbone's prompt (SoftCoT, CoT-Unk): saved
    with the processor that writes those slots, which builds its inputs at evaluation."""

    tokenizer_hint = "SoftCoTProcessor"

    def load_artifact(self, name_or_path: str | Path, load_kwargs: dict) -> tuple[PreTrainedModel, Any]:
        return load_with_processor(name_or_path, load_kwargs)

    def runner(self, model: PreTrainedModel, processor: Any, task: Task) -> Runner:
        return ProcessorLM(model, processor)


class CurriculumMethod(Method):
    """A method trained on the Coconut curriculum's data (`softcot_hf.training.coconut_training`): Coconut and the
    Coconut paper's baselines. Its artifact is the whole fine-tuned model; prompts are the bare question."""

    prompt_template = FINE_TUNED
    chat = False
    answer_tokens = 128  # the Coconut paper's
    staged: ClassVar[bool] = True  # the curriculum's stage advances with the epochs
    # False: the model carries training-only parts that the artifact drops (FSDP and DeepSpeed are refused)
    shardable: ClassVar[bool] = True

    def build(self, base: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, args) -> PreTrainedModel:
        """The model to train from the loaded base LM (its tokenizer may gain tokens)."""
        return base

    def encoder(self, tokenizer: PreTrainedTokenizerBase, args) -> Any:
        """What turns one training example into token ids: an object whose `encode(example, stage, epoch, index)`
        gives `input_ids` and `labels` (and what `collate` reads besides), e.g. `CoconutCurriculum`."""
        raise NotImplementedError

    def trainable_token_ids(self, model: PreTrainedModel) -> list[int] | None:
        """Embedding rows a LoRA run trains too (peft trainable tokens), or `None`."""
        return None

    def collate(self, features: list[dict], pad_token_id: int) -> dict:
        """A training batch from `encode`'s examples: right-padded `input_ids`, `labels`, `attention_mask`."""
        return collate_right_padded(features, pad_token_id)

    def thoughts_at_stage(self, args, stage: int) -> int | None:
        """Continuous thoughts a question gets when the model is evaluated at `stage` (None: the method has none)."""
        return None

    def schedule(self, dataset, tokenizer: PreTrainedTokenizerBase, args) -> tuple[Callable, list[TrainerCallback]]:
        """The data collator of a training run on `dataset` (a `CoconutStageDataset`) and the callbacks that move its
        curriculum along: right-padded batches and, when `staged`, the stage callback (a stage every
        `epochs_per_stage` epochs from `start_stage`, the optimizer reset at each stage or epoch)."""
        collator = partial(self.collate, pad_token_id=tokenizer.pad_token_id)
        if not self.staged:
            return collator, []
        reset_each_epoch = args.optimizer_reset == "epoch"
        return collator, [CoconutStageCallback(dataset, args.epochs_per_stage, args.start_stage, reset_each_epoch)]

    def trainer_class(self, base: type[Trainer], args) -> type[Trainer]:
        """The Trainer class a run trains with, from the pipeline's `base` (a method with a loss of its own
        subclasses it)."""
        return base

    def artifact_model(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, output_dir: Path, args):
        """What the artifact holds of the trained `model` (main process, after training): the model itself."""
        return model

    def train(self, args, **kwargs) -> dict:
        from ..training.coconut_training import train_curriculum_method

        return train_curriculum_method(self, args, **kwargs)


__all__ = [
    "ThoughtSlotsMethod",
    "CurriculumMethod",
    "FrozenModelMethod",
    "Method",
    "ProcessorLM",
    "PromptedLM",
    "Runner",
    "default_device",
    "load_evaluated_lm",
    "load_with_processor",
]
