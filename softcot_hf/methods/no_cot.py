"""No-CoT (the Coconut paper's baseline): the LM fine-tuned to answer right after the question."""

from dataclasses import dataclass

from .cot import CoT, CoTTrainingArguments


@dataclass
class NoCoTTrainingArguments(CoTTrainingArguments):
    """No-CoT fine-tuning: Coconut's data and optimisation, no rationale."""


class NoCoT(CoT):
    name = "no_cot"
    title = "No-CoT"
    arguments = NoCoTTrainingArguments
    with_steps = False
