"""The evaluated methods: each loads its artifact and turns a batch of questions into generated texts.

Every method exposes `generate(questions, **generate_kwargs) -> (texts, generated_token_counts)`, one entry per
returned sequence (batch * num_return_sequences, grouped by question). What each one loads:

| method | artifact | prompt |
|---|---|---|
| zero_shot_cot | `backbone`: a causal LM | `task.build_prompt(q, "zero_shot_cot")`, chat template |
| assist_cot | `assistant` and `backbone` LMs | assistant hints (greedy) pasted into the `{thoughts}` slot |
| lora | a peft LoRA adapter folder | `task.build_prompt(q, "lora")`, chat template |
| softcot, cot_unk | a SoftCoT / CoT-Unk folder and its processor | the processor's saved templates |
| coconut | a CoconutForCausalLM folder | `task.build_prompt(q, "coconut")` (question + newline) |
| cot, no_cot | a fine-tuned causal LM | `task.build_prompt(q, "cot")` (question + newline) |
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoProcessor, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ..data import Task
from ..processing_softcot import DEFAULT_ASSISTANT_TEMPLATE
from .generation import encode_prompts, generate_texts

METHODS = ("zero_shot_cot", "cot_unk", "assist_cot", "lora", "coconut", "softcot", "cot", "no_cot")
# Methods whose models were fine-tuned on `question + "\n"` without a chat template (the Coconut curriculum's format).
RAW_PROMPT_METHODS = ("coconut", "cot", "no_cot")


@dataclass
class PromptedLM:
    """A causal LM (or a peft / Coconut model) prompted with `task.build_prompt(question, prompt_method)`."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    task: Task
    prompt_method: str

    def prompts(self, questions: list[str]) -> list[str]:
        return [self.task.build_prompt(question, self.prompt_method) for question in questions]

    def generate(self, questions: list[str], **generate_kwargs) -> tuple[list[str], list[int]]:
        chat = self.prompt_method not in RAW_PROMPT_METHODS
        inputs = encode_prompts(self.tokenizer, self.prompts(questions), chat=chat)
        return generate_texts(self.model, inputs, self.tokenizer, **generate_kwargs)


@dataclass
class ProcessorLM:
    """A SoftCoT or CoT-Unk model whose processor builds the inputs: `model.generate(**processor(questions))`."""

    model: PreTrainedModel
    processor: Any  # SoftCoTProcessor

    def generate(self, questions: list[str], **generate_kwargs) -> tuple[list[str], list[int]]:
        return generate_texts(
            self.model, self.processor(questions), self.processor.backbone_tokenizer, **generate_kwargs
        )


@dataclass
class AssistCoT:
    """
    Zero-Shot Assist-CoT: the assistant reads the SoftCoT assistant prompt and *generates* `num_hint_tokens` hard
    tokens (greedy), which are pasted as text into the `{thoughts}` slot of the backbone's prompt.
    """

    assistant: PromptedLM
    backbone: PromptedLM
    num_hint_tokens: int = 32

    def hints(self, questions: list[str]) -> list[str]:
        """The assistant's greedy hints, one string per question."""
        prompts = [
            DEFAULT_ASSISTANT_TEMPLATE.format(question=question, num_thought_tokens=self.num_hint_tokens)
            for question in questions
        ]
        inputs = encode_prompts(self.assistant.tokenizer, prompts, chat=True)
        texts, _ = generate_texts(
            self.assistant.model,
            inputs,
            self.assistant.tokenizer,
            do_sample=False,
            max_new_tokens=self.num_hint_tokens,
        )
        return texts

    def generate(self, questions: list[str], **generate_kwargs) -> tuple[list[str], list[int]]:
        """The backbone's answers; the counts are the backbone's generated tokens (hints not included)."""
        task = self.backbone.task
        prompts = [
            task.build_prompt(question, "assist_cot", thoughts=hint)
            for question, hint in zip(questions, self.hints(questions), strict=True)
        ]
        inputs = encode_prompts(self.backbone.tokenizer, prompts, chat=True)
        return generate_texts(self.backbone.model, inputs, self.backbone.tokenizer, **generate_kwargs)


def _is_loaded(model: Any) -> bool:
    return model is not None and not isinstance(model, str | Path)


def _load_lm(name_or_path: str | Path, device, load_kwargs: dict) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    model = AutoModelForCausalLM.from_pretrained(str(name_or_path), **load_kwargs)
    return model.eval().to(device), AutoTokenizer.from_pretrained(str(name_or_path))


def load_method(
    method: str,
    task: Task,
    model: PreTrainedModel | str | Path | None = None,
    tokenizer: Any = None,
    backbone: str | Path | None = None,
    assistant: str | Path | None = None,
    num_hint_tokens: int = 32,
    device: str | torch.device | None = None,
    **load_kwargs,
) -> PromptedLM | ProcessorLM | AssistCoT:
    """
    The runner of `method` on `task`. `model` is the method's artifact (a folder or Hub id), or an already-loaded
    model with its `tokenizer` (a `SoftCoTProcessor` for softcot/cot_unk). zero_shot_cot reads `backbone` (or
    `model`), assist_cot reads `assistant` and `backbone`. Models loaded here go to `device` (default: CUDA when
    available); `load_kwargs` (e.g. `dtype`) go to `from_pretrained`.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if method == "assist_cot":
        if assistant is None or backbone is None:
            raise ValueError("assist_cot needs both assistant= and backbone= (Hub ids or paths of causal LMs).")
        return AssistCoT(
            PromptedLM(*_load_lm(assistant, device, load_kwargs), task, "assist_cot"),
            PromptedLM(*_load_lm(backbone, device, load_kwargs), task, "assist_cot"),
            num_hint_tokens=num_hint_tokens,
        )
    if method == "zero_shot_cot":
        model = backbone if backbone is not None else model
    if model is None:
        needed = "backbone=" if method == "zero_shot_cot" else "model="
        raise ValueError(f"{method} needs {needed}: the artifact folder or Hub id to evaluate.")
    if _is_loaded(model):
        if tokenizer is None:
            kind = "SoftCoTProcessor" if method in ("softcot", "cot_unk") else "tokenizer"
            raise ValueError(f"An already-loaded model needs tokenizer= (its {kind}) to build prompts and decode.")
        loaded = model.eval()
    elif method in ("softcot", "cot_unk"):
        loaded = AutoModelForCausalLM.from_pretrained(str(model), **load_kwargs).eval().to(device)
        tokenizer = AutoProcessor.from_pretrained(str(model))
    elif method == "lora":
        from peft import AutoPeftModelForCausalLM

        loaded = AutoPeftModelForCausalLM.from_pretrained(str(model), **load_kwargs).eval().to(device)
        tokenizer = AutoTokenizer.from_pretrained(str(model))
    else:
        loaded, tokenizer = _load_lm(model, device, load_kwargs)
    if method in ("softcot", "cot_unk"):
        return ProcessorLM(loaded, tokenizer)
    return PromptedLM(loaded, tokenizer, task, method)
