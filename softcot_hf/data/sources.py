"""Reading the files of the original layouts, locally or downloaded (cached by `datasets`)."""

import json
from pathlib import Path

import datasets


def download(url: str, extract: bool = False) -> Path:
    """A local, cached copy of `url` (of its extracted folder when `extract`); honours `HF_DATASETS_OFFLINE`."""
    manager = datasets.DownloadManager()
    return Path(manager.download_and_extract(url) if extract else manager.download(url))


def read_json(path: Path) -> list | dict:
    """A JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_jsonl(path: Path) -> list[dict]:
    """A JSON Lines file (blank lines skipped)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# File stems of the train / validation / test splits in Coconut's data and iCoT's GSM8k-Aug.
SPLIT_FILES = {"train": "train", "validation": "valid", "test": "test"}


def read_coconut_json(path: Path) -> list[dict]:
    """Coconut's `[{"question", "steps", "answer", ...graph fields}]`, keeping those three fields."""
    return [
        {"question": record["question"], "steps": record["steps"], "answer": record["answer"]}
        for record in read_json(path)
    ]
