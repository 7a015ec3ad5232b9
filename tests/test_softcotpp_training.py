"""SoftCoT++ end to end on tiny models: `softcot-hf train softcotpp` (B = 4 questions x M = 3 sets per step) lowers the
loss and logs its two parts; gradient accumulation gives the weights of the whole batch (the loss is normalised over
the global batch); `softcot-hf eval --method softcotpp` votes over M x K paths per question, records each path's set,
and gives the same paths whatever the batch size."""

import json
from pathlib import Path

import datasets
import pytest
import torch
from safetensors.torch import load_file
from test_softcot_training import write_gsm8k
from torch import nn

from softcot_hf.cli import main
from softcot_hf.evaluation import run_evaluation
from softcot_hf.evaluation.voting import majority_vote
from softcot_hf.methods import METHODS
from softcot_hf.methods.base import Runner
from softcot_hf.methods.cot import CoT
from softcot_hf.pipelines import train
from softcot_hf.tiny import make_lm, make_tokenizer

M, K = 3, 2


def save_reactive_lm(folder: Path, hidden_size: int, seed: int) -> str:
    """A tiny Llama whose weights are scaled to std ~0.5 (at 0.02 a 2-layer model barely reacts to its input, so no
    projection could lower its loss), saved with its tokenizer."""
    tokenizer = make_tokenizer("llama")
    model = make_lm("llama", len(tokenizer), hidden_size, seed=seed)
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "norm" not in name:
                weight.mul_(25.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("softcotpp")
    data_dir = write_gsm8k(root / "gsm8k", n_train=8)
    output_dir = root / "run"
    main(
        [
            "train", "softcotpp",
            "--backbone", save_reactive_lm(root / "backbone", 32, seed=2),
            "--assistant", save_reactive_lm(root / "assistant", 24, seed=1),
            "--data-dir", data_dir,
            "--num-thought-tokens", "4",
            "--num-thought-sets", str(M),
            "--batch-size", "4",
            "--max-steps", "12",
            "--lr", "5e-2",
            "--logging-steps", "1",
            "--save-steps", "12",
            "--contrastive-temperature", "0.5",
            "--seed", "3",
            "--evaluate", "false",
            "--output-dir", str(output_dir),
        ]
    )  # fmt: skip
    return output_dir, data_dir


def test_training_lowers_the_loss_and_logs_both_parts(trained):
    output_dir, _ = trained
    state = json.loads((output_dir / "checkpoints" / "checkpoint-12" / "trainer_state.json").read_text())
    logs = [entry for entry in state["log_history"] if "loss" in entry]
    assert len(logs) == 12
    assert all("cross_entropy" in entry and "contrastive_loss" in entry for entry in logs)
    first, last = [sum(entry["loss"] for entry in part) / 3 for part in (logs[:3], logs[-3:])]
    assert last < 0.85 * first, (first, last)  # 12 seeded steps: about 9.0 -> 7.5
    saved = load_file(output_dir / "model.safetensors")
    assert saved["projection.thought_sets.embeddings"].shape[0] == M
    assert json.loads((output_dir / "config.json").read_text())["num_thought_sets"] == M


# The official loss (ThoughtSetLossSettings.official(3)) but for the dropout: each layout would draw other masks.
OFFICIAL_LOSS = {
    "thought_set_loss_reduction": "sum_over_sets",
    "contrastive_pooling": "flatten",
    "contrastive_dropout_on": "projected_thoughts",
    "contrastive_weight": 1 / 3,
}


@pytest.mark.parametrize("loss", ["ours", "official"])
def test_accumulating_micro_batches_gives_the_weights_of_the_whole_batch(pair_dirs, tmp_path, loss):
    """7 questions whose targets differ in length: steps of 4 and 3 questions, or accumulated micro-batches of 2 + 2
    and 2 + 1. A loss normalised per micro-batch would weigh tokens and questions differently from the whole batch."""
    data_dir = write_gsm8k(tmp_path / "data", n_train=7, max_steps=3, seed=1)

    def weights(batch_size: int, accumulation: int) -> dict[str, torch.Tensor]:
        output_dir = tmp_path / f"{batch_size}x{accumulation}"
        args = METHODS["softcotpp"].arguments(
            output_dir=str(output_dir),
            backbone=pair_dirs["llama_backbone"],
            assistant=pair_dirs["llama_assistant"],
            data_dir=data_dir,
            num_thought_tokens=2,
            num_thought_sets=3,
            per_device_train_batch_size=batch_size,
            gradient_accumulation_steps=accumulation,
            num_train_epochs=1,
            learning_rate=1e-2,
            seed=3,
            save_steps=100,
            logging_steps=100,
            evaluate=False,
            contrastive_dropout=0.0,
            contrastive_temperature=0.5,
            **(OFFICIAL_LOSS if loss == "official" else {}),
        )
        train(args)
        return load_file(output_dir / "model.safetensors")

    whole, accumulated = weights(4, 1), weights(2, 2)
    for key in whole:  # Adam's first steps move weights by ~lr = 1e-2: a wrong normalisation shows far above 5e-5
        torch.testing.assert_close(accumulated[key], whole[key], atol=5e-5, rtol=0, msg=key)


def evaluate(output_dir: Path, data_dir: str, folder: Path, batch_size: int, method: str = "softcotpp") -> list[dict]:
    main(
        [
            "eval",
            "--task", "gsm8k",
            "--method", method,
            "--model", str(output_dir),
            "--data-dir", data_dir,
            "--num-samples", str(K),
            "--batch-size", str(batch_size),
            "--max-new-tokens", "6",
            "--output-dir", str(folder),
        ]
    )  # fmt: skip
    return [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]


def test_evaluation_votes_over_every_set_and_sample(trained, tmp_path):
    output_dir, data_dir = trained
    rows = evaluate(output_dir, data_dir, tmp_path / "batched", batch_size=3)
    assert len(rows) == 3
    for row in rows:
        assert len(row["generated"]) == len(row["extracted"]) == M * K
        assert row["thought_sets"] == [m for m in range(M) for _ in range(K)]
        assert row["prediction"] == majority_vote(row["extracted"])
    summary = json.loads((tmp_path / "batched" / "summary.json").read_text())
    assert summary["settings"]["num_thought_sets"] == M
    one_by_one = evaluate(output_dir, data_dir, tmp_path / "single", batch_size=1)
    assert [row["generated"] for row in one_by_one] == [row["generated"] for row in rows]


def test_a_model_with_sets_evaluated_as_softcot_still_votes_over_every_set(trained, tmp_path):
    output_dir, data_dir = trained
    as_softcot = evaluate(output_dir, data_dir, tmp_path / "softcot", batch_size=3, method="softcot")
    as_softcotpp = evaluate(output_dir, data_dir, tmp_path / "softcotpp", batch_size=3)
    assert [row["generated"] for row in as_softcot] == [row["generated"] for row in as_softcotpp]
    assert all(row["thought_sets"] == [m for m in range(M) for _ in range(K)] for row in as_softcot)


def test_the_harness_refuses_a_runner_whose_path_count_disagrees():
    """Slicing paths by a wrong count would silently vote over other questions' paths."""

    class ThreeSetsClaimed(Runner):
        num_thought_sets = 3

        def generate(self, questions, **generate_kwargs):
            return ["The answer is 1."] * len(questions) * 2, [4] * len(questions) * 2

    class Method(CoT):
        def runner(self, model, tokenizer, task):
            return ThreeSetsClaimed()

    dataset = datasets.Dataset.from_dict({"question": ["what is 1 ?", "what is 2 ?"], "answer": ["1", "2"]})
    with pytest.raises(ValueError, match="generated 4 paths for 2 questions, expected 3 each"):
        run_evaluation("synthetic_arithmetic", Method(), nn.Linear(1, 1), tokenizer=object(), dataset=dataset)
