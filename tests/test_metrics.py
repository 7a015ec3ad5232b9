"""The shipped `evaluate` metrics load from the package and compute with networking disabled."""

import socket

import datasets
import evaluate
import huggingface_hub
import pytest

from softcot_hf.evaluation import load_metric


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Offline mode as HF_HUB_OFFLINE=1 / HF_DATASETS_OFFLINE=1 set it, and any socket connection fails the test."""
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_answer_accuracy_scores_with_the_task_rules():
    metric = load_metric("answer_accuracy", "gsm8k")
    assert isinstance(metric, evaluate.Metric)
    predictions = ["9 * 2 = 18, so the answer is $18.", "#### 1,250", "I do not know.", "The answer is 7."]
    assert metric.compute(predictions=predictions, references=["18", "1250", "3", "8"]) == {"accuracy": 0.5}

    strategyqa = load_metric("answer_accuracy", "strategyqa")
    assert strategyqa.compute(predictions=["So the answer is yes.", "No."], references=["yes", "yes"]) == {
        "accuracy": 0.5
    }


def test_answer_accuracy_accumulates_batches():
    metric = load_metric("answer_accuracy", "aqua")
    metric.add_batch(predictions=["The answer is (B)."], references=["B"])
    metric.add_batch(predictions=["Answer: C", "(E)"], references=["C", "D"])
    assert metric.compute()["accuracy"] == pytest.approx(2 / 3)


def test_answer_accuracy_needs_a_task():
    with pytest.raises(KeyError, match="needs the task as its config name"):
        load_metric("answer_accuracy")


def test_mean_generated_tokens():
    metric = load_metric("mean_generated_tokens")
    assert metric.compute(predictions=[25, 8, 3]) == {"mean_generated_tokens": 12.0}


def test_unknown_metric():
    with pytest.raises(ValueError, match="Unknown metric 'accuracy'"):
        load_metric("accuracy")
