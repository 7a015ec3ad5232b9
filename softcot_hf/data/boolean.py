"""True/false questions: StrategyQA (SoftCoT paper; yes/no) and ProntoQA (Coconut paper; True/False)."""

from pathlib import Path

from .answers import BooleanAnswer, TruthTextAnswer
from .sources import SPLIT_FILES, download, read_coconut_json, read_json
from .task import Row, Task

STRATEGYQA_URL = "https://storage.googleapis.com/ai2i/strategyqa/data/strategyqa_dataset.zip"
# The official train file; the second name is the same 2,290 records rebuilt from eladsegal/strategyqa's train + dev.
STRATEGYQA_FILES = ("strategyqa_train.json", "strategyqa_train_2290_official_order.json")
STRATEGYQA_TRAIN_FRACTION = 0.8
PRONTOQA_URL = (
    "https://raw.githubusercontent.com/michaelrizvi/coconut/8a939d7cf261dd18a6050222737131b2a44f6f5a/data/{file}"
)


# StrategyQA: SoftCoT trains on the first 80% of the official train file, in its order, and evaluates on the rest.
def split_strategyqa(records: list[dict], split: str) -> list[Row]:
    """The `split` part of the official train file; the facts are the steps and the answer is "yes" / "no"."""
    cut = int(len(records) * STRATEGYQA_TRAIN_FRACTION)
    part = records[:cut] if split == "train" else records[cut:]
    return [
        {"question": record["question"], "steps": record["facts"], "answer": "yes" if record["answer"] else "no"}
        for record in part
    ]


def _strategyqa_remote(split: str) -> list[Row]:
    return split_strategyqa(read_json(download(STRATEGYQA_URL, extract=True) / STRATEGYQA_FILES[0]), split)


def _strategyqa_local(data_dir: Path, split: str) -> list[Row]:
    path = next((data_dir / name for name in STRATEGYQA_FILES if (data_dir / name).exists()), None)
    if path is None:
        raise FileNotFoundError(f"Found neither of {', '.join(STRATEGYQA_FILES)} in {data_dir}.")
    return split_strategyqa(read_json(path), split)


# ProntoQA: Coconut's JSON list {"question", "steps", "answer": "True" | "False", ...graph fields} per split.
def _prontoqa_remote(split: str) -> list[Row]:
    return read_coconut_json(download(PRONTOQA_URL.format(file=f"prontoqa_{SPLIT_FILES[split]}.json")))


def _prontoqa_local(data_dir: Path, split: str) -> list[Row]:
    return read_coconut_json(data_dir / f"prontoqa_{SPLIT_FILES[split]}.json")


TASKS = (
    Task(
        name="strategyqa",
        source=STRATEGYQA_URL,
        layout=f"{STRATEGYQA_FILES[0]} (the official 2,290-record train file; or {STRATEGYQA_FILES[1]})",
        splits=("train", "test"),
        answer=BooleanAnswer("yes", "no"),
        read_remote=_strategyqa_remote,
        read_local=_strategyqa_local,
    ),
    Task(
        name="prontoqa",
        source=PRONTOQA_URL.format(file="prontoqa_{train,valid,test}.json"),
        layout="prontoqa_train.json, prontoqa_valid.json, prontoqa_test.json (Coconut format)",
        splits=("train", "validation", "test"),
        answer=TruthTextAnswer(),  # "True" / "False" written as Coconut writes it: "### True"
        read_remote=_prontoqa_remote,
        read_local=_prontoqa_local,
    ),
)
