"""SIM-CoT: the step loss against a literal per-example reference, the step texts each latent group gets, where
gradients flow, the artifact without the decoder (generation unchanged), training end to end and evaluation."""

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from test_coconut_training import FAST, save_coconut_base, train_coconut
from transformers import AutoModelForCausalLM, AutoTokenizer

from softcot_hf import CoconutForCausalLM
from softcot_hf.cli import main as cli_main
from softcot_hf.tiny import make_lm, make_tokenizer
from softcot_hf.training.coconut_curriculum import CurriculumSettings
from softcot_hf.training.simcot_training import (
    ATTRIBUTE,
    SimCoTCurriculum,
    attach_step_supervision,
    copy_decoder,
    detach_step_supervision,
)
from softcot_hf.training.step_supervision import StepSupervision

EOS = 0


def literal_step_loss(decoder, thoughts, step_targets, c, reduction, projection=None):
    """One decoder call per (example, group), summed token by token; the official "example" reduction or the token
    mean."""
    per_group, token_losses = {}, []
    for b, groups in enumerate(step_targets):
        for g, text in enumerate(groups):
            prefix = thoughts[b, g * c : (g + 1) * c]
            prefix = prefix if projection is None else projection(prefix)
            target = torch.tensor(text + [EOS])
            inputs = torch.cat([prefix, decoder.get_input_embeddings()(target)])[None]
            logits = decoder(inputs_embeds=inputs).logits[0]
            losses = [F.cross_entropy(logits[c - 1 + i], target[i]) for i in range(len(target))]
            token_losses += losses
            per_group.setdefault(g, []).append(sum(losses))
    if reduction == "token":
        return sum(token_losses) / len(token_losses)
    return sum(sum(values) / len(values) for values in per_group.values()) / len(per_group)


@pytest.mark.parametrize("reduction", ["example", "token"])
@pytest.mark.parametrize("decoder_width", [16, 24])  # 24: a projection from the thoughts' 16
def test_step_loss_equals_the_literal_reference(reduction, decoder_width):
    torch.manual_seed(0)
    decoder = make_lm("plain", 30, hidden_size=decoder_width, seed=1).eval()
    supervision = StepSupervision(decoder, thought_size=16, eos_token_id=EOS, reduction=reduction)
    thoughts = torch.randn(3, 6, 16)
    # Example 0: 3 groups, example 1: 1 group (its other thoughts are padding), example 2: 2 groups; steps of
    # different lengths, so rows are padded inside the decoder's batch.
    step_targets = [[[5, 6, 7], [8], [9, 10, 11, 12]], [[13, 14]], [[15], [16, 17, 18, 19, 20]]]
    got = supervision(thoughts, step_targets, c_thought=2)
    want = literal_step_loss(decoder, thoughts, step_targets, 2, reduction, supervision.projection)
    torch.testing.assert_close(got, want, rtol=0, atol=2e-6)  # float32 noise of one batched vs many calls


def test_step_loss_refuses_targets_beyond_the_thoughts():
    supervision = StepSupervision(make_lm("plain", 30, hidden_size=16, seed=1), 16, EOS)
    with pytest.raises(ValueError, match="2 step targets of 2 thoughts each, but only 3 thoughts"):
        supervision(torch.zeros(1, 3, 16), [[[5], [6]]], c_thought=2)


def test_each_latent_group_gets_its_step_and_the_last_group_the_rest():
    tokenizer = make_tokenizer("plain", ["a", "b", "c", "d", "###", "7", "\n"])
    CoconutForCausalLM.from_base(make_lm("plain", len(tokenizer), hidden_size=16, seed=0), tokenizer)
    example = {"question": "a", "steps": ["a", "b", "c", "d"], "answer": "7"}
    settings = CurriculumSettings(c_thought=2, max_latent_stage=3, pad_latent_to_max=True)
    curriculum = SimCoTCurriculum(tokenizer, settings)

    def texts(example, stage):
        encoded = curriculum.encode(example, stage)
        num_latents = encoded["input_ids"].count(curriculum.latent_id)
        assert len(encoded["step_targets"]) * 2 == num_latents
        return encoded["step_targets"]

    def ids(*texts):
        return [tokenizer(text, add_special_tokens=False).input_ids for text in texts]

    assert texts(example, 0) == []
    assert texts(example, 1) == ids("a")
    assert texts(example, 2) == ids("a", "b")
    assert texts(example, 3) == ids("a", "b", "c\nd")  # the last possible group takes every remaining step
    assert texts(example, 5) == ids("a", "b", "c\nd")
    short = {"question": "a", "steps": ["a"], "answer": "7"}
    assert texts(short, 3) == ids("a", "### 7", "### 7")  # padded latents decode the answer line


def tiny_coconut(seed: int = 0):
    tokenizer = make_tokenizer("plain", [f"w{i}" for i in range(20)])
    model = make_lm("plain", len(tokenizer), hidden_size=16, seed=seed)
    model.config.attn_pdrop = model.config.embd_pdrop = model.config.resid_pdrop = 0.0
    return CoconutForCausalLM.from_base(model, tokenizer, c_thought=2, max_latent_stage=2), tokenizer


def batch_with_latents(model, tokenizer):
    config = model.config
    words = tokenizer.convert_tokens_to_ids(["w1", "w2", "w3", "w4", "w5"])
    rows = [
        words[:2] + [config.start_latent_token_id] + [config.latent_token_id] * 4 + [config.end_latent_token_id],
        words[:3] + [config.start_latent_token_id] + [config.latent_token_id] * 2 + [config.end_latent_token_id],
    ]
    width = max(map(len, rows))
    input_ids = torch.tensor([row + [EOS] * (width - len(row)) for row in rows])
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])
    return input_ids, mask, [[words[3:5], [words[0]]], [[words[2]]]]


def test_forward_returns_the_thoughts_that_inspect_thoughts_sees():
    model, tokenizer = tiny_coconut()
    model.eval()
    question = torch.tensor([tokenizer.convert_tokens_to_ids(["w1", "w2", "w3"])])
    inspected = model.inspect_thoughts(question, num_latent_thoughts=3).thoughts
    input_ids, mask = model._append_thought_tokens(question, None, 3)
    thoughts = model(input_ids=input_ids, output_thoughts=True).thoughts
    torch.testing.assert_close(thoughts, inspected, rtol=0, atol=0)
    assert model(input_ids=question, output_thoughts=True).thoughts is None  # no latents, no thoughts


def test_step_loss_reaches_the_model_through_the_thoughts_and_the_decoder():
    model, tokenizer = tiny_coconut()
    supervision = attach_step_supervision(model, copy_decoder(model), EOS)
    input_ids, mask, targets = batch_with_latents(model, tokenizer)
    outputs = model(input_ids=input_ids, attention_mask=mask, output_thoughts=True)
    supervision(outputs.thoughts, targets, c_thought=2).backward()
    decoder_grads = [p.grad for p in supervision.decoder.parameters()]
    assert all(g is not None for g in decoder_grads) and any(g.abs().sum() > 0 for g in decoder_grads)
    first_layer = model.language_model.transformer.h[0].attn.c_attn.weight
    assert first_layer.grad is not None and first_layer.grad.abs().sum() > 0  # through the thoughts
    # The LM loss alone never reaches the decoder, and the step loss does not reach the model without thoughts.
    model.zero_grad(set_to_none=True)
    model(input_ids=input_ids, attention_mask=mask, labels=input_ids).loss.backward()
    assert all(p.grad is None for p in supervision.decoder.parameters())
    model.zero_grad(set_to_none=True)
    thoughts = model(input_ids=input_ids, attention_mask=mask, output_thoughts=True).thoughts.detach()
    supervision(thoughts, targets, c_thought=2).backward()
    assert all(p.grad is None for p in model.language_model.parameters())


def test_the_artifact_is_a_plain_coconut_folder_that_generates_as_before(tmp_path):
    model, tokenizer = tiny_coconut()
    model.eval()
    question = torch.tensor([tokenizer.convert_tokens_to_ids(["w1", "w2", "w3"])])
    before = model.generate(question, max_new_tokens=6, do_sample=False)
    attach_step_supervision(model, make_lm("plain", len(tokenizer), hidden_size=24, seed=3), EOS)
    with_decoder = model.generate(question, max_new_tokens=6, do_sample=False)
    detach_step_supervision(model, tokenizer, tmp_path / "step_decoder")
    assert not hasattr(model, ATTRIBUTE)
    model.save_pretrained(tmp_path)
    saved = load_file(str(tmp_path / "model.safetensors"))
    assert not any("step" in name or "decoder." in name for name in saved)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert torch.equal(before, with_decoder)
    assert torch.equal(before, reloaded.generate(question, max_new_tokens=6, do_sample=False))
    # The decoder was saved apart, with the projection its width needs; inspect_thoughts decodes each group with it.
    assert (tmp_path / "step_decoder" / "step_projection.safetensors").is_file()
    inspection = reloaded.inspect_thoughts(
        question, num_latent_thoughts=3, tokenizer=tokenizer, step_decoder=str(tmp_path / "step_decoder"),
        max_step_tokens=4,
    )  # fmt: skip
    assert len(inspection.step_ids[0]) == 2 and len(inspection.step_texts[0]) == 2  # groups of 2: 2 + 1 thoughts
    assert all(len(ids) <= 4 for ids in inspection.step_ids[0])


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict[str, str]:
    return save_coconut_base(tmp_path_factory.mktemp("simcot_training"))


def test_simcot_trains_end_to_end_and_saves_coconut_without_the_decoder(base, tmp_path):
    run = tmp_path / "run"
    result = train_coconut(
        base["base"], run, method="simcot", train_file=base["train_file"], max_latent_stage=2, epochs_per_stage=1,
        num_train_epochs=3, save_step_decoder=True, **FAST,
    )  # fmt: skip
    assert result["global_step"] == 6
    config = json.loads((run / "config.json").read_text())
    assert config["model_type"] == "coconut"
    assert not any(name.startswith(ATTRIBUTE) for name in load_file(str(run / "model.safetensors")))
    assert (run / "step_decoder" / "model.safetensors").is_file()
    model = AutoModelForCausalLM.from_pretrained(run)
    tokenizer = AutoTokenizer.from_pretrained(run)
    question = tokenizer("Alex is a", return_tensors="pt").input_ids
    inspection = model.inspect_thoughts(question, tokenizer=tokenizer, step_decoder=str(run / "step_decoder"))
    assert len(inspection.step_texts[0]) == 2  # c = 1, 2 latent stages: two groups


def test_simcot_loss_adds_the_weighted_step_loss(tmp_path):
    """weight 0 trains exactly as Coconut; weight 1 does not (the step loss moves the model). Without dropout: the
    decoder's dropout would draw from the RNG and change the model's next masks."""
    base = save_coconut_base(tmp_path, dropout=False)
    settings = dict(train_file=base["train_file"], max_latent_stage=1, epochs_per_stage=1, num_train_epochs=2, **FAST)
    train_coconut(base["base"], tmp_path / "coconut", **settings)
    train_coconut(base["base"], tmp_path / "zero", method="simcot", step_loss_weight=0.0, **settings)
    train_coconut(base["base"], tmp_path / "one", method="simcot", **settings)
    coconut, zero, one = (load_file(str(tmp_path / name / "model.safetensors")) for name in ("coconut", "zero", "one"))
    assert set(coconut) == set(zero) == set(one)
    assert all(torch.equal(coconut[name], zero[name]) for name in coconut)
    assert not all(torch.equal(coconut[name], one[name]) for name in coconut)


def test_gradient_accumulation_gives_the_weights_of_one_batch(tmp_path):
    """Batch 8 in one step or 4 x 2 accumulated: the step loss is scaled as the LM loss is (no dropout, every example
    with as many step groups, so both are the same mean)."""
    base = save_coconut_base(tmp_path, dropout=False)
    settings = dict(train_file=base["train_file"], max_latent_stage=1, epochs_per_stage=1, num_train_epochs=2)
    settings.update(learning_rate=1e-2, evaluate=False, save_steps=1000)
    train_coconut(base["base"], tmp_path / "one", method="simcot", per_device_train_batch_size=8, **settings)
    train_coconut(
        base["base"], tmp_path / "acc", method="simcot", per_device_train_batch_size=4, gradient_accumulation_steps=2,
        **settings,
    )  # fmt: skip
    one, accumulated = (load_file(str(tmp_path / name / "model.safetensors")) for name in ("one", "acc"))
    # Measured: 1.8e-5 apart (float noise of other summation orders, through Adam); without the 1/2 on the step loss
    # 2e-2 (2 x lr: Adam flips near-zero updates).
    for name in one:
        torch.testing.assert_close(accumulated[name], one[name], rtol=0, atol=1e-4, msg=name)


def test_cli_trains_simcot_and_evaluates(base, tmp_path, capsys):
    cli_main(
        ["train", "simcot", "--backbone", base["base"], "--train-file", base["train_file"],
         "--epochs", "2", "--epochs-per-stage", "1", "--max-latent-stage", "1", "--batch-size", "4",
         "--gradient-accumulation-steps", "1", "--eval-limit", "2", "--max-new-tokens", "4",
         "--output-dir", str(tmp_path / "cli")]
    )  # fmt: skip
    assert "accuracy" in capsys.readouterr().out
    summary = json.loads((tmp_path / "cli" / "eval" / "summary.json").read_text())
    assert summary["method"] == "simcot" and summary["num_examples"] == 2
    cli_main(["eval", "--method", "coconut", "--task", summary["task"], "--model", str(tmp_path / "cli"),
              "--limit", "2", "--max-new-tokens", "4", "--output-dir", str(tmp_path / "as_coconut")])  # fmt: skip
    coconut = json.loads((tmp_path / "as_coconut" / "summary.json").read_text())
    assert coconut["accuracy"] == summary["accuracy"]


def test_clear_errors(base, tmp_path):
    with pytest.raises(ValueError, match="simcot trains the whole model"):
        train_coconut(base["base"], tmp_path / "a", method="simcot", lora=True, train_file=base["train_file"], **FAST)
    with pytest.raises(ValueError, match="--step_loss_weight must be 0 or more"):
        train_coconut(base["base"], tmp_path / "b", method="simcot", step_loss_weight=-1.0, **FAST)
