"""Math word problems with a numeric answer: GSM8K and ASDiv-Aug (SoftCoT paper), GSM8k-Aug (Coconut paper)."""

import re
from pathlib import Path
from xml.etree import ElementTree

import datasets

from .answers import NumberAnswer, TextAnswer, canonical_number
from .sources import SPLIT_FILES, download, jsonl_records
from .task import Row, Task

GSM8K_HUB_ID = "openai/gsm8k"
ASDIV_AUG_HUB_ID = "xuyige/ASDiv-Aug"
# Coconut's preprocessing downloads iCoT's augmented GSM8K at this commit (train.txt is a Git LFS file).
GSM8K_AUG_URL = (
    "https://media.githubusercontent.com/media/da03/Internalize_CoT_Step_by_Step/"
    "e06a32ee5e4cd117171daeb4755d2a97ece62761/data/gsm8k/{file}.txt"
)

_CALCULATOR_NOTE = re.compile(r"<<[^>]*>>")
# An ASDiv answer that is one number with an optional unit: "9 (apples)", "2.5". Names, times, ratios and
# multi-part answers ("5 (years old); 15 (years old)") are left out, as in the GSM8K-style ASDiv-Aug.
_ASDIV_NUMBER = re.compile(r"(-?\d+(?:\.\d+)?)(?:\s*\([^()]*\))?")


def _rationale_steps(line: str, keep_notes: bool) -> list[str]:
    """One rationale line as steps: without its `<<a=b>>` notes, or with them (a line of notes only is one step per
    note, as ASDiv-Aug and GSM8k-Aug write them)."""
    if not keep_notes:
        return [_CALCULATOR_NOTE.sub("", line).strip()]
    if not _CALCULATOR_NOTE.sub("", line).strip():
        return _CALCULATOR_NOTE.findall(line)
    return [line.strip()]


def from_gsm8k_record(record: dict, keep_notes: bool = False, where: str = "a GSM8K record") -> Row:
    """GSM8K layout `{"question", "answer": "rationale lines\\n#### 18"}`; steps drop the `<<a=b>>` calculator notes
    unless `keep_notes`. A record without the `#### <number>` line is a `ValueError` naming `where` it came from."""
    if "####" not in str(record["answer"]):
        raise ValueError(
            f"{where}: the answer must end with '#### <number>' (GSM8K's layout), got {record['answer']!r}."
        )
    rationale, _, answer = record["answer"].rpartition("####")
    steps = [step for line in rationale.splitlines() for step in _rationale_steps(line, keep_notes)]
    try:
        answer = canonical_number(answer.strip())
    except ValueError:
        raise ValueError(
            f"{where}: the answer after '####' must be a number (GSM8K's layout), got {answer.strip()!r}. Fix that "
            "record's answer."
        ) from None
    return {"question": record["question"].strip(), "steps": [step for step in steps if step], "answer": answer}


# GSM8K: openai/grade-school-math layout, {train,test}.jsonl and {train,test}_socratic.jsonl. The official SoftCoT
# code trains on the socratic answers with the notes kept (`socratic=True, keep_notes=True`).
def _gsm8k_remote(split: str, socratic: bool = False, keep_notes: bool = False) -> list[Row]:
    records = datasets.load_dataset(GSM8K_HUB_ID, "socratic" if socratic else "main", split=split)
    return [from_gsm8k_record(record, keep_notes) for record in records]


def read_gsm8k_jsonl(path: Path, keep_notes: bool = False) -> list[Row]:
    """A JSON Lines file in GSM8K's layout (GSM8K, ASDiv-Aug)."""
    records = jsonl_records(path, ("question", "answer"))
    return [from_gsm8k_record(record, keep_notes, where) for where, record in records]


def _gsm8k_local(data_dir: Path, split: str, socratic: bool = False, keep_notes: bool = False) -> list[Row]:
    return read_gsm8k_jsonl(data_dir / f"{split}{'_socratic' if socratic else ''}.jsonl", keep_notes)


# ASDiv-Aug: the Hub dataset's train / test splits, GSM8K-style {question, answer}; its rationales are calculator
# notes, kept as the steps. Locally: a snapshot of the Hub repo, or the official code's aug-train.jsonl /
# aug-dev.jsonl (the paper evaluates on aug-dev, the Hub's test split).
_ASDIV_AUG_FILES = {"train": "aug-train.jsonl", "test": "aug-dev.jsonl"}


def _asdiv_aug_remote(split: str) -> list[Row]:
    return [
        from_gsm8k_record(record, keep_notes=True) for record in datasets.load_dataset(ASDIV_AUG_HUB_ID, split=split)
    ]


def _asdiv_aug_local(data_dir: Path, split: str, from_asdiv_xml: bool = False) -> list[Row]:
    """A snapshot of the Hub dataset (or the official code's jsonl files); `from_asdiv_xml=True` converts the
    original ASDiv.xml instead (an evaluation set: split "test" only)."""
    if from_asdiv_xml:
        if split != "test":
            raise ValueError("ASDiv.xml is an evaluation set: load split 'test' from it.")
        return read_asdiv_xml(data_dir / "ASDiv.xml")
    if (data_dir / _ASDIV_AUG_FILES[split]).is_file():
        return read_gsm8k_jsonl(data_dir / _ASDIV_AUG_FILES[split], keep_notes=True)
    try:
        records = datasets.load_dataset(str(data_dir), split=split)
    except (FileNotFoundError, ValueError) as error:
        raise FileNotFoundError(
            f"No ASDiv-Aug {split} split in {data_dir} ({error}). Expected a snapshot of the Hub dataset "
            f"{ASDIV_AUG_HUB_ID} (train and test splits of question, answer) or {_ASDIV_AUG_FILES[split]}."
        ) from error
    where = f"{data_dir} ({split} split)"
    return [from_gsm8k_record(record, True, f"{where}, row {index}") for index, record in enumerate(records)]


def read_asdiv_xml(path: Path) -> list[Row]:
    """ASDiv's problems with a single numeric answer: Body + Question, the Formula as the one step, the number."""
    rows = []
    for problem in ElementTree.parse(path).getroot().iter("Problem"):
        if (match := _ASDIV_NUMBER.fullmatch(problem.findtext("Answer").strip())) is None:
            continue
        question = f"{problem.findtext('Body').strip()} {problem.findtext('Question').strip()}"
        rows.append(
            {
                "question": question,
                "steps": [problem.findtext("Formula").strip()],
                "answer": canonical_number(match[1]),
            }
        )
    return rows


# GSM8k-Aug: iCoT layout, one "question||<<a=b>> <<c=d>> #### answer" per line in {train,valid,test}.txt.
def read_icot_lines(path: Path) -> list[Row]:
    """iCoT lines as Coconut converts them: the calculator notes are the steps; answers lose their commas."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            if "||" not in line or "####" not in line:
                raise ValueError(f"{path}, line {number}: expected iCoT's 'question||<<a=b>> ... #### answer'.")
            question, _, rest = line.partition("||")
            notes, _, answer = rest.rpartition("####")
            rows.append(
                {"question": question.strip(), "steps": notes.split(), "answer": answer.strip().replace(",", "")}
            )
    return rows


def _gsm8k_aug_remote(split: str) -> list[Row]:
    return read_icot_lines(download(GSM8K_AUG_URL.format(file=SPLIT_FILES[split])))


def _gsm8k_aug_local(data_dir: Path, split: str) -> list[Row]:
    return read_icot_lines(data_dir / f"{SPLIT_FILES[split]}.txt")


TASKS = (
    Task(
        name="gsm8k",
        source=GSM8K_HUB_ID,
        layout="train.jsonl, test.jsonl (socratic=True: train_socratic.jsonl, test_socratic.jsonl)",
        splits=("train", "test"),
        answer=NumberAnswer(),
        read_remote=_gsm8k_remote,
        read_local=_gsm8k_local,
    ),
    Task(
        name="asdiv_aug",
        source=ASDIV_AUG_HUB_ID,
        layout="a snapshot of the Hub dataset, or aug-train.jsonl and aug-dev.jsonl (ASDiv.xml: from_asdiv_xml=True)",
        splits=("train", "test"),
        answer=NumberAnswer(),
        read_remote=_asdiv_aug_remote,
        read_local=_asdiv_aug_local,
    ),
    Task(
        name="gsm8k_aug",
        source=GSM8K_AUG_URL.format(file="{train,valid,test}"),
        layout="train.txt, valid.txt, test.txt",
        splits=("train", "validation", "test"),
        answer=TextAnswer(),  # scored as Coconut does: the text after the last "#", exactly
        read_remote=_gsm8k_aug_remote,
        read_local=_gsm8k_aug_local,
    ),
)
