"""Zero-Shot CoT-Unk (the SoftCoT paper's baseline): SoftCoT's prompt and slots, no assistant; the slots hold N
trainable embeddings (prompt tuning). The artifact is the embeddings (`CoTUnkForCausalLM`) and its processor."""

import torch

from ..data import Task
from ..data.prompts import WITH_THOUGHTS
from ..modeling import CoTUnkForCausalLM
from ..processing_softcot import SoftCoTProcessor
from ..training.arguments import ThoughtSlotsTrainingArguments
from ..training.softcot_training import load_frozen
from .base import ThoughtSlotsMethod


class CoTUnk(ThoughtSlotsMethod):
    name = "cot_unk"
    title = "Zero-Shot CoT-Unk"
    prompt_template = WITH_THOUGHTS
    arguments = ThoughtSlotsTrainingArguments
    artifact_hint = "a CoT-Unk folder or Hub id (the slot embeddings and their processor)"
    artifact_model_type = "cot_unk"

    def build(self, args: ThoughtSlotsTrainingArguments, task: Task, dtype: torch.dtype):
        backbone, tokenizer = load_frozen("backbone", args.backbone, dtype)
        model = CoTUnkForCausalLM.from_backbone(
            backbone, num_thought_tokens=args.num_thought_tokens, backbone_tokenizer=tokenizer
        )
        return model, self.processor(tokenizer, task, args), tokenizer

    def processor(self, tokenizer, task: Task, args) -> SoftCoTProcessor:
        """The processor a run with `args` trains and saves with (no assistant side)."""
        return SoftCoTProcessor(
            None,
            tokenizer,
            num_thought_tokens=args.num_thought_tokens,
            backbone_template=self.build_prompt(task, "{question}"),
        )

    def example_processor(self, task, tokenizers, args=None):
        return self.processor(tokenizers["backbone"], task, args)

    def example_prompts(self, task, question, tokenizers, args=None):
        return {"backbone": self.example_processor(task, tokenizers, args).backbone_prompt_ids(question)}
