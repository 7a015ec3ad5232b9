"""The Coconut curriculum: exact token layouts per stage and baseline, and the stage callback under a real Trainer."""

from types import SimpleNamespace

import pytest
import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from softcot_hf import CoconutForCausalLM
from softcot_hf.methods import get_method
from softcot_hf.tiny import make_lm, make_tokenizer
from softcot_hf.training.coconut_curriculum import (
    CoconutCurriculum,
    CoconutStageCallback,
    CoconutStageDataset,
    CurriculumSettings,
    collate_right_padded,
)

TWO_STEPS = {"question": "what is 2 plus 3 ?", "steps": ["2 plus 3 = 5", "5 times 2 = 10"], "answer": "10"}
ONE_STEP = {"question": "what is 2 plus 3 ?", "steps": ["2 plus 3 = 5"], "answer": "5"}
Q = ["what", "is", "2", "plus", "3", "?"]
S1, S2 = ["2", "plus", "3", "=", "5"], ["5", "times", "2", "=", "10"]
S, E, L, EOS = "<|start-latent|>", "<|end-latent|>", "<|latent|>", "<|endoftext|>"


@pytest.fixture(scope="module")
def tokenizer():
    tokenizer = make_tokenizer("plain")
    CoconutForCausalLM.from_base(make_lm("plain", len(tokenizer) + 3, hidden_size=16), tokenizer)
    return tokenizer


def layout(tokenizer, example, stage, **settings):
    encoded = CoconutCurriculum(tokenizer, CurriculumSettings(c_thought=2, max_latent_stage=2, **settings)).encode(
        example, stage
    )
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    labelled = [t for t, label in zip(tokens, encoded["labels"], strict=True) if label != -100]
    return tokens, labelled


@pytest.mark.parametrize(
    "stage,expected",
    [
        (0, Q + [S, E] + S1 + S2 + ["###", "10", EOS]),
        (1, Q + [S, L, L, E] + S2 + ["###", "10", EOS]),
        (2, Q + [S] + [L] * 4 + [E] + ["###", "10", EOS]),
        (3, Q + [S] + [L] * 4 + [E] + ["###", "10", EOS]),
    ],
)
def test_stage_layouts_two_steps(tokenizer, stage, expected):
    tokens, labelled = layout(tokenizer, TWO_STEPS, stage)
    assert tokens == expected
    assert labelled == expected[expected.index(E) + 1 :]


@pytest.mark.parametrize(
    "stage,pad,latents",
    [(1, False, 2), (2, False, 2), (3, False, 2), (1, True, 2), (2, True, 4), (3, True, 4)],
)
def test_pad_latent_to_max_with_fewer_steps_than_stages(tokenizer, stage, pad, latents):
    tokens, _ = layout(tokenizer, ONE_STEP, stage, pad_latent_to_max=pad)
    assert tokens == Q + [S] + [L] * latents + [E] + ["###", "5", EOS]


def method_layout(tokenizer, method: str, example, stage):
    """The layout the method's own encoder writes (its training arguments reduced to what the encoder reads)."""
    args = SimpleNamespace(c_thought=2, max_latent_stage=2, pad_latent_to_max=False, uniform_prob=0.0, seed=0)
    return tokenizer.convert_ids_to_tokens(
        get_method(method).encoder(tokenizer, args).encode(example, stage)["input_ids"]
    )


def test_baseline_layouts(tokenizer):
    assert method_layout(tokenizer, "cot", TWO_STEPS, 2) == Q + S1 + S2 + ["###", "10", EOS]
    assert method_layout(tokenizer, "no_cot", TWO_STEPS, 2) == Q + ["###", "10", EOS]
    assert method_layout(tokenizer, "no_thoughts", TWO_STEPS, 1) == Q + [S, E] + S2 + ["###", "10", EOS]
    assert method_layout(tokenizer, "coconut", TWO_STEPS, 1) == layout(tokenizer, TWO_STEPS, 1)[0]


def test_uniform_prob_mixes_stages_reproducibly(tokenizer):
    curriculum = CoconutCurriculum(tokenizer, CurriculumSettings(max_latent_stage=3, uniform_prob=1.0), seed=7)
    stages = [curriculum.scheduled_stage(0, epoch=0, index=i) for i in range(40)]
    assert set(stages) == {0, 1, 2, 3}
    assert stages == [curriculum.scheduled_stage(0, epoch=0, index=i) for i in range(40)]


def test_tokenizer_without_coconut_tokens():
    with pytest.raises(ValueError, match="no <\\|start-latent\\|> token.*from_base"):
        CoconutCurriculum(make_tokenizer("plain"), CurriculumSettings())


class _Record(TrainerCallback):
    """Per step: how many latent tokens the batch held and how many optimizer states existed before the step."""

    def __init__(self, latent_id: int):
        self.latent_id = latent_id
        self.steps = []

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self.steps.append({"epoch": round(state.epoch or 0), "states": len(optimizer.state)})


def test_stage_callback_advances_stage_and_resets_optimizer(tokenizer, tmp_path):
    torch.manual_seed(0)
    model = CoconutForCausalLM.from_base(make_lm("plain", len(tokenizer), hidden_size=16), tokenizer)
    curriculum = CoconutCurriculum(tokenizer, CurriculumSettings(c_thought=1, max_latent_stage=2))
    dataset = CoconutStageDataset([TWO_STEPS] * 4, curriculum)
    seen_stages = []

    def collate(features):
        seen_stages.append(dataset.stage)
        return collate_right_padded(features, tokenizer.pad_token_id or tokenizer.eos_token_id)

    record = _Record(model.config.latent_token_id)
    args = TrainingArguments(
        output_dir=str(tmp_path),
        num_train_epochs=4,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        report_to=[],
        save_strategy="no",
        disable_tqdm=True,
        use_cpu=True,
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=collate,
        callbacks=[CoconutStageCallback(dataset, epochs_per_stage=2), record],
    )
    trainer.train()
    assert [s["epoch"] for s in record.steps] == [0, 1, 2, 3]
    assert seen_stages == [0, 0, 1, 1]
    # Optimizer state exists after the first step; it is cleared when stage 1 begins (epoch 2), not at epoch 1 or 3.
    assert [s["states"] > 0 for s in record.steps] == [False, True, False, True]
