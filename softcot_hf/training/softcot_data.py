"""Training data of the SoftCoT pipeline (softcot, cot_unk, lora): targets, tokenized examples and the collator.

All three methods train on the same rows of `task.load("train", data_dir)`: the backbone prompt is the task's prompt
of the method (`method.build_prompt(task, question)`, rendered like at evaluation time) and the target is the
rationale steps followed by the answer written as the task's instruction asks for it ("The answer is 18.").
"""

from collections.abc import Callable
from dataclasses import dataclass

import datasets
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from ..data.answers import BooleanAnswer, ChoiceAnswer, NumberAnswer, TextAnswer
from ..data.task import Task
from ..generation import pad_token_id, prompt_ids
from ..processing_softcot import SoftCoTProcessor, left_pad


def answer_sentence(task: Task, answer: str) -> str:
    """The final answer written as `task.answer.instruction` asks: "The answer is 18." / "(B)" / "yes" / "### ..."."""
    fmt = task.answer
    if isinstance(fmt, ChoiceAnswer):
        return f"The answer is ({answer})."
    if isinstance(fmt, NumberAnswer | BooleanAnswer):
        return f"The answer is {answer}."
    if isinstance(fmt, TextAnswer):
        return f"### {answer}"
    raise TypeError(f"No answer sentence for the answer format {type(fmt).__name__} of task {task.name!r}.")


def training_target(
    task: Task, steps: list[str], answer: str, answer_template: str | None = None, step_template: str | None = None
) -> str:
    """Rationale steps, one per line (each written by `step_template` with `{k}` counting from 1 and `{step}`, else as
    it is), then the answer sentence (`answer_template` with `{answer}`, else the task's). Checked: the task's
    extractor reads `answer` back."""
    final = answer_sentence(task, answer) if answer_template is None else answer_template.format(answer=answer)
    if step_template is not None:
        steps = [step_template.format(k=k, step=step) for k, step in enumerate(steps, 1)]
    target = "\n".join([*steps, final])
    if not task.score(target, answer):
        raise ValueError(
            f"The {task.name} training target {target!r} does not score as correct against its gold answer "
            f"{answer!r}: the answer sentence and the task's answer extraction disagree."
        )
    return target


def training_rows(
    task: Task,
    split_data: datasets.Dataset,
    limit: int | None = None,
    answer_template: str | None = None,
    step_template: str | None = None,
) -> tuple[list[str], list[str]]:
    """(questions, targets) of the first `limit` rows (see `training_target`). Every row needs rationale steps: these
    methods learn to reason in text after the thoughts, as in the SoftCoT paper."""
    if limit is not None:
        split_data = split_data.select(range(min(limit, len(split_data))))
    missing = [index for index, steps in enumerate(split_data["steps"]) if not steps]
    if missing:
        raise ValueError(
            f"{len(missing)} of {len(split_data)} {task.name} training examples have no rationale steps (first: row "
            f"{missing[0]}); softcot, cot_unk and lora train on rationale + answer. Use a task whose training split "
            "has rationales (e.g. gsm8k, asdiv_aug, aqua), or add steps to the data."
        )
    targets = [
        training_target(task, steps, answer, answer_template, step_template)
        for steps, answer in zip(split_data["steps"], split_data["answer"], strict=True)
    ]
    return list(split_data["question"]), targets


def tokenize_with_processor(
    processor: SoftCoTProcessor, questions: list[str], targets: list[str]
) -> list[dict[str, list[int]]]:
    """One unpadded example per row, as the processor builds them: `input_ids`, `labels` and, when the processor has
    an assistant tokenizer, `assistant_input_ids`."""
    examples = []
    for question, target in tqdm(list(zip(questions, targets, strict=True)), desc="tokenizing", leave=False):
        row = processor([question], answers=[target], return_tensors=None)
        example = {"input_ids": row["input_ids"][0], "labels": row["labels"][0]}
        if "assistant_input_ids" in row:
            example["assistant_input_ids"] = row["assistant_input_ids"][0]
        examples.append(example)
    return examples


def tokenize_plain(
    tokenizer: PreTrainedTokenizerBase,
    build_prompt: Callable[[Task, str], str],
    task: Task,
    questions: list[str],
    targets: list[str],
) -> list[dict[str, list[int]]]:
    """LoRA examples: the method's prompt (`build_prompt(task, question)`) rendered as the evaluation renders it (chat
    template when there is one), then the target and EOS; labels on the target and EOS only."""
    examples = []
    for question, target in tqdm(list(zip(questions, targets, strict=True)), desc="tokenizing", leave=False):
        prompt = prompt_ids(tokenizer, build_prompt(task, question), chat=True)
        answer = tokenizer(target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        examples.append({"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer})
    return examples


class TrainExamples(torch.utils.data.Dataset):
    """Tokenized examples; with `assistant_states` (num_examples, N, assistant_hidden) each example carries its cached
    assistant states instead of its assistant tokens."""

    def __init__(self, examples: list[dict[str, list[int]]], assistant_states: torch.Tensor | None = None):
        if assistant_states is not None and len(assistant_states) != len(examples):
            raise ValueError(f"{len(assistant_states)} cached assistant states for {len(examples)} examples.")
        self.examples = examples
        self.assistant_states = assistant_states

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict:
        example = dict(self.examples[index])
        if self.assistant_states is not None:
            example.pop("assistant_input_ids", None)
            example["assistant_hidden_states"] = self.assistant_states[index]
        return example


@dataclass
class LeftPadCollator:
    """Left-pads a list of examples into a batch: `input_ids`, `attention_mask`, `labels` (batch, length) and either
    `assistant_input_ids`/`assistant_attention_mask` (batch, assistant_length) or `assistant_hidden_states`
    (batch, N, assistant_hidden)."""

    pad_token_id: int
    assistant_pad_token_id: int | None = None

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        rows = [feature["input_ids"] for feature in features]
        batch = {
            "input_ids": left_pad(rows, self.pad_token_id),
            "attention_mask": left_pad([[1] * len(row) for row in rows], 0),
            "labels": left_pad([feature["labels"] for feature in features], -100),
        }
        if "assistant_hidden_states" in features[0]:
            batch["assistant_hidden_states"] = torch.stack(
                [feature["assistant_hidden_states"] for feature in features]
            )
        elif "assistant_input_ids" in features[0]:
            assistant_rows = [feature["assistant_input_ids"] for feature in features]
            batch["assistant_input_ids"] = left_pad(assistant_rows, self.assistant_pad_token_id)
            batch["assistant_attention_mask"] = left_pad([[1] * len(row) for row in assistant_rows], 0)
        return batch


def collator_for(processor: SoftCoTProcessor | None, tokenizer: PreTrainedTokenizerBase) -> LeftPadCollator:
    """The collator padding with the ids the processor uses (never a thought token), or the tokenizer's pad/EOS."""
    if processor is None:
        return LeftPadCollator(pad_token_id(tokenizer))
    return LeftPadCollator(processor.backbone_pad_token_id, processor.assistant_pad_token_id)


__all__ = [
    "LeftPadCollator",
    "TrainExamples",
    "answer_sentence",
    "collator_for",
    "tokenize_plain",
    "tokenize_with_processor",
    "training_rows",
    "training_target",
]
