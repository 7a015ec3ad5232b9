"""Zero-Shot Assist-CoT (the SoftCoT paper's baseline): the assistant *generates* hard-token hints from the SoftCoT
assistant prompt, and they are pasted as text into the backbone's `{thoughts}` slot. Nothing to train."""

from dataclasses import dataclass

from transformers import GenerationConfig

from ..data import Task
from ..data.prompts import WITH_THOUGHTS
from ..generation import encode_prompts, generate_texts, prompt_ids
from ..processing_softcot import DEFAULT_ASSISTANT_TEMPLATE
from .base import Method, PromptedLM, Runner, default_device, load_evaluated_lm


@dataclass
class AssistCoTRunner(Runner):
    """The assistant's greedy hints (`num_hint_tokens` tokens), then the backbone's answers."""

    assistant: PromptedLM
    backbone: PromptedLM
    num_hint_tokens: int = 32

    @property
    def generation_config(self) -> GenerationConfig:
        return self.backbone.generation_config

    def hints(self, questions: list[str]) -> list[str]:
        """The assistant's greedy hints, one string per question."""
        prompts = [
            DEFAULT_ASSISTANT_TEMPLATE.format(question=question, num_thought_tokens=self.num_hint_tokens)
            for question in questions
        ]
        assistant = self.assistant
        inputs = encode_prompts(assistant.tokenizer, prompts, chat=True)
        hints = {"do_sample": False, "max_new_tokens": self.num_hint_tokens}
        return generate_texts(assistant.model, inputs, assistant.tokenizer, **hints)[0]

    def generate(self, questions: list[str], **generate_kwargs) -> tuple[list[str], list[int]]:
        """The backbone's answers; the counts are the backbone's generated tokens (hints not included)."""
        backbone = self.backbone
        prompts = [
            backbone.method.build_prompt(backbone.task, question, thoughts=hint)
            for question, hint in zip(questions, self.hints(questions), strict=True)
        ]
        inputs = encode_prompts(backbone.tokenizer, prompts, chat=True)
        return generate_texts(backbone.model, inputs, backbone.tokenizer, **generate_kwargs)


class AssistCoT(Method):
    name = "assist_cot"
    title = "Zero-Shot Assist-CoT"
    prompt_template = WITH_THOUGHTS

    def example_prompts(self, task, question, tokenizers, args=None):
        """The assistant's hint prompt (32 hint tokens) and the backbone's, with a stand-in where the hints go."""
        hint_prompt = DEFAULT_ASSISTANT_TEMPLATE.format(question=question, num_thought_tokens=32)
        backbone_prompt = self.build_prompt(task, question, thoughts="<the assistant's hints>")
        return {
            "assistant": prompt_ids(tokenizers["assistant"], hint_prompt, chat=True),
            "backbone": prompt_ids(tokenizers["backbone"], backbone_prompt, chat=True),
        }

    def load_runner(self, task: Task, model=None, tokenizer=None, *, backbone=None, assistant=None, **kwargs):
        """Loads `assistant` and `backbone` (Hub ids or folders of causal LMs)."""
        if assistant is None or backbone is None:
            raise ValueError("assist_cot needs both assistant= and backbone= (Hub ids or paths of causal LMs).")
        device = kwargs.pop("device", None) or default_device()
        num_hint_tokens = kwargs.pop("num_hint_tokens", 32)
        sides = []
        for name_or_path in (assistant, backbone):
            loaded, side_tokenizer = load_evaluated_lm(name_or_path, kwargs)
            sides.append(PromptedLM(loaded.to(device), side_tokenizer, task, self))
        return AssistCoTRunner(*sides, num_hint_tokens=num_hint_tokens)
