"""ProsQA-style generator: the records have ProsQA's shape and their answers are right by an independent graph search
over the question text alone."""

import json
import re
from collections import deque

import pytest
from tiny import SHARED

from softcot_hf.data import get_task, prosqa_style
from softcot_hf.data.prosqa_style import CONCEPTS, PEOPLE, generate_prosqa_style, write_prosqa_style_splits

PROSQA_TEST = SHARED / "data" / "prosqa" / "prosqa_test.json"
FACT = re.compile(r"^(?:Every (\w+)|([A-Z]\w*)) is a (\w+)\.$")
QUESTION = re.compile(r"^Is ([A-Z]\w*) a (\w+) or (\w+)\?$")


def solve(question: str) -> tuple[str, dict[str, int], set[tuple[str, str]]]:
    """From the question text only: (person asked about, facts from that person per reachable name, all facts)."""
    *facts, asked = re.split(r"(?<=\.) ", question)
    person, _, _ = QUESTION.match(asked).groups()
    edges = set()
    for sentence in facts:
        every, name, child = FACT.match(sentence).groups()
        edges.add((every or name, child))
    distance, queue = {person: 0}, deque([person])
    while queue:
        node = queue.popleft()
        for parent, child in sorted(edges):
            if parent == node and child not in distance:
                distance[child] = distance[node] + 1
                queue.append(child)
    return person, distance, edges


@pytest.fixture(scope="module")
def records():
    return generate_prosqa_style(200, seed=11)


def test_records_have_the_prosqa_shape(records):
    keys = {"question", "steps", "answer", "idx_to_symbol", "edges", "root", "target", "neg_target"}
    if PROSQA_TEST.is_file():
        keys = set(json.loads(PROSQA_TEST.read_text())[0])  # the official records' fields, exactly
    for record in records:
        assert set(record) == keys
        names = record["idx_to_symbol"]
        assert names[record["root"]] in PEOPLE and record["root"] in (0, 1)
        assert names[record["target"]] in CONCEPTS and names[record["neg_target"]] in CONCEPTS
        assert len(set(names)) == len(names)
        assert all(parent < child for parent, child in record["edges"])
        assert record["question"].count(" is a ") == len(record["edges"])  # one fact per edge
        assert 3 <= len(record["steps"]) <= 6
    assert {len(r["steps"]) for r in records} == {3, 4, 5, 6}


def test_answers_are_right_by_graph_search(records):
    for record in records:
        person, distance, edges = solve(record["question"])
        options = QUESTION.match(record["question"].rsplit(". ", 1)[1]).groups()[1:]
        reachable = [option for option in options if option in distance]
        assert len(reachable) == 1, record["question"]  # exactly one option follows from the facts
        correct = reachable[0]
        wrong = next(option for option in options if option != correct)
        assert record["answer"] == f"{person} is a {correct}."
        assert correct in CONCEPTS and wrong in CONCEPTS
        assert not any(parent in (correct, wrong) for parent, _ in edges)  # both options are leaves
        # The wrong option is not a stray name: another person reaches it.
        assert any(solve_from(edges, other, wrong) for other in PEOPLE if other != person)
        # Steps: a chain of stated facts from the person to the answer, as short as possible.
        chain = [FACT.match(step).groups() for step in record["steps"]]
        links = [(every or name, child) for every, name, child in chain]
        assert all(link in edges for link in links)
        assert links[0][0] == person and links[-1][1] == correct
        assert all(a[1] == b[0] for a, b in zip(links, links[1:], strict=False))
        assert len(links) == distance[correct]


def solve_from(edges: set[tuple[str, str]], start: str, goal: str) -> bool:
    seen, stack = {start}, [start]
    while stack:
        node = stack.pop()
        for parent, child in edges:
            if parent == node and child not in seen:
                seen.add(child)
                stack.append(child)
    return goal in seen


def test_options_come_in_both_orders_and_sizes_are_configurable(records):
    last_is_answer = [r["question"].endswith(r["idx_to_symbol"][r["target"]] + "?") for r in records]
    assert 0.3 < sum(last_is_answer) / len(records) < 0.7
    small = generate_prosqa_style(20, seed=0, min_depth=2, max_depth=2, min_concepts=4, max_concepts=5, max_people=2)
    assert all(len(r["steps"]) == 2 and len(r["idx_to_symbol"]) <= 7 for r in small)
    with pytest.raises(ValueError, match="2 \\* max_depth"):
        generate_prosqa_style(1, max_depth=6, max_concepts=10)


def test_deterministic_from_the_seed(records):
    assert generate_prosqa_style(200, seed=11) == records
    assert generate_prosqa_style(200, seed=12) != records
    assert generate_prosqa_style(50, seed=11) == records[:50]


def test_exclusion_and_no_duplicates_when_collisions_are_likely():
    # One-step graphs over 2 concepts and 2 people: few distinct questions, so repeats would be frequent.
    tiny = dict(min_depth=1, max_depth=1, min_concepts=2, max_concepts=2, max_people=2)
    first = generate_prosqa_style(30, seed=0, **tiny)
    second = generate_prosqa_style(30, seed=1, exclude_questions={r["question"] for r in first}, **tiny)
    assert len({r["question"] for r in first + second}) == 60


@pytest.fixture
def small_splits(monkeypatch):
    """The registered splits at a tenth of their size (the full train split takes seconds to generate)."""
    monkeypatch.setattr(prosqa_style, "SPLIT_SIZES", {"train": 600, "validation": 30, "test": 50})
    prosqa_style.generate_split.cache_clear()
    yield
    prosqa_style.generate_split.cache_clear()


def test_task_splits_are_deterministic_and_disjoint(small_splits, tmp_path):
    task = get_task("prosqa_style")
    test, validation, train = task.load("test"), task.load("validation"), task.load("train")
    assert (len(train), len(validation), len(test)) == (600, 30, 50)
    prosqa_style.generate_split.cache_clear()
    assert task.load("test")["question"] == test["question"]
    assert task.load("train")["question"] == train["question"]
    train_questions = set(train["question"])
    assert len(train_questions) == len(train)
    assert not train_questions & set(test["question"]) and not train_questions & set(validation["question"])
    assert not set(validation["question"]) & set(test["question"])
    # Scored like ProsQA: the text after the last "#".
    gold = test[0]["answer"]
    assert task.score(f"reasoning ... ### {gold}", gold) and not task.score("### Tom is a nothing.", gold)
    # Written to a folder, the splits load back from it.
    write_prosqa_style_splits(tmp_path)
    assert task.load("test", data_dir=tmp_path)[:] == test[:]
    with pytest.raises(FileNotFoundError, match="write_prosqa_style_splits"):
        task.load("test", data_dir=tmp_path / "missing")


def test_official_split_sizes():
    assert prosqa_style.SPLIT_SIZES == {"train": 17886, "validation": 300, "test": 500}
