"""Save -> load round trips: projection-only weights, Auto classes, remote code without the package, processor."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import QUESTIONS, build
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForCausalLM, AutoProcessor

from softcot_hf import SoftCoTConfig, SoftCoTForCausalLM, SoftCoTProcessor


@pytest.fixture(scope="module")
def saved(pair_dirs, tmp_path_factory):
    """A model and processor saved to one folder, plus inputs and the logits before saving."""
    model, processor = build(pair_dirs, num_thought_tokens=3, seed=7)
    folder = tmp_path_factory.mktemp("softcot")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    inputs = processor(QUESTIONS)
    with torch.no_grad():
        logits = model(**inputs).logits
    generated = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    return folder, model, inputs, logits, generated


def test_folder_holds_config_projection_and_remote_code(saved):
    folder, model, *_ = saved
    files = sorted(os.listdir(folder))
    for expected in ("config.json", "model.safetensors", "modeling_softcot.py", "configuration_softcot.py"):
        assert expected in files
    assert "thought_tokens.py" in files  # relative import of modeling_softcot.py
    weights = load_file(folder / "model.safetensors")
    assert sorted(weights) == ["projection.linear_1.bias", "projection.linear_1.weight"]
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "softcot"
    assert config["auto_map"] == {
        "AutoConfig": "configuration_softcot.SoftCoTConfig",
        "AutoModelForCausalLM": "modeling_softcot.SoftCoTForCausalLM",
    }
    assert config["assistant_model_name_or_path"] == model.config.assistant_model_name_or_path
    assert config["backbone_model_name_or_path"] == model.config.backbone_model_name_or_path


def test_auto_model_reload_gives_identical_logits_and_generations(saved):
    folder, _, inputs, logits, generated = saved
    assert isinstance(AutoConfig.from_pretrained(folder), SoftCoTConfig)
    reloaded = AutoModelForCausalLM.from_pretrained(folder)
    assert isinstance(reloaded, SoftCoTForCausalLM) and not reloaded.training
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs).logits, logits, atol=0, rtol=0)
    assert reloaded.generate(**inputs, max_new_tokens=6, do_sample=False).tolist() == generated.tolist()
    for sub in (reloaded.assistant, reloaded.backbone):
        assert sub.config._attn_implementation in ("sdpa", "eager")
        assert not any(p.requires_grad for p in sub.parameters())


@pytest.mark.parametrize("load", [AutoModelForCausalLM.from_pretrained, SoftCoTForCausalLM.from_pretrained])
def test_loading_arguments_reach_the_frozen_models(saved, load):
    folder, *_ = saved
    model = load(folder, attn_implementation="eager", dtype=torch.bfloat16, device_map="cpu", local_files_only=True)
    for sub in (model.assistant, model.backbone):
        assert sub.config._attn_implementation == "eager" and sub.dtype == torch.bfloat16
    assert model.projection.linear_1.weight.dtype == torch.float32


def test_processor_reloads_with_the_model_folder(saved):
    folder, _, inputs, *_ = saved
    processor = AutoProcessor.from_pretrained(folder)
    assert isinstance(processor, SoftCoTProcessor) and processor.num_thought_tokens == 3
    again = processor(QUESTIONS)
    for key, value in inputs.items():
        assert torch.equal(again[key], value), key


def test_trainer_style_state_dict_save_stays_projection_only(saved, tmp_path):
    """Trainer passes the full state_dict to save_pretrained; frozen keys must still be dropped."""
    _, model, *_ = saved
    model.save_pretrained(tmp_path, state_dict=model.state_dict())
    assert all(key.startswith("projection.") for key in load_file(tmp_path / "model.safetensors"))


REMOTE_SCRIPT = textwrap.dedent(
    """
    import sys, importlib.abc
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "softcot_hf" or name.startswith("softcot_hf."):
                raise ImportError("softcot_hf is blocked in this process")
    sys.meta_path.insert(0, Block())
    import torch
    from transformers import AutoModelForCausalLM
    folder, inputs_file, out_file = sys.argv[1:]
    try:
        import softcot_hf  # noqa: F401
        raise SystemExit("softcot_hf should not be importable here")
    except ImportError:
        pass
    model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True)
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    inputs = torch.load(inputs_file)
    with torch.no_grad():
        logits = model(**inputs).logits
    generated = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    torch.save({"logits": logits, "generated": generated}, out_file)
    """
)


def test_remote_code_loads_without_the_package(saved, tmp_path):
    folder, _, inputs, logits, generated = saved
    torch.save(dict(inputs), tmp_path / "inputs.pt")
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_SCRIPT, str(folder), str(tmp_path / "inputs.pt"), str(tmp_path / "out.pt")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = torch.load(tmp_path / "out.pt")
    torch.testing.assert_close(out["logits"], logits, atol=0, rtol=0)
    assert out["generated"].tolist() == generated.tolist()
