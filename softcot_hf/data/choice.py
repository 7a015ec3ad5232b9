"""Multiple choice: AQuA (options A-E) and Date Understanding (options A-F, BIG-Bench-Hard's 250), SoftCoT paper.

The options are appended to the question as "Answer Choices: (A) ... (B) ..." (the zero-shot CoT layout), and the
gold answer is the option letter.
"""

import random
import re
from pathlib import Path

import datasets

from .answers import ChoiceAnswer
from .sources import download, read_json, read_jsonl
from .task import Row, Task

AQUA_HUB_ID = "deepmind/aqua_rat"
# The SoftCoT paper's five DU accuracies are whole numbers of correct answers out of 5 x 250: BIG-Bench-Hard's 250
# questions (options fixed in the input) are the default; BIG-bench's 369 (`bigbench_369=True`) are an option.
DATE_UNDERSTANDING_URL = (  # checked against commit 9ee07bd
    "https://raw.githubusercontent.com/suzgunmirac/BIG-Bench-Hard/main/bbh/date_understanding.json"
)
BIGBENCH_DATE_UNDERSTANDING_URL = (
    "https://raw.githubusercontent.com/google/BIG-bench/main/bigbench/benchmark_tasks/date_understanding/task.json"
)
# BBH's file name, and the name ../shared/data gives the same file.
BBH_DATE_UNDERSTANDING_FILES = ("date_understanding.json", "bbh_date_understanding.json")
# BIG-bench lists the correct option first; shuffle each example's options with this seed so "A" means nothing.
DATE_UNDERSTANDING_SEED = 0

_AQUA_OPTION = re.compile(r"\s*([A-E])\s*\)\s*(.*)", re.DOTALL)
_BBH_OPTION = re.compile(r"^\(([A-F])\)\s*(.*)$", re.MULTILINE)


def with_choices(question: str, options: list[str]) -> str:
    """The question followed by "Answer Choices: (A) ... (B) ...", options lettered in order."""
    lettered = " ".join(f"({chr(ord('A') + i)}) {option}" for i, option in enumerate(options))
    return f"{question.strip()} Answer Choices: {lettered}"


# AQuA-RAT: deepmind/AQuA layout, JSON Lines {train,dev,test}.json with "A)..." options and a "correct" letter.
_AQUA_FILES = {"train": "train.json", "validation": "dev.json", "test": "test.json"}


def from_aqua_record(record: dict) -> Row:
    """`{"question", "options": ["A)5", ...], "rationale", "correct": "A"}` -> question with choices, steps, letter."""
    options = [_AQUA_OPTION.fullmatch(option)[2].strip() for option in record["options"]]
    steps = [line.strip() for line in record["rationale"].splitlines() if line.strip()]
    return {"question": with_choices(record["question"], options), "steps": steps, "answer": record["correct"]}


def _aqua_remote(split: str) -> list[Row]:
    return [from_aqua_record(record) for record in datasets.load_dataset(AQUA_HUB_ID, "raw", split=split)]


def _aqua_local(data_dir: Path, split: str) -> list[Row]:
    return [
        from_aqua_record(record)
        for record in read_jsonl(data_dir / _AQUA_FILES[split], ("question", "options", "rationale", "correct"))
    ]


# Date Understanding: the BIG-bench task file, {"examples": [{"input", "target_scores": {option: 0 or 1}}]}.
def read_bigbench_task(path: Path) -> list[Row]:
    """BIG-bench multiple-choice examples with their options shuffled (seeded) and lettered; no rationale."""
    rng = random.Random(DATE_UNDERSTANDING_SEED)
    rows = []
    for example in read_json(path)["examples"]:
        options = list(example["target_scores"].items())
        rng.shuffle(options)
        correct = next(i for i, (_, score) in enumerate(options) if score == 1)
        question = with_choices(example["input"], [option for option, _ in options])
        rows.append({"question": question, "steps": [], "answer": chr(ord("A") + correct)})
    return rows


# BIG-Bench-Hard: {"examples": [{"input": "...\nOptions:\n(A) ..\n(F) ..", "target": "(B)"}]}.
def read_bbh_task(path: Path) -> list[Row]:
    """BIG-Bench-Hard multiple-choice examples, options in their fixed order, in our "Answer Choices:" layout."""
    rows = []
    for example in read_json(path)["examples"]:
        question, _, listed = example["input"].partition("\nOptions:")
        options = _BBH_OPTION.findall(listed.strip())
        if not options or [letter for letter, _ in options] != [chr(ord("A") + i) for i in range(len(options))]:
            raise ValueError(
                f"{path}: an example without options (A), (B), ... after 'Options:': {example['input']!r}"
            )
        answer = example["target"].strip("() ")
        rows.append({"question": with_choices(question, [text for _, text in options]), "steps": [], "answer": answer})
    return rows


def _date_understanding_remote(split: str, bigbench_369: bool = False) -> list[Row]:
    if bigbench_369:
        return read_bigbench_task(download(BIGBENCH_DATE_UNDERSTANDING_URL))
    return read_bbh_task(download(DATE_UNDERSTANDING_URL))


def _date_understanding_local(data_dir: Path, split: str, bigbench_369: bool = False) -> list[Row]:
    """BIG-Bench-Hard's file (either name), or with `bigbench_369=True` BIG-bench's task.json."""
    if bigbench_369:
        return read_bigbench_task(data_dir / "task.json")
    path = next((data_dir / n for n in BBH_DATE_UNDERSTANDING_FILES if (data_dir / n).is_file()), None)
    if path is None:
        raise FileNotFoundError(
            f"Found neither of {', '.join(BBH_DATE_UNDERSTANDING_FILES)} (BIG-Bench-Hard's 250 questions) in "
            f"{data_dir}; for BIG-bench's 369 in task.json, pass bigbench_369=True."
        )
    return read_bbh_task(path)


TASKS = (
    Task(
        name="aqua",
        source=AQUA_HUB_ID,
        layout="train.json, dev.json, test.json (JSON Lines)",
        splits=("train", "validation", "test"),
        answer=ChoiceAnswer("ABCDE"),
        read_remote=_aqua_remote,
        read_local=_aqua_local,
    ),
    Task(
        name="date_understanding",
        source=DATE_UNDERSTANDING_URL,
        layout="date_understanding.json (BIG-Bench-Hard; or task.json, BIG-bench's, with bigbench_369=True)",
        splits=("test",),
        answer=ChoiceAnswer("ABCDEF"),
        read_remote=_date_understanding_remote,
        read_local=_date_understanding_local,
    ),
)
