"""Reading the files of the original layouts, locally or downloaded (cached by `datasets`)."""

import json
from collections.abc import Iterator
from pathlib import Path

import datasets


def download(url: str, extract: bool = False) -> Path:
    """A local, cached copy of `url` (of its extracted folder when `extract`); honours `HF_DATASETS_OFFLINE`."""
    manager = datasets.DownloadManager()
    return Path(manager.download_and_extract(url) if extract else manager.download(url))


def read_json(path: Path) -> list | dict:
    """A JSON file; a malformed one is a `ValueError` naming the file and the place."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}.") from None


def jsonl_records(path: Path, required: tuple[str, ...] = ()) -> Iterator[tuple[str, dict]]:
    """`(where, record)` for each JSON object of a JSON Lines file (blank lines skipped), `where` being "FILE, line
    N"; a line that is not an object holding the `required` fields is a `ValueError` saying where and what."""
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{where} is not valid JSON ({error}); each line must be one JSON object.") from None
        if not isinstance(record, dict):
            raise ValueError(f"{where} holds a {type(record).__name__}; each line must be one JSON object {{...}}.")
        if missing := [key for key in required if key not in record]:
            raise ValueError(f"{where} has no {missing[0]!r}; each line needs the fields {', '.join(required)}.")
        yield where, record


def read_jsonl(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    """The JSON objects of a JSON Lines file, each holding the `required` fields (see `jsonl_records`)."""
    return [record for _, record in jsonl_records(path, required)]


FIELDS = ("question", "steps", "answer")
LAYOUT = '{"question": "...", "steps": ["...", ...], "answer": "..."}'

# File stems of the train / validation / test splits in Coconut's data and iCoT's GSM8k-Aug.
SPLIT_FILES = {"train": "train", "validation": "valid", "test": "test"}


def read_coconut_json(path: Path) -> list[dict]:
    """Coconut's `[{"question", "steps", "answer", ...graph fields}]`, keeping those three fields."""
    records = read_json(path)
    if not isinstance(records, list):
        raise ValueError(f"{path} holds a {type(records).__name__}; Coconut's format is a list of records {LAYOUT}.")
    rows = []
    for index, record in enumerate(records):
        if not isinstance(record, dict) or (missing := [key for key in FIELDS if key not in record]):
            problem = f"has no {missing[0]!r}" if isinstance(record, dict) else f"is a {type(record).__name__}"
            raise ValueError(f"{path}: record {index} {problem}; Coconut's format is a list of records {LAYOUT}.")
        rows.append({key: record[key] for key in FIELDS})
    return rows


def check_rows(rows: list[dict], source: str) -> None:
    """A `ValueError` naming `source` and the row unless there are rows, each with a question (non-empty text),
    steps (a list of texts) and an answer."""
    if not rows:
        raise ValueError(f"{source} holds no examples.")
    for index, row in enumerate(rows):
        question, steps, answer = row["question"], row["steps"], row["answer"]
        problem = None
        if not isinstance(question, str) or not question.strip():
            problem = f"its question is {question!r}, not a non-empty text"
        elif not isinstance(steps, list | tuple) or not all(isinstance(step, str) for step in steps):
            problem = f"its steps are {steps!r}, not a list of texts"
        elif answer is None or not str(answer).strip():
            problem = f"its answer is {answer!r}"
        if problem:
            raise ValueError(f"{source}: example {index}: {problem}.")
