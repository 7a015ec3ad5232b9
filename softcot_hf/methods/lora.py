"""LoRA fine-tuning (the SoftCoT paper's baseline): a peft LoRA adapter on the backbone, trained on the same data
with the Zero-Shot CoT prompt. The artifact is the adapter folder."""

import peft
import torch
from transformers import AutoTokenizer

from ..data import Task
from ..data.prompts import ZERO_SHOT
from ..modeling.weights_record import verify_weights
from ..training.method_arguments import LoRATrainingArguments
from ..training.softcot_training import load_frozen
from .base import FrozenModelMethod


class LoRA(FrozenModelMethod):
    name = "lora"
    title = "LoRA fine-tuning"
    prompt_template = ZERO_SHOT
    arguments = LoRATrainingArguments
    artifact_hint = "a peft LoRA adapter folder or Hub id"

    def load_artifact(self, name_or_path, load_kwargs):
        verify_weights(str(name_or_path), **load_kwargs)  # the adapter's SHA-256 record, written when it was trained
        model = peft.AutoPeftModelForCausalLM.from_pretrained(str(name_or_path), **load_kwargs)
        return model.eval(), AutoTokenizer.from_pretrained(str(name_or_path))

    def build(self, args: LoRATrainingArguments, task: Task, dtype: torch.dtype):
        backbone, tokenizer = load_frozen("backbone", args.backbone, dtype)
        backbone.config.use_cache = False
        return args.wrap_in_lora(backbone), None, tokenizer

    def frozen_model(self, model):
        return model.get_base_model()
