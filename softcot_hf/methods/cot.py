"""CoT (the Coconut paper's baseline): the LM fine-tuned on question, written rationale and answer."""

from ..training.arguments import CurriculumTrainingArguments
from ..training.coconut_curriculum import RationaleExamples
from .base import CurriculumMethod


class CoT(CurriculumMethod):
    name = "cot"
    title = "CoT"
    arguments = CurriculumTrainingArguments  # Coconut's data and optimisation; the curriculum options do not apply
    staged = False
    with_steps = True

    def encoder(self, tokenizer, args) -> RationaleExamples:
        return RationaleExamples(tokenizer, with_steps=self.with_steps)
