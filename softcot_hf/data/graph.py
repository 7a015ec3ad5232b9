"""ProsQA (Coconut paper): which of two concepts an entity is, over a random graph of "every X is a Y" rules."""

from pathlib import Path

from .answers import TextAnswer
from .sources import SPLIT_FILES, download, read_coconut_json
from .task import Row, Task

PROSQA_URL = "https://raw.githubusercontent.com/facebookresearch/coconut/main/data/prosqa_{split}.json"


def _prosqa_remote(split: str) -> list[Row]:
    return read_coconut_json(download(PROSQA_URL.format(split=SPLIT_FILES[split])))


def _prosqa_local(data_dir: Path, split: str) -> list[Row]:
    return read_coconut_json(data_dir / f"prosqa_{SPLIT_FILES[split]}.json")


TASKS = (
    Task(
        name="prosqa",
        source=PROSQA_URL.format(split="{train,valid,test}"),
        layout="prosqa_train.json, prosqa_valid.json, prosqa_test.json (Coconut format)",
        splits=("train", "validation", "test"),
        answer=TextAnswer(),
        read_remote=_prosqa_remote,
        read_local=_prosqa_local,
    ),
)
