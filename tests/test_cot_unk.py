"""CoTUnkForCausalLM (Zero-Shot CoT-Unk): slots, what trains, save/reload, Auto classes, assistant-less processor."""

import json
import os

import pytest
import torch
from conftest import QUESTIONS, backbone_inputs_embeds
from safetensors.torch import load_file
from test_softcot_save_load import copy_with_remote_code, point_backbone_at
from transformers import AutoConfig, AutoModelForCausalLM, AutoProcessor, AutoTokenizer

from softcot_hf import CoTUnkConfig, CoTUnkForCausalLM, SoftCoTProcessor


def build(pair_dirs, backbone: str = "llama_backbone", n: int = 3, seed: int = 0):
    torch.manual_seed(seed)
    model = CoTUnkForCausalLM.from_backbone(pair_dirs[backbone], num_thought_tokens=n)
    processor = SoftCoTProcessor(None, AutoTokenizer.from_pretrained(pair_dirs[backbone]), num_thought_tokens=n)
    return model, processor


def test_processor_without_assistant_returns_backbone_inputs_only(pair_dirs):
    model, processor = build(pair_dirs)
    batch = processor(QUESTIONS, answers=["5", "3", "1"])
    assert sorted(batch) == ["attention_mask", "input_ids", "labels"]
    slots = model.get_slot_mask(batch["input_ids"], batch["attention_mask"])
    assert slots.sum(-1).tolist() == [3, 3, 3]


def test_slots_hold_the_embeddings_and_everything_else_is_the_backbone(pair_dirs):
    model, processor = build(pair_dirs)
    inputs = processor(QUESTIONS[:1])
    embeds = backbone_inputs_embeds(model, **inputs)
    slots = model.get_slot_mask(inputs["input_ids"])
    torch.testing.assert_close(embeds[slots], model.thought_embeddings.weight)
    ids = inputs["input_ids"][~slots]
    torch.testing.assert_close(embeds[~slots], model.backbone.get_input_embeddings()(ids))
    with torch.no_grad():
        reference = model.backbone(inputs_embeds=embeds, attention_mask=inputs["attention_mask"]).logits
        torch.testing.assert_close(model(**inputs).logits, reference)


def test_init_follows_the_embedding_statistics_and_differs_per_slot(pair_dirs):
    model, _ = build(pair_dirs, n=64)
    table = model.backbone.get_input_embeddings().weight
    weight = model.thought_embeddings.weight
    assert weight.dtype == torch.float32
    assert not torch.equal(weight[0], weight[1])
    assert abs(weight.std().item() - table.std().item()) < 0.3 * table.std().item()


def test_only_the_embeddings_train(pair_dirs):
    model, processor = build(pair_dirs)
    assert [name for name, p in model.named_parameters() if p.requires_grad] == ["thought_embeddings.weight"]
    model.train()
    assert not model.backbone.training
    loss = model(**processor(QUESTIONS, answers=["5", "3", "1"])).loss
    loss.backward()
    assert model.thought_embeddings.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.backbone.parameters())


def test_wrong_slot_count_is_a_clear_error(pair_dirs):
    model, processor = build(pair_dirs, n=3)
    other = SoftCoTProcessor(None, processor.backbone_tokenizer, num_thought_tokens=2)
    with pytest.raises(ValueError, match="exactly num_thought_tokens=3"):
        model(**other(QUESTIONS[:1]))


def test_save_reload_round_trip_keeps_the_files_config_and_processor(pair_dirs, tmp_path):
    model, processor = build(pair_dirs, backbone="gpt2_backbone", seed=5)  # slot token added beyond the table
    inputs = processor(QUESTIONS)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    assert sorted(weights) == ["thought_embeddings.weight"] and weights["thought_embeddings.weight"].shape[0] == 3
    files = sorted(os.listdir(tmp_path))
    for expected in ("configuration_cot_unk.py", "modeling_cot_unk.py", "thought_tokens.py"):
        assert expected in files
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "cot_unk" and config["backbone_model_name_or_path"] == pair_dirs["gpt2_backbone"]
    assert config["auto_map"]["AutoModelForCausalLM"] == "modeling_cot_unk.CoTUnkForCausalLM"

    assert isinstance(AutoConfig.from_pretrained(tmp_path), CoTUnkConfig)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert isinstance(reloaded, CoTUnkForCausalLM)
    loaded_processor = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded_processor, SoftCoTProcessor) and loaded_processor.assistant_tokenizer is None
    again = loaded_processor(QUESTIONS)
    assert sorted(again) == ["attention_mask", "input_ids"]
    assert torch.equal(again["input_ids"], inputs["input_ids"])
    bf16 = CoTUnkForCausalLM.from_pretrained(tmp_path, dtype=torch.bfloat16)
    assert bf16.backbone.dtype == torch.bfloat16 and bf16.thought_embeddings.weight.dtype == torch.float32
    assert bf16.backbone.config._attn_implementation in ("sdpa", "eager")


def test_trust_for_our_repo_does_not_reach_the_backbone(pair_dirs, tmp_path):
    model, _ = build(pair_dirs)
    model.save_pretrained(tmp_path / "cot_unk")
    backbone, marker = copy_with_remote_code(pair_dirs["llama_backbone"], tmp_path)
    checkpoint = point_backbone_at(tmp_path / "cot_unk", backbone, tmp_path)
    with pytest.raises(ValueError, match=r"needs its own code.*covers the CoT-Unk repo only.*frozen_trust_remote"):
        AutoModelForCausalLM.from_pretrained(checkpoint, trust_remote_code=True)
    assert not marker.exists()
    loaded = CoTUnkForCausalLM.from_pretrained(checkpoint, frozen_trust_remote_code=True)
    assert marker.exists() and type(loaded.backbone).__name__ == "MarkerForCausalLM"
    torch.testing.assert_close(loaded.thought_embeddings.weight, model.thought_embeddings.weight, atol=0, rtol=0)
