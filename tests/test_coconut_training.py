"""Coconut training on Trainer: the curriculum the model actually sees, resuming, LoRA, baselines, CLI and example."""

import json
import runpy
import sys
from pathlib import Path

import huggingface_hub
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from softcot_hf import CoconutForCausalLM
from softcot_hf.cli import main as cli_main
from softcot_hf.data.prosqa_style import CONCEPTS, PEOPLE, generate_prosqa_style
from softcot_hf.methods import METHODS
from softcot_hf.pipelines import train
from softcot_hf.tiny import make_lm, make_tokenizer

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_coconut.py"
# Two-step ProsQA-style questions over a handful of concepts: short sequences, so a step takes milliseconds.
SMALL = dict(min_depth=2, max_depth=2, min_concepts=4, max_concepts=5, max_people=2)
# No checkpoints unless a test asks for them (save_steps), no evaluation unless it runs the CLI or the example.
FAST = dict(
    per_device_train_batch_size=4, gradient_accumulation_steps=1, learning_rate=1e-2, logging_steps=1, evaluate=False,
    save_steps=1000,
)  # fmt: skip


def train_coconut(backbone: str, output_dir: Path, method: str = "coconut", callbacks=None, **settings) -> dict:
    """`softcot_hf.train` with the curriculum method's arguments."""
    args = METHODS[method].arguments(method=method, backbone=backbone, output_dir=str(output_dir), **settings)
    return train(args, callbacks=callbacks)


def save_coconut_base(root: Path, dropout: bool = True) -> dict[str, str]:
    """A tiny GPT-2 with a word-level tokenizer over ProsQA-style words, saved in `root`, and a file of 8 training
    examples. `dropout=False` zeroes its dropout (each process of a distributed run would draw other masks)."""
    words = ["Every", "is", "a", "Is", "or", "###"] + [
        name + end for name in PEOPLE + CONCEPTS for end in ("", ".", "?")
    ]
    tokenizer = make_tokenizer("plain", words)
    model = make_lm("plain", len(tokenizer), hidden_size=16, seed=0)
    if not dropout:
        model.config.attn_pdrop = model.config.embd_pdrop = model.config.resid_pdrop = 0.0
    for config in (model.config, model.generation_config):
        config.bos_token_id = config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(root / "gpt2")
    tokenizer.save_pretrained(root / "gpt2")
    train_file = root / "train.json"
    train_file.write_text(json.dumps(generate_prosqa_style(8, seed=0, **SMALL)))
    return {"base": str(root / "gpt2"), "train_file": str(train_file)}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict[str, str]:
    return save_coconut_base(tmp_path_factory.mktemp("coconut_training"))


class Record(TrainerCallback):
    """The logged losses, and per training forward the epoch and each row's latent count and number of "is" tokens
    after <|end-latent|> (one per remaining step, plus one in the answer)."""

    def __init__(self):
        self.losses, self.batches, self.epoch = [], [], 0

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        model.register_forward_pre_hook(self.see, with_kwargs=True)

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.epoch = int(state.epoch or 0)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if "loss" in logs:
            self.losses.append(float(logs["loss"]))

    def see(self, module, args, kwargs):
        if module.training:
            self.batches.append((self.epoch, kwargs["input_ids"].clone()))


def layouts(record: Record, tokenizer) -> dict[int, set[tuple[int, int]]]:
    """epoch -> set of (latents, steps left) over the rows the model saw."""
    latent, end, is_id = tokenizer.convert_tokens_to_ids(["<|latent|>", "<|end-latent|>", "is"])
    seen = {}
    for epoch, input_ids in record.batches:
        for row in input_ids.tolist():
            after = row[row.index(end) + 1 :]
            seen.setdefault(epoch, set()).add((row.count(latent), after.count(is_id) - 1))
    return seen


def test_stage_advances_at_the_right_epochs(base, tmp_path):
    record = Record()
    train_coconut(
        base["base"], tmp_path / "run", train_file=base["train_file"], max_latent_stage=2, epochs_per_stage=2,
        num_train_epochs=6, callbacks=[record], **{**FAST, "per_device_train_batch_size": 8},
    )  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "run")
    # Every example has 2 steps: stage s replaces the first s by s latents; past stage 2 (epoch 6+) nothing changes.
    assert layouts(record, tokenizer) == {0: {(0, 2)}, 1: {(0, 2)}, 2: {(1, 1)}, 3: {(1, 1)}, 4: {(2, 0)}, 5: {(2, 0)}}
    assert len(record.batches) == 6


def test_cot_baseline_reduces_the_loss_and_saves_a_plain_lm(base, tmp_path):
    record = Record()
    result = train_coconut(
        base["base"], tmp_path / "cot", train_file=base["train_file"], method="cot", num_train_epochs=10,
        callbacks=[record], **FAST,
    )  # fmt: skip
    assert result["global_step"] == 20 and len(record.losses) == 20
    assert sum(record.losses[-4:]) / 4 < 0.6 * sum(record.losses[:4]) / 4
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "cot")
    assert type(model).__name__ == "GPT2LMHeadModel"
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "cot")
    assert "<|latent|>" not in tokenizer.get_vocab()  # cot never adds the Coconut tokens


def _final_weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model.safetensors"))


class Interrupt(TrainerCallback):
    def __init__(self, at_step: int):
        self.at_step = at_step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.at_step:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_to_the_same_weights(base, tmp_path):
    # 8 examples, batch 4: 2 steps per epoch, a checkpoint every 3 steps, so the run stops in the middle of epoch 1
    # (stage 1, optimizer state of stage 1 in the checkpoint); stage 2 starts at epoch 2.
    settings = {**FAST, "train_file": base["train_file"], "max_latent_stage": 2, "epochs_per_stage": 1}
    settings.update(num_train_epochs=4, save_steps=3)
    train_coconut(base["base"], tmp_path / "straight", **settings)
    with pytest.raises(KeyboardInterrupt):
        train_coconut(base["base"], tmp_path / "resumed", **settings, callbacks=[Interrupt(3)])
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    record = Record()
    result = train_coconut(base["base"], tmp_path / "resumed", **settings, callbacks=[record])
    assert result["global_step"] == 8
    assert [epoch for epoch, _ in record.batches] == [1, 2, 2, 3, 3]  # resumed after step 3 of 8
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "resumed")
    assert layouts(record, tokenizer)[1] == {(1, 1)}
    straight, resumed = _final_weights(tmp_path / "straight"), _final_weights(tmp_path / "resumed")
    assert straight.keys() == resumed.keys()
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=1e-6, msg=key)


def test_output_dir_of_another_run_is_refused(base, tmp_path):
    train_coconut(base["base"], tmp_path / "run", train_file=base["train_file"], num_train_epochs=1, **FAST)
    with pytest.raises(ValueError, match=r"a coconut run of other settings \(c_thought: 1 -> 2\)"):
        train_coconut(
            base["base"], tmp_path / "run", train_file=base["train_file"], num_train_epochs=1, c_thought=2, **FAST
        )
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a softcot-hf training run"):
        train_coconut(base["base"], tmp_path / "other", train_file=base["train_file"], **FAST)


def test_lora_coconut_saves_merged_model_and_adapter(base, tmp_path):
    result = train_coconut(
        base["base"], tmp_path / "lora", train_file=base["train_file"], max_latent_stage=1, epochs_per_stage=1,
        num_train_epochs=2, lora=True, lora_r=4, lora_alpha=8, **FAST,
    )  # fmt: skip
    assert result["global_step"] == 4
    adapter_config = json.loads((tmp_path / "lora" / "adapter" / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == base["base"]
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "lora").eval()
    assert isinstance(merged, CoconutForCausalLM)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    # Training moved the weights away from the base (LoRA merged in) and the Coconut tokens' rows.
    base_model = AutoModelForCausalLM.from_pretrained(base["base"])
    moved = merged.language_model.transformer.h[0].attn.c_attn.weight
    assert not torch.allclose(moved, base_model.transformer.h[0].attn.c_attn.weight)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "lora")
    rows = merged.get_input_embeddings().weight[tokenizer.convert_tokens_to_ids(["<|start-latent|>", "<|latent|>"])]
    assert not torch.allclose(rows[0], rows[1])  # both started as the mean embedding
    inputs = tokenizer(["Tom is a bompus. Is Tom a bompus or dumpus?"], return_tensors="pt")
    output = merged.generate(**inputs, max_new_tokens=3, min_new_tokens=3, do_sample=False)
    assert output.shape == (1, inputs["input_ids"].shape[1] + 1 + 1 + 1 + 3)


def test_clear_errors(base, tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(OSError, match="(?s)'someone/missing-model'.*download it first.*or pass the local path"):
        train_coconut("someone/missing-model", tmp_path / "a", train_file=base["train_file"], **FAST)
    no_steps = tmp_path / "no_steps.json"
    no_steps.write_text(json.dumps([{"question": "Is Tom a bompus?", "steps": [], "answer": "yes"}] * 4))
    with pytest.raises(ValueError, match="have no steps.*baseline without them .no_cot."):
        train_coconut(base["base"], tmp_path / "b", train_file=str(no_steps), **FAST)
    with pytest.raises(ValueError, match="--c_thought must be more than 0, got 0"):
        train_coconut(base["base"], tmp_path / "c", train_file=str(no_steps), c_thought=0, **FAST)


def test_cli_trains_no_cot_and_evaluates(base, tmp_path, capsys):
    cli_main(
        ["train", "no_cot", "--backbone", base["base"], "--train-file", base["train_file"],
         "--epochs", "1", "--batch-size", "4", "--gradient-accumulation-steps", "1", "--eval-limit", "2",
         "--max-new-tokens", "4", "--output-dir", str(tmp_path / "cli")]
    )  # fmt: skip
    assert "accuracy" in capsys.readouterr().out
    summary = json.loads((tmp_path / "cli" / "eval" / "summary.json").read_text())
    assert summary["method"] == "no_cot" and summary["num_examples"] == 2
    assert type(AutoModelForCausalLM.from_pretrained(tmp_path / "cli")).__name__ == "GPT2LMHeadModel"


def test_example_runs_at_tiny_scale(base, tmp_path, monkeypatch, capsys):
    argv = [str(EXAMPLE), "--backbone", base["base"], "--train-file", base["train_file"], "--epochs", "2",
            "--epochs-per-stage", "1", "--max-latent-stage", "1", "--batch-size", "8",
            "--gradient-accumulation-steps", "1", "--eval-limit", "1", "--max-new-tokens", "4",
            "--output-dir", str(tmp_path / "example")]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "accuracy" in out and "Question:" in out and "Gold:" in out
    assert isinstance(AutoModelForCausalLM.from_pretrained(tmp_path / "example"), CoconutForCausalLM)


def test_rerunning_a_finished_run_changes_nothing_and_says_so(base, tmp_path, capsys):
    settings = {**FAST, "train_file": base["train_file"], "num_train_epochs": 1}
    first = train_coconut(base["base"], tmp_path / "run", **settings)
    before = {path: path.read_bytes() for path in sorted((tmp_path / "run").rglob("*")) if path.is_file()}
    again = train_coconut(base["base"], tmp_path / "run", **settings)
    assert {path: path.read_bytes() for path in sorted((tmp_path / "run").rglob("*")) if path.is_file()} == before
    assert "nothing to train" in capsys.readouterr().out
    assert again["already_trained"] and again["global_step"] == first["global_step"]
