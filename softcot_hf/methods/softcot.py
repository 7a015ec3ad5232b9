"""SoftCoT (Xu et al., ACL 2025): a frozen assistant writes soft thoughts that a trained projection puts into the
thought slots of a frozen backbone's prompt. The artifact: the projection (`SoftCoTForCausalLM`) and its processor."""

import torch
from accelerate import PartialState
from transformers import PreTrainedModel

from ..data import Task
from ..data.prompts import WITH_THOUGHTS, prompt_preset
from ..modeling import SoftCoTForCausalLM
from ..processing_softcot import SoftCoTProcessor
from ..training.method_arguments import SoftCoTTrainingArguments
from ..training.softcot_training import load_frozen
from .base import ThoughtSlotsMethod


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
            prompts = {"backbone_template": self.build_prompt(task, "{question}")}
            if args.assistant_template is not None:  # else the processor's default
                prompts["assistant_template"] = args.assistant_template
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
        with gathered(list(model.assistant.parameters())), PartialState().main_process_first():
            states, _, _ = load_or_compute_assistant_states(
                model, rows, collator.assistant_pad_token_id, args.assistant_cache_dir, batch_size=args.eval_batch_size
            )
        return states
