"""Weights we write carry their SHA-256 (`weights_sha256.json`), and loading checks it: a flipped byte is refused, a
folder saved before the record existed still loads. Also: frozen models are fingerprinted without reading their
weights (`evaluation.harness`)."""

import json
import os
from pathlib import Path

import huggingface_hub
import peft
import pytest
import torch
from conftest import build
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments

from softcot_hf import CoconutForCausalLM, CoTUnkForCausalLM, SoftCoTForCausalLM
from softcot_hf.methods import get_method
from softcot_hf.modeling.hub_push import files_to_push
from softcot_hf.modeling.thought_sets import add_thought_sets, random_thought_set_vectors
from softcot_hf.modeling.weights_record import RECORD_NAME, WeightsIntegrityError, file_sha256, verify_weights
from softcot_hf.run_files import model_fingerprint
from softcot_hf.tiny import make_lm, make_tokenizer
from softcot_hf.training.coconut_training import save_artifact
from softcot_hf.training.engines import TrainablePartTrainer


def softcot(pair_dirs):
    return build(pair_dirs, num_thought_tokens=3)[0]


def softcotpp(pair_dirs):
    model = softcot(pair_dirs)
    table = model.assistant.get_input_embeddings().weight
    add_thought_sets(model, random_thought_set_vectors(table, 3, torch.Generator().manual_seed(0)), trainable=True)
    return model


def cot_unk(pair_dirs):
    torch.manual_seed(0)
    return CoTUnkForCausalLM.from_backbone(pair_dirs["llama_backbone"], num_thought_tokens=3)


def coconut(pair_dirs):
    tokenizer = make_tokenizer("llama")
    return CoconutForCausalLM.from_base(make_lm("llama", len(tokenizer) + 3, 32, seed=0), tokenizer)


MODELS = {"softcot": softcot, "softcotpp": softcotpp, "cot_unk": cot_unk, "coconut": coconut}


def flip_last_byte(path) -> None:
    """Change one bit of the last tensor byte of a safetensors file (the file still parses)."""
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))


def first_weight(model) -> torch.Tensor:
    name = next(name for name, parameter in model.named_parameters() if parameter.requires_grad)
    return model.get_parameter(name)


@pytest.fixture(params=MODELS)
def saved(request, pair_dirs, tmp_path):
    model = MODELS[request.param](pair_dirs)
    model.save_pretrained(tmp_path)
    return model, tmp_path


def test_save_records_the_sha256_of_every_weights_file_and_a_push_uploads_it(saved):
    _, folder = saved
    record = json.loads((folder / RECORD_NAME).read_text())
    assert record == {"sha256": {"model.safetensors": file_sha256(folder / "model.safetensors")}}
    assert RECORD_NAME in files_to_push(folder)


@pytest.mark.parametrize("load", [AutoModelForCausalLM.from_pretrained, "own class"])
def test_a_flipped_byte_is_refused_on_load_naming_the_file_and_both_digests(saved, load):
    model, folder = saved
    load = type(model).from_pretrained if load == "own class" else load
    torch.testing.assert_close(first_weight(load(folder)), first_weight(model), atol=0, rtol=0)
    expected = file_sha256(folder / "model.safetensors")
    flip_last_byte(folder / "model.safetensors")
    with pytest.raises(WeightsIntegrityError, match="model.safetensors") as error:
        load(folder)
    message = str(error.value)
    assert expected in message and file_sha256(folder / "model.safetensors") in message
    assert f"delete {RECORD_NAME}" in message


def test_a_folder_without_the_record_loads_as_before(saved):
    """Folders written before the record existed load unchecked (a flipped byte included: nothing to check against)."""
    model, folder = saved
    (folder / RECORD_NAME).unlink()
    flip_last_byte(folder / "model.safetensors")
    assert type(AutoModelForCausalLM.from_pretrained(folder)) is type(model)


def test_an_unreadable_record_is_a_clear_error(saved):
    _, folder = saved
    (folder / RECORD_NAME).write_text("{not json")
    with pytest.raises(WeightsIntegrityError, match=f"{RECORD_NAME} of .* is unreadable"):
        AutoModelForCausalLM.from_pretrained(folder)


def test_a_listed_file_that_is_missing_is_a_clear_error_and_other_safetensors_are_not_listed(pair_dirs, tmp_path):
    model = coconut(pair_dirs)
    write_sparse_safetensors(tmp_path / "assistant_states.safetensors", 8)  # e.g. an assistant cache kept there
    model.save_pretrained(tmp_path)
    assert list(json.loads((tmp_path / RECORD_NAME).read_text())["sha256"]) == ["model.safetensors"]
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(WeightsIntegrityError, match="lists model.safetensors, which could not be read"):
        verify_weights(tmp_path)


def test_saving_again_replaces_the_record_and_other_processes_write_none(pair_dirs, tmp_path):
    model = softcot(pair_dirs)
    model.save_pretrained(tmp_path / "other", is_main_process=False)
    assert not (tmp_path / "other" / RECORD_NAME).exists()
    model.save_pretrained(tmp_path)
    with torch.no_grad():
        model.projection.linear_1.bias.add_(1.0)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / RECORD_NAME).read_text())["sha256"]["model.safetensors"] == file_sha256(
        tmp_path / "model.safetensors"
    )
    SoftCoTForCausalLM.from_pretrained(tmp_path)


def test_coconut_lora_artifact_records_the_adapter_and_the_merged_model(tmp_path):
    tokenizer = make_tokenizer("llama")
    base = make_lm("llama", len(tokenizer) + 3, 32, seed=0)
    config = peft.LoraConfig(r=2, target_modules="all-linear", task_type="CAUSAL_LM")
    model = peft.get_peft_model(CoconutForCausalLM.from_base(base, tokenizer), config)
    save_artifact(model, tokenizer, tmp_path)
    adapter = tmp_path / "adapter"
    assert json.loads((adapter / RECORD_NAME).read_text())["sha256"] == {
        "adapter_model.safetensors": file_sha256(adapter / "adapter_model.safetensors")
    }
    assert (tmp_path / RECORD_NAME).is_file()  # the merged Coconut model's own record


def test_a_trainer_saved_lora_adapter_is_recorded_and_the_lora_method_refuses_a_damaged_one(pair_dirs, tmp_path):
    backbone = AutoModelForCausalLM.from_pretrained(pair_dirs["llama_backbone"])
    model = peft.get_peft_model(backbone, peft.LoraConfig(r=2, target_modules="all-linear", task_type="CAUSAL_LM"))
    trainer = TrainablePartTrainer(model=model, args=TrainingArguments(str(tmp_path / "run"), report_to=[]))
    folder = tmp_path / "adapter"
    trainer.save_model(str(folder))
    AutoTokenizer.from_pretrained(pair_dirs["llama_backbone"]).save_pretrained(folder)  # as the LoRA pipeline does
    assert json.loads((folder / RECORD_NAME).read_text())["sha256"] == {
        "adapter_model.safetensors": file_sha256(folder / "adapter_model.safetensors")
    }
    lora = get_method("lora")
    lora.load_artifact(folder, {})
    flip_last_byte(folder / "adapter_model.safetensors")
    with pytest.raises(WeightsIntegrityError, match="adapter_model.safetensors"):
        lora.load_artifact(folder, {})


def write_sparse_safetensors(path, num_bytes: int) -> None:
    """A valid safetensors file holding one uint8 tensor of `num_bytes` zeros, sparse on disk (nothing is written)."""
    header = json.dumps({"weight": {"dtype": "U8", "shape": [num_bytes], "data_offsets": [0, num_bytes]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as file:
        file.write(len(header).to_bytes(8, "little") + header)
        file.truncate(8 + len(header) + num_bytes)


def bytes_read_by_this_process() -> int:
    """Bytes this process has read through read() calls so far (Linux: `rchar` of /proc/self/io)."""
    return int(next(line for line in Path("/proc/self/io").read_text().splitlines() if line.startswith("rchar:"))[7:])


@pytest.mark.skipif(not Path("/proc/self/io").is_file(), reason="counts bytes read through /proc/self/io (Linux)")
def test_a_frozen_model_folder_is_fingerprinted_without_reading_its_weights(tmp_path):
    """A 1 GiB weights file: the fingerprint reads its header (and the small configs), not its tensors."""
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    write_sparse_safetensors(tmp_path / "model.safetensors", 1 << 30)
    before = bytes_read_by_this_process()
    fingerprint = model_fingerprint(tmp_path)
    assert bytes_read_by_this_process() - before < 1 << 20
    assert model_fingerprint(tmp_path) == fingerprint


def test_the_fingerprint_changes_with_configs_headers_and_rewritten_weights(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    write_sparse_safetensors(tmp_path / "model.safetensors", 64)
    seen = {model_fingerprint(tmp_path)}
    (tmp_path / "config.json").write_text('{"model_type": "qwen2"}')
    seen.add(model_fingerprint(tmp_path))
    write_sparse_safetensors(tmp_path / "model.safetensors", 72)  # another shape
    seen.add(model_fingerprint(tmp_path))
    stat = (tmp_path / "model.safetensors").stat()
    os.utime(tmp_path / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # saved again, same shape
    seen.add(model_fingerprint(tmp_path))
    (tmp_path / "README.md").write_text("not part of the model")
    assert model_fingerprint(tmp_path) in seen and len(seen) == 4


def test_a_hub_model_is_fingerprinted_by_its_cached_commit(tmp_path, monkeypatch):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--owner--frozen"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text('{"model_type": "llama"}')
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert model_fingerprint("owner/frozen") == commit
    assert model_fingerprint("owner/not-downloaded") is None
    assert model_fingerprint(None) is None
