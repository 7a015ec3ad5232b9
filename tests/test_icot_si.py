"""iCoT-SI: the token-removal schedule against a literal reference (the official step counter, replayed), the tokens
that remain, the optimizer reset exactly where the removal grows, the batches a real run sees, resuming, and training
plus evaluation through the command line."""

import json
import math
from collections import Counter
from pathlib import Path

import pytest
import torch
from test_coconut_training import FAST, Interrupt, _final_weights, save_coconut_base
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from softcot_hf.cli import main as cli_main
from softcot_hf.methods import METHODS
from softcot_hf.pipelines import train
from softcot_hf.tiny import make_tokenizer
from softcot_hf.training.token_removal import (
    TokenRemovalExamples,
    TokenRemovalSchedule,
    cut_rationale,
    offset_distribution,
)

TWO_STEPS = {"question": "what is 2 plus 3 ?", "steps": ["2 plus 3 = 5", "5 times 2 = 10"], "answer": "10"}
Q = ["what", "is", "2", "plus", "3", "?"]
RATIONALE = ["2", "plus", "3", "=", "5", "5", "times", "2", "=", "10"]
ANSWER = ["###", "10", "<|endoftext|>"]


def official_schedule(steps: int, steps_per_epoch: int, per_epoch: float, beyond: float) -> list[float]:
    """The removal scheduled at each of the first `steps` batches, replaying the official training loop's counter
    (da03/Internalize_CoT_Step_by_Step src/train.py:243-268, no pretraining epochs, one batch per step)."""
    every = int(round(steps_per_epoch / per_epoch))
    scheduled, counter, seen = 0, 0, []
    for _ in range(steps):
        if counter == every or every == 0:
            scheduled += 1
            counter = 0
        counter += 1
        if scheduled >= beyond:
            scheduled = math.inf
        seen.append(scheduled)
    return seen


@pytest.mark.parametrize(
    "steps_per_epoch,per_epoch,beyond", [(32, 8, math.inf), (32, 4, 6), (10, 3, math.inf), (7, 2, 3), (100, 8, 39)]
)
def test_scheduled_removal_is_the_official_counter(steps_per_epoch, per_epoch, beyond):
    schedule = TokenRemovalSchedule(per_epoch, math.inf, None if math.isinf(beyond) else beyond)
    schedule.steps_per_epoch = steps_per_epoch
    expected = official_schedule(5 * steps_per_epoch, steps_per_epoch, per_epoch, beyond)
    assert [schedule.scheduled(step) for step in range(5 * steps_per_epoch)] == expected
    grows = [step for step in range(1, len(expected)) if expected[step] > expected[step - 1] < math.inf]
    assert [step for step in range(5 * steps_per_epoch) if schedule.grows_at(step)] == grows


@pytest.fixture(scope="module")
def encoder():
    return TokenRemovalExamples(make_tokenizer("plain"))


@pytest.mark.parametrize(
    "step,offset,kept",
    [
        (0, 0, RATIONALE),  # epoch 0, first step: the whole rationale
        (1, 0, RATIONALE[1:]),  # 4 steps per epoch, 4 tokens per epoch: one more token each step
        (3, 0, RATIONALE[3:]),
        (4, 0, RATIONALE[4:]),  # epoch 1 begins: 4 gone
        (4, 2, RATIONALE[6:]),  # ... plus an offset of 2
        (9, 0, RATIONALE[9:]),
        (9, 5, []),  # more than the rationale: all of it, never the answer
        (12, 0, []),  # the schedule reaches remove_all_beyond = 12: everything, whatever the offset
    ],
)
def test_tokens_that_remain_at_a_step_with_an_offset(encoder, step, offset, kept):
    schedule = TokenRemovalSchedule(tokens_removed_per_epoch=4, smoothing_lambda=4.0, remove_all_beyond=12)
    schedule.steps_per_epoch = 4
    feature = encoder.encode(TWO_STEPS, index=3)
    assert (feature["rationale_start"], feature["rationale_length"], feature["index"]) == (len(Q), 10, 3)
    cut = cut_rationale(feature, schedule.removed(step, offset, feature["rationale_length"]))
    tokens = encoder.tokenizer.convert_ids_to_tokens(cut["input_ids"])
    assert tokens == Q + kept + ANSWER
    assert cut["labels"] == [-100] * len(Q) + cut["input_ids"][len(Q) :]  # loss on what remains after the question


def test_offset_distribution_and_draws():
    lam = 1.0
    weights = offset_distribution(lam)
    assert weights[:3] == pytest.approx([(1 - math.exp(-lam)) * math.exp(-lam * r) for r in range(3)], rel=1e-12)
    assert sum(weights) == pytest.approx(1.0, abs=1e-12) and len(weights) == 100
    assert offset_distribution(math.inf) == [1.0] + [0.0] * 99
    schedule = TokenRemovalSchedule(smoothing_lambda=lam, seed=0)
    draws = Counter(schedule.offset(step, index) for step in range(40) for index in range(100))
    # 4000 draws: P(0) = 0.632, P(1) = 0.233; 4 standard deviations is below 0.031
    assert abs(draws[0] / 4000 - weights[0]) < 0.031 and abs(draws[1] / 4000 - weights[1]) < 0.031
    assert [schedule.offset(7, i) for i in range(20)] == [
        TokenRemovalSchedule(smoothing_lambda=lam, seed=0).offset(7, i) for i in range(20)
    ]  # seeded by (seed, step, example)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict[str, str]:
    return save_coconut_base(tmp_path_factory.mktemp("icot_si"))


class Record(TrainerCallback):
    """Per optimizer step: whether the optimizer state was empty when the step began (after the reset), and the
    input_ids of every training forward."""

    def __init__(self):
        self.empty, self.batches, self.step = {}, [], 0

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        model.register_forward_pre_hook(self.see, with_kwargs=True)

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self.step = state.global_step
        self.empty[state.global_step] = len(optimizer.state) == 0

    def see(self, module, args, kwargs):
        if module.training:
            self.batches.append((self.step, kwargs["input_ids"].clone()))


def train_icot(base, output_dir, callbacks=None, **settings) -> dict:
    args = METHODS["icot_si"].arguments(
        backbone=base["base"], train_file=base["train_file"], output_dir=str(output_dir), **{**FAST, **settings}
    )
    return train(args, callbacks=callbacks)


def test_a_run_sees_the_schedule_and_resets_the_optimizer_exactly_where_it_grows(base, tmp_path):
    # 8 examples, micro-batches of 2, 2 accumulated: 2 optimizer steps per epoch; 1 token per epoch -> k grows every
    # 2 steps. No smoothing, so every row of step g lacks exactly min(g // 2, its rationale) tokens.
    record = Record()
    settings = dict(per_device_train_batch_size=2, gradient_accumulation_steps=2, num_train_epochs=4)
    train_icot(base, tmp_path / "run", [record], tokens_removed_per_epoch=1, removal_smoothing_lambda=math.inf,
               **settings)  # fmt: skip
    encoder = TokenRemovalExamples(AutoTokenizer.from_pretrained(base["base"]))
    encoded = {tuple(e["input_ids"]): e for e in map(encoder.encode, json.loads(Path(base["train_file"]).read_text()))}
    assert [step for step, _ in record.batches] == [step for step in range(8) for _ in (0, 1)]
    for step, input_ids in record.batches:
        for row in input_ids.tolist():
            row = row[: row.index(encoder.eos_id) + 1]  # padding is EOS, after the row's own EOS
            cuts = [cut_rationale(f, min(step // 2, f["rationale_length"]))["input_ids"] for f in encoded.values()]
            assert row in cuts, (step, row)
    assert record.empty == {0: True, 1: False, 2: True, 3: False, 4: True, 5: False, 6: True, 7: False}


def test_no_reset_with_optimizer_reset_off(base, tmp_path):
    record = Record()
    train_icot(base, tmp_path / "run", [record], tokens_removed_per_epoch=1, optimizer_reset=False,
               per_device_train_batch_size=4, num_train_epochs=2)  # fmt: skip
    assert record.empty == {0: True, 1: False, 2: False, 3: False}


def test_interrupted_run_resumes_to_the_same_weights(base, tmp_path):
    # 2 steps per epoch, 2 tokens per epoch (one per step), smoothing on: the resumed run must rebuild the same
    # batches (the collator's count) and the same resets.
    settings = dict(num_train_epochs=3, save_steps=3, tokens_removed_per_epoch=2, removal_smoothing_lambda=0.5)
    train_icot(base, tmp_path / "straight", **settings)
    with pytest.raises(KeyboardInterrupt):
        train_icot(base, tmp_path / "resumed", [Interrupt(3)], **settings)
    result = train_icot(base, tmp_path / "resumed", **settings)
    assert result["global_step"] == 6
    straight, resumed = _final_weights(tmp_path / "straight"), _final_weights(tmp_path / "resumed")
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=1e-6, msg=key)


def test_cli_trains_and_evaluates_a_plain_lm(base, tmp_path, capsys):
    cli_main(
        ["train", "icot_si", "--backbone", base["base"], "--train-file", base["train_file"], "--epochs", "2",
         "--batch-size", "4", "--gradient-accumulation-steps", "1", "--tokens-removed-per-epoch", "4",
         "--remove-all-beyond", "6", "--eval-limit", "2", "--max-new-tokens", "4", "--output-dir", str(tmp_path / "r")]
    )  # fmt: skip
    assert "accuracy" in capsys.readouterr().out
    summary = json.loads((tmp_path / "r" / "eval" / "summary.json").read_text())
    assert summary["method"] == "icot_si" and summary["num_examples"] == 2
    assert type(AutoModelForCausalLM.from_pretrained(tmp_path / "r")).__name__ == "GPT2LMHeadModel"
    cli_main(["eval", "--method", "icot_si", "--model", str(tmp_path / "r"), "--task", "prosqa_style", "--limit", "2",
              "--max-new-tokens", "4", "--output-dir", str(tmp_path / "e")])  # fmt: skip
    assert "| iCoT-SI |" in capsys.readouterr().out  # the evaluation table's row
    summary = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert summary["method"] == "icot_si" and summary["num_examples"] == 2


def test_bad_settings_are_refused(base, tmp_path):
    with pytest.raises(ValueError, match="--tokens_removed_per_epoch must be more than 0, got 0"):
        train_icot(base, tmp_path / "a", tokens_removed_per_epoch=0)
    with pytest.raises(ValueError, match="--remove_all_beyond must be more than 0, got -1"):
        train_icot(base, tmp_path / "b", remove_all_beyond=-1)
    with pytest.raises(ValueError, match="--select_checkpoint must be last"):
        train_icot(base, tmp_path / "c", select_checkpoint="best_validation", task="prosqa_style", save_steps=None)
