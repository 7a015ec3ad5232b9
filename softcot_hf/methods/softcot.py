"""SoftCoT (Xu et al., ACL 2025): a frozen assistant writes soft thoughts that a trained projection puts into the
thought slots of a frozen backbone's prompt. The artifact: the projection (`SoftCoTForCausalLM`) and its processor."""

from dataclasses import dataclass, field
from typing import Literal

import torch
from transformers import PreTrainedModel

from .. import checks
from ..data import Task, get_task
from ..data.prompts import WITH_THOUGHTS, prompt_preset
from ..modeling import SoftCoTForCausalLM
from ..processing_softcot import (
    ASSISTANT_TEMPLATE_FIELDS,
    DEFAULT_ASSISTANT_TEMPLATE,
    SoftCoTProcessor,
    check_template,
)
from ..training.arguments import ThoughtSlotsTrainingArguments
from ..training.softcot_training import load_frozen
from .base import ThoughtSlotsMethod


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
    assistant_template: str = field(
        default=DEFAULT_ASSISTANT_TEMPLATE,
        metadata={"help": "the assistant's prompt, with {question} and {num_thought_tokens}"},
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
        check_template(checks.flag(self, "assistant_template"), self.assistant_template, ASSISTANT_TEMPLATE_FIELDS)
        need = "a prompt with {question} (and optionally {num_thought_tokens})"
        checks.require(self, "assistant_template", "{question}" in self.assistant_template, need)
        super().__post_init__()
        if self.prompt_preset is not None:  # read now: a bad file is a usage error, not a crash after loading models
            prompt_preset(self.prompt_preset, get_task(self.task).answer.family)


class SoftCoT(ThoughtSlotsMethod):
    name = "softcot"
    title = "SoftCoT"
    prompt_template = WITH_THOUGHTS
    arguments = SoftCoTTrainingArguments
    artifact_hint = "a SoftCoT folder or Hub id (the projection and its processor)"
    artifact_model_type = "softcot"
    thoughts_at_load = True  # N may change after training: the projection maps each thought on its own

    def load_artifact(self, name_or_path, load_kwargs):
        """The model (with `num_thought_tokens` in `load_kwargs`: another N than the trained one) and its processor,
        whose N always follows the model's config, so the two cannot disagree."""
        model, processor = super().load_artifact(name_or_path, load_kwargs)
        processor.num_thought_tokens = model.config.num_thought_tokens
        return model, processor

    def build(self, args: SoftCoTTrainingArguments, task: Task, dtype: torch.dtype):
        backbone, backbone_tokenizer = load_frozen("backbone", args.backbone, dtype)
        assistant, assistant_tokenizer = load_frozen("assistant", args.assistant, dtype)
        model = SoftCoTForCausalLM.from_assistant_and_backbone(
            assistant,
            backbone,
            num_thought_tokens=args.num_thought_tokens,
            assistant_tokenizer=assistant_tokenizer,
            backbone_tokenizer=backbone_tokenizer,
            projection_type=args.projection_type,
        )
        if args.projection_dtype == "bf16":
            model.projection.to(torch.bfloat16)
        return model, self.processor(assistant_tokenizer, backbone_tokenizer, task, args), backbone_tokenizer

    def processor(self, assistant_tokenizer, backbone_tokenizer, task: Task, args) -> SoftCoTProcessor:
        """The processor a run with `args` trains and saves with: its prompt preset, else the assistant template and
        this method's backbone prompt for the task."""
        if args.prompt_preset is None:
            prompts = {
                "assistant_template": args.assistant_template,
                "backbone_template": self.build_prompt(task, "{question}"),
            }
        else:
            prompts = prompt_preset(args.prompt_preset, task.answer.family).processor_kwargs()
        return SoftCoTProcessor(
            assistant_tokenizer, backbone_tokenizer, num_thought_tokens=args.num_thought_tokens, **prompts
        )

    def target_format(self, args: SoftCoTTrainingArguments, task: Task) -> tuple[str | None, str | None]:
        if args.prompt_preset is None:
            return None, None
        preset = prompt_preset(args.prompt_preset, task.answer.family)
        return preset.answer_template, preset.step_template

    def example_processor(self, task, tokenizers, args=None):
        return self.processor(tokenizers["assistant"], tokenizers["backbone"], task, args)

    def example_prompts(self, task, question, tokenizers, args=None):
        processor = self.example_processor(task, tokenizers, args)
        return {
            "assistant": processor.assistant_prompt_ids(question),
            "backbone": processor.backbone_prompt_ids(question),
        }

    def precompute(self, model: PreTrainedModel, examples: list[dict], collator, args) -> torch.Tensor | None:
        """The assistant's states at the placeholders, computed once (it is frozen): (num_examples, N, d_assistant)."""
        if not args.assistant_cache:
            return None
        from ..training.assistant_cache import load_or_compute_assistant_states
        from ..training.engines import gathered

        rows = [example["assistant_input_ids"] for example in examples]
        # ZeRO-3 partitions the assistant as it loads: gather it whole (on every process at once) for the while.
        # With a cache dir: rank 0 writes it, the others read it.
        with gathered(list(model.assistant.parameters())), args.main_process_first(local=False):
            states, _, _ = load_or_compute_assistant_states(
                model, rows, collator.assistant_pad_token_id, args.assistant_cache_dir, batch_size=args.eval_batch_size
            )
        return states
