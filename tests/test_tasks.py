"""Task registry: loading the shared copies and hand-written fixtures, the offline Hub error, prompts."""

import socket
from collections import Counter
from functools import cache
from pathlib import Path

import datasets
import huggingface_hub
import pytest

from softcot_hf.data import get_task, list_tasks
from softcot_hf.data.sources import read_json
from softcot_hf.methods import get_method

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FIXTURES = Path(__file__).parent / "fixtures" / "tasks"
SHARED_DIRS = {"asdiv_aug": "asdiv", "gsm8k_aug": "gsm8k_aug_icot"}
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared evaluation data not found at {SHARED}")

# Record counts of ../shared/data/SOURCES.md (StrategyQA: 80/20 of its 2,290; ASDiv: the 2,084 of its 2,305 problems
# whose answer is a single number, the ones a GSM8K-style ASDiv-Aug can hold).
SHARED_COUNTS = [
    ("gsm8k", "train", 7473),
    ("gsm8k", "test", 1319),
    ("asdiv_aug", "test", 2084),
    ("aqua", "validation", 254),
    ("aqua", "test", 254),
    ("strategyqa", "train", 1832),
    ("strategyqa", "test", 458),
    ("date_understanding", "test", 250),
    ("gsm8k_aug", "validation", 500),
    ("gsm8k_aug", "test", 1319),
    ("prontoqa", "validation", 200),
    ("prontoqa", "test", 800),
    ("prosqa", "validation", 300),
    ("prosqa", "test", 500),
]


@cache
def load_shared(name: str, split: str) -> datasets.Dataset:
    """One load per task and split for the whole session."""
    options = {"from_asdiv_xml": True} if name == "asdiv_aug" else {}
    return get_task(name).load(split, data_dir=SHARED / SHARED_DIRS.get(name, name), **options)


def test_registry_lists_the_eight_tasks_then_the_generated_ones():
    assert list_tasks() == [
        "gsm8k", "asdiv_aug", "aqua", "strategyqa", "date_understanding", "gsm8k_aug", "prontoqa", "prosqa",
        "synthetic_arithmetic", "prosqa_style",
    ]  # fmt: skip
    with pytest.raises(KeyError, match="choose one of gsm8k"):
        get_task("gsm8k_hard")
    with pytest.raises(ValueError, match="no split 'dev'"):
        get_task("gsm8k").load("dev", data_dir=FIXTURES / "gsm8k")


@needs_shared
@pytest.mark.parametrize(("name", "split", "count"), SHARED_COUNTS)
def test_shared_data_loads_with_the_documented_counts(name, split, count):
    ds = load_shared(name, split)
    task = get_task(name)
    assert ds.num_rows == count
    assert set(ds.column_names) == {"question", "steps", "answer"}
    for row in ds.select(range(0, count, max(1, count // 50))):
        assert row["question"].strip() and isinstance(row["steps"], list)
        assert task.score(row["answer"], row["answer"])  # every gold answer is a valid answer of its task


@needs_shared
def test_gsm8k_aug_text_lines_read_as_coconut_converts_them():
    coconut = read_json(SHARED / "gsm8k_aug_icot" / "coconut_format" / "gsm_test.json")
    ours = load_shared("gsm8k_aug", "test")
    # Coconut keeps [""] for a line without calculator notes and commas in answers ("2,125"); we do not.
    expected = [{**r, "steps": [s for s in r["steps"] if s], "answer": r["answer"].replace(",", "")} for r in coconut]
    assert expected == ours.to_list()


@needs_shared
def test_strategyqa_split_follows_the_official_order():
    records = read_json(SHARED / "strategyqa" / "strategyqa_train_2290_official_order.json")
    train, test = load_shared("strategyqa", "train"), load_shared("strategyqa", "test")
    assert list(train["question"]) + list(test["question"]) == [r["question"] for r in records]
    assert Counter(test["answer"]).keys() == {"yes", "no"}


@needs_shared
def test_multiple_choice_questions_carry_their_options():
    for name, letters in (("aqua", "ABCDE"), ("date_understanding", "ABCDEF")):
        ds = load_shared(name, "test")
        assert all("Answer Choices: (A) " in q for q in ds["question"])
        assert set(ds["answer"]) <= set(letters)
    # BIG-bench lists the right date first; after the seeded shuffle the letters are spread out.
    bigbench = get_task("date_understanding").load("test", data_dir=SHARED / "date_understanding", bigbench_369=True)
    assert bigbench.num_rows == 369 and max(Counter(bigbench["answer"]).values()) < 369 / 3
    # BIG-Bench-Hard's 250 are among BIG-bench's 369 (the question before the options is the same text).
    bbh = {q.partition(" Answer Choices:")[0] for q in load_shared("date_understanding", "test")["question"]}
    assert bbh <= {q.partition(" Answer Choices:")[0].strip() for q in bigbench["question"]}


def test_fixtures_load_in_the_original_layouts():
    def load(name, split, **options):
        return get_task(name).load(split, data_dir=FIXTURES / name, **options).to_list()

    gsm8k = load("gsm8k", "test")
    assert [r["answer"] for r in gsm8k] == ["31", "300", "-10000"]
    assert gsm8k[0]["steps"] == ["Mia buys 3 * 12 = 36 pencils.", "She has 36 - 5 = 31 pencils left."]
    assert load("gsm8k", "train")[0]["answer"] == "28"

    assert [r["answer"] for r in load("asdiv_aug", "test")] == ["9", "2.5"]
    assert load("asdiv_aug", "train")[0]["answer"] == "6"
    from_xml = load("asdiv_aug", "test", from_asdiv_xml=True)
    assert [r["answer"] for r in from_xml] == ["7", "0.75"]  # names and two-part answers are left out
    assert from_xml[0] == {
        "question": "Four cats and three dogs are in the yard. How many animals are in the yard?",
        "steps": ["4+3=7"],
        "answer": "7",
    }
    with pytest.raises(ValueError, match="evaluation set"):
        load("asdiv_aug", "train", from_asdiv_xml=True)

    aqua = load("aqua", "test")
    assert [r["answer"] for r in aqua] == ["B", "B", "C"]
    assert aqua[0]["question"].endswith("Answer Choices: (A) $14 (B) $15 (C) $16 (D) $18 (E) $20")
    assert aqua[2]["steps"] == ["3x = 18", "x = 6", "ANSWER:C"]

    strategyqa_train, strategyqa_test = load("strategyqa", "train"), load("strategyqa", "test")
    assert [r["answer"] for r in strategyqa_train] == ["no", "yes", "no", "yes"]
    assert strategyqa_test == [
        {"question": "Can a chess game start with a knight move?", "steps": [], "answer": "yes"}
    ]

    for row, right in zip(load("date_understanding", "test"), ["03/04/2020", "01/02/2000"], strict=True):
        assert f"({row['answer']}) {right} " in row["question"] + " "
    bbh = load("date_understanding", "test")
    assert [row["answer"] for row in bbh] == ["B", "E"]
    assert bbh[1]["question"].endswith(
        "in MM/DD/YYYY? Answer Choices: (A) 12/31/1999 (B) 01/01/2001 (C) 01/03/2000 (D) 02/01/2000 (E) 01/02/2000"
    )
    for row, right in zip(
        load("date_understanding", "test", bigbench_369=True), ["03/04/2020", "01/02/2000"], strict=True
    ):
        assert f"({row['answer']}) {right} " in row["question"] + " "

    assert load("gsm8k_aug", "test") == [
        {"question": gsm8k[0]["question"], "steps": ["<<3*12=36>>", "<<36-5=31>>"], "answer": "31"},
        {
            "question": "A city has 1,000 houses and each has 2 cars. How many cars are there?",
            "steps": [],
            "answer": "2000",
        },
    ]
    assert [r["answer"] for r in load("prontoqa", "test")] == ["True", "False"]
    prosqa = load("prosqa", "test")
    assert [r["answer"] for r in prosqa] == ["Tom is a gorpus.", "Ann is a jelpus."]
    assert prosqa[1]["steps"] == ["Ann is a sterpus.", "Every sterpus is a jelpus."]


def test_missing_local_files_name_what_was_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="test.jsonl"):
        get_task("gsm8k").load("test", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="strategyqa_train.json"):
        get_task("strategyqa").load("test", data_dir=tmp_path)


@pytest.fixture
def offline(monkeypatch):
    """Offline mode as HF_DATASETS_OFFLINE=1 sets it, and any socket connection fails the test."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize("name", list_tasks()[:8])  # the papers' benchmarks; generated tasks download nothing
def test_public_source_offline_raises_a_clear_error(name, offline):
    task = get_task(name)
    with pytest.raises(ConnectionError, match="data_dir=") as raised:
        task.load("test")
    assert f"Could not load {name} from {task.source}" in str(raised.value)


def test_prompts_per_method():
    question = "What is 2 + 3?"

    gsm8k = get_task("gsm8k")
    zero_shot = gsm8k.build_prompt(question)
    assert zero_shot == (
        'Solve the following question step by step, and give the final answer at the end as "The answer is <number>."'
        "\n\nQuestion: What is 2 + 3?"
    )
    assert get_method("lora").build_prompt(gsm8k, question) == zero_shot
    assert get_method("zero_shot_cot").build_prompt(gsm8k, question) == zero_shot
    for method in ("softcot", "cot_unk", "assist_cot"):
        assert get_method(method).build_prompt(gsm8k, question) == zero_shot + "\n\nHere are prompts: {thoughts}"
    hinted = get_method("assist_cot").build_prompt(gsm8k, question, thoughts="Add them.")
    assert hinted.endswith("Here are prompts: Add them.")
    for method in ("cot", "no_cot", "coconut", "no_thoughts"):
        assert get_method(method).build_prompt(gsm8k, question) == question + "\n"
        assert not get_method(method).chat
    assert "one of A, B, C, D, E, F" in get_task("date_understanding").build_prompt(question)
    assert '"The answer is yes." or "... no."' in get_task("strategyqa").build_prompt(question)
    assert '"### <answer>"' in get_task("prontoqa").build_prompt(question)  # scored as Coconut does
    with pytest.raises(ValueError, match="Unknown method 'few_shot'"):
        get_method("few_shot")


def _asdiv_aug_hub_snapshot(folder: Path, sizes: dict[str, int]) -> Path:
    """A folder in the layout `push_to_hub` gives the Hub dataset (data/<split>-00000-of-00001.parquet and a card
    naming the splits), filled with made-up GSM8K-style rows whose rationales are calculator notes only."""
    card = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split, size in sizes.items():
        rows = []
        for i in range(size):
            a, b = i % 17 + 2, i % 5 + 3
            question = f"Ann has {a} boxes of {b} pens and buys {i} more pens. How many pens does she have?"
            rows.append(
                {"question": question, "answer": f"<<{a}*{b}={a * b}>> <<{a * b}+{i}={a * b + i}>>\n#### {a * b + i}"}
            )
        (folder / "data").mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_list(rows).to_parquet(folder / "data" / f"{split}-00000-of-00001.parquet")
        card += [f"  - split: {split}", f"    path: data/{split}-*"]
    (folder / "README.md").write_text("\n".join([*card, "---", ""]))
    return folder


def test_asdiv_aug_reads_the_hub_layout_with_its_notes_as_steps(tmp_path):
    snapshot = _asdiv_aug_hub_snapshot(tmp_path / "ASDiv-Aug", {"train": 40, "test": 1038})
    task = get_task("asdiv_aug")
    test = task.load("test", data_dir=snapshot)
    assert test.num_rows == 1038
    assert all(test["steps"]) and test[5]["steps"] == ["<<7*3=21>>", "<<21+5=26>>"] and test[5]["answer"] == "26"
    train = task.load("train", data_dir=snapshot)
    assert train.num_rows == 40
    from softcot_hf.training.softcot_data import training_rows

    questions, targets = training_rows(task, train)  # SoftCoT trains on it: every rationale is there
    assert targets[5] == "<<7*3=21>>\n<<21+5=26>>\nThe answer is 26."
    with pytest.raises(FileNotFoundError, match="xuyige/ASDiv-Aug"):
        task.load("test", data_dir=tmp_path / "empty")


@needs_shared
def test_gsm8k_socratic_with_notes_as_the_official_code_trains():
    socratic = get_task("gsm8k").load("test", data_dir=SHARED / "gsm8k", socratic=True, keep_notes=True)
    assert socratic.num_rows == 1319
    assert " ** " in socratic[0]["steps"][0] and "<<" in socratic[0]["steps"][0]
