"""Evaluation batches questions of similar length (`length_buckets`, the default): less padding, and the same
predictions.jsonl and summary (but for timing) as generating them in question order, also across an interruption."""

import json
from pathlib import Path

import pytest
from test_crash_safety import evaluation as crash_safety_evaluation
from test_crash_safety import same_results

from softcot_hf.evaluation import harness
from softcot_hf.methods import base

# Lengths 18, 66, 19, 40, 5 characters: in question order, batches of 2 pair short with long ones.
ROWS = [
    {"question": "what is 2 plus 3 ?", "answer": "5"},
    {"question": "tom has 4 apples and eats 1 . how many apples does tom have left ?", "answer": "3"},
    {"question": "what is 7 minus 2 ?", "answer": "5"},
    {"question": "tom has 3 apples . how many are there ?", "answer": "3"},
    {"question": "2 + 2", "answer": "4"},
]


class Interrupted(Exception):
    """What stops an evaluation in these tests."""


def record_generate_calls(monkeypatch, fail_after: int | None = None) -> list[dict]:
    """Record each generate call's batch (its left-padded attention mask); raise `Interrupted` after `fail_after`."""
    generate_texts, calls = base.generate_texts, []

    def recorded(model, inputs, tokenizer, **kwargs):
        if fail_after is not None and len(calls) >= fail_after:
            raise Interrupted
        calls.append({"attention_mask": inputs["attention_mask"].clone()})
        return generate_texts(model, inputs, tokenizer, **kwargs)

    monkeypatch.setattr(base, "generate_texts", recorded)
    return calls


def evaluation(pair_dirs, output_dir: Path, **settings) -> dict:
    return crash_safety_evaluation(pair_dirs, output_dir, ROWS, **settings)


def test_generation_order_is_longest_first_and_stable():
    questions = [row["question"] for row in ROWS] + ["what is 2 plus 4 ?"]
    assert harness.generation_order(questions, length_buckets=True) == [1, 3, 2, 0, 5, 4]
    assert harness.generation_order(questions, length_buckets=False) == list(range(6))


@pytest.mark.parametrize(
    "sampling", [{"num_samples": 2}, {"num_samples": 1, "do_sample": False}], ids=["sampled", "greedy"]
)
def test_bucketed_evaluation_pads_less_and_gives_the_unbucketed_results(pair_dirs, tmp_path, monkeypatch, sampling):
    unbucketed_calls = record_generate_calls(monkeypatch)
    evaluation(pair_dirs, tmp_path / "unbucketed", length_buckets=False, **sampling)
    monkeypatch.undo()
    bucketed_calls = record_generate_calls(monkeypatch)
    evaluation(pair_dirs, tmp_path / "bucketed", **sampling)

    same_results(tmp_path / "unbucketed", tmp_path / "bucketed")
    rows = [json.loads(line) for line in (tmp_path / "bucketed" / "predictions.jsonl").read_text().splitlines()]
    seeds = [41, 42] if sampling["num_samples"] > 1 else [41]
    assert [(row["seed"], row["index"]) for row in rows] == [(seed, index) for seed in seeds for index in range(5)]

    def padding(calls: list[dict]) -> int:
        return sum(int((call["attention_mask"] == 0).sum()) for call in calls)

    assert len(bucketed_calls) == len(unbucketed_calls)
    assert padding(bucketed_calls) < padding(unbucketed_calls)


def test_interrupted_bucketed_evaluation_continues_to_the_unbucketed_results(pair_dirs, tmp_path, monkeypatch):
    evaluation(pair_dirs, tmp_path / "straight", length_buckets=False)
    output_dir = tmp_path / "interrupted"
    record_generate_calls(monkeypatch, fail_after=4)  # seed 41's 3 batches, seed 42's first
    with pytest.raises(Interrupted):
        evaluation(pair_dirs, output_dir)
    written = [json.loads(line) for line in (output_dir / "predictions.jsonl").read_text().splitlines()]
    # In generation order (longest first) while the run goes.
    assert [(row["seed"], row["index"]) for row in written] == [(41, i) for i in (1, 3, 2, 0, 4)] + [(42, 1), (42, 3)]
    monkeypatch.undo()

    calls = record_generate_calls(monkeypatch)
    evaluation(pair_dirs, output_dir)
    assert len(calls) == 2  # seed 42's last two batches only
    same_results(tmp_path / "straight", output_dir)

    monkeypatch.undo()
    calls = record_generate_calls(monkeypatch)
    evaluation(pair_dirs, output_dir)  # a finished run (rows now in question order) is kept whole
    assert calls == []
    same_results(tmp_path / "straight", output_dir)


def test_a_run_interrupted_with_buckets_continues_without_them(pair_dirs, tmp_path, monkeypatch):
    """Switching `length_buckets` between the runs keeps every whole batch of the new order and redoes the rest."""
    evaluation(pair_dirs, tmp_path / "straight", length_buckets=False)
    output_dir = tmp_path / "switched"
    record_generate_calls(monkeypatch, fail_after=2)  # seed 41: questions 1 and 3, then 2 and 0
    with pytest.raises(Interrupted):
        evaluation(pair_dirs, output_dir)
    monkeypatch.undo()
    calls = record_generate_calls(monkeypatch)
    evaluation(pair_dirs, output_dir, length_buckets=False)
    assert len(calls) == 4  # seed 41's batches (0, 1) and (2, 3) are there whole; (4,) and seed 42's three are not
    same_results(tmp_path / "straight", output_dir)
