"""CODI's data: each example `{"question", "steps", "answer"}` becomes a teacher sequence and a student sequence whose
last token before the answer is aligned (CODI distils the states at that token)::

    teacher: question\\n step_1\\n ... step_k\\n ### answer <eos>                labels: steps, ### answer <eos>
    student: question\\n <|start-latent|> <|latent|> * K <|end-latent|> ### answer <eos>      labels: ### answer <eos>

The distilled position is the last token of the answer marker `###` in both (the paper's colon of "The answer is:").
The teacher is the CoT baseline's layout (`RationaleExamples`), the student Coconut's last stage with K thoughts, so
the artifact answers as a Coconut model does. The marker and the answer are tokenized apart (`###`, then
` answer`) so that the marker's last token is known; with GPT-2's tokenizer that is the same ids as `### answer`.
"""

import torch
from transformers import PreTrainedTokenizerBase

from ..modeling.modeling_coconut import END_LATENT_TOKEN, LATENT_TOKEN, START_LATENT_TOKEN
from .coconut_curriculum import _eos_id, _special_id, collate_right_padded

ANSWER_MARKER = "###"


class CodiExamples:
    """Encodes an example as CODI's teacher and student sequences with K continuous thoughts (see the module
    docstring); the stage and epoch do not matter."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, num_latent_thoughts: int):
        if num_latent_thoughts < 1:
            raise ValueError(f"CODI needs 1 or more thoughts; got num_latent_thoughts={num_latent_thoughts}.")
        self.tokenizer = tokenizer
        self.num_latent_thoughts = num_latent_thoughts
        self.start_id = _special_id(tokenizer, START_LATENT_TOKEN)
        self.end_id = _special_id(tokenizer, END_LATENT_TOKEN)
        self.latent_id = _special_id(tokenizer, LATENT_TOKEN)
        self.eos_id = _eos_id(tokenizer)
        self.marker = self._ids(ANSWER_MARKER)

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def encode(self, example: dict, stage: int = 0, epoch: int = 0, index: int = 0) -> dict[str, list[int] | int]:
        """`teacher_input_ids`, `teacher_labels`, `teacher_position` and `input_ids`, `labels`, `position` (the
        student's): the ids, labels (-100 where nothing is predicted) and distilled column of each sequence."""
        question = self._ids(example["question"] + "\n")
        steps = [token for step in example["steps"] for token in self._ids(step + "\n")]
        answer = self.marker + self._ids(" " + str(example["answer"])) + [self.eos_id]
        thoughts = [self.start_id] + [self.latent_id] * self.num_latent_thoughts + [self.end_id]
        student_prefix = question + thoughts
        return {
            "teacher_input_ids": question + steps + answer,
            "teacher_labels": [-100] * len(question) + steps + answer,
            "teacher_position": len(question) + len(steps) + len(self.marker) - 1,
            "input_ids": student_prefix + answer,
            "labels": [-100] * len(student_prefix) + answer,
            "position": len(student_prefix) + len(self.marker) - 1,
        }


def collate_codi(features: list[dict], pad_token_id: int) -> dict[str, torch.Tensor]:
    """B encoded examples -> one right-padded batch of 2B rows, the B teacher rows first: `input_ids`,
    `attention_mask`, `labels` (2B, max_length) and `distill_positions` (2B,)."""
    rows = [
        {"input_ids": f["teacher_input_ids"], "labels": f["teacher_labels"], "position": f["teacher_position"]}
        for f in features
    ] + [{"input_ids": f["input_ids"], "labels": f["labels"], "position": f["position"]} for f in features]
    batch = collate_right_padded(rows, pad_token_id)
    batch["distill_positions"] = torch.tensor([row["position"] for row in rows], dtype=torch.long)
    return batch


__all__ = ["ANSWER_MARKER", "CodiExamples", "collate_codi"]
