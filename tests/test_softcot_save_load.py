"""Save -> load round trips: projection-only weights, Auto classes, remote code without the package, processor."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import QUESTIONS, build
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForCausalLM, AutoProcessor
from transformers.testing_utils import CaptureLogger
from transformers.utils import logging as transformers_logging

from softcot_hf import SoftCoTConfig, SoftCoTForCausalLM, SoftCoTProcessor
from softcot_hf.modeling import frozen_models
from softcot_hf.modeling.frozen_models import FrozenModelsCheckpoint


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


def test_auto_model_reload_keeps_the_frozen_models_frozen(saved):
    """Identical logits and generations after reload: the shared contract (test_model_contract.py)."""
    folder, *_ = saved
    assert isinstance(AutoConfig.from_pretrained(folder), SoftCoTConfig)
    reloaded = AutoModelForCausalLM.from_pretrained(folder)
    assert isinstance(reloaded, SoftCoTForCausalLM)
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
    # Same thread count as here: the logits must match to the bit, and reductions depend on the threads.
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1"}
    env["OMP_NUM_THREADS"] = str(torch.get_num_threads())
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


MARKER_CONFIG = """
from pathlib import Path

from transformers import LlamaConfig

Path({marker!r}).write_text("the backbone's own code ran")


class MarkerConfig(LlamaConfig):
    model_type = "marker_llama"
"""
MARKER_MODEL = """
from pathlib import Path

from transformers import LlamaForCausalLM

from .configuration_marker import MarkerConfig

Path({marker!r}).write_text("the backbone's own code ran")


class MarkerForCausalLM(LlamaForCausalLM):
    config_class = MarkerConfig
"""


def copy_with_remote_code(model_dir: str, tmp_path) -> tuple[str, object]:
    """A copy of a saved Llama model whose repo carries code (a custom model type with `auto_map`) that writes a
    marker file when imported. Returns (the copy's folder, the marker's path)."""
    marker = tmp_path / "marker"
    folder = tmp_path / "model-with-code"
    shutil.copytree(model_dir, folder)
    (folder / "configuration_marker.py").write_text(MARKER_CONFIG.format(marker=str(marker)))
    (folder / "modeling_marker.py").write_text(MARKER_MODEL.format(marker=str(marker)))
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "marker_llama"
    config["auto_map"] = {
        "AutoConfig": "configuration_marker.MarkerConfig",
        "AutoModelForCausalLM": "modeling_marker.MarkerForCausalLM",
    }
    (folder / "config.json").write_text(json.dumps(config))
    return str(folder), marker


def point_backbone_at(checkpoint_dir, backbone: str, tmp_path):
    """A copy of a saved checkpoint whose config.json names `backbone` as its frozen backbone."""
    checkpoint = tmp_path / "checkpoint"
    shutil.copytree(checkpoint_dir, checkpoint)
    config = json.loads((checkpoint / "config.json").read_text())
    config["backbone_model_name_or_path"] = backbone
    (checkpoint / "config.json").write_text(json.dumps(config))
    return checkpoint


@pytest.fixture
def backbone_with_remote_code(saved, pair_dirs, tmp_path):
    """The saved SoftCoT checkpoint, pointed at a copy of its backbone that carries code writing a marker file when
    imported. Returns (checkpoint folder, backbone folder, marker)."""
    backbone, marker = copy_with_remote_code(pair_dirs["llama_backbone"], tmp_path)
    return point_backbone_at(saved[0], backbone, tmp_path), backbone, marker


def test_trust_for_our_repo_does_not_reach_the_frozen_models(backbone_with_remote_code):
    checkpoint, backbone, marker = backbone_with_remote_code
    for load in (AutoModelForCausalLM.from_pretrained, SoftCoTForCausalLM.from_pretrained):
        with pytest.raises(ValueError, match=r"needs its own code.*covers the SoftCoT repo only.*frozen_trust_remote"):
            load(checkpoint, trust_remote_code=True)
        assert not marker.exists()


def test_frozen_trust_remote_code_runs_the_frozen_models_code_and_logging_names_the_repos(
    backbone_with_remote_code, saved
):
    checkpoint, backbone, marker = backbone_with_remote_code
    _, model, inputs, logits, _ = saved
    transformers_logging.set_verbosity_info()
    try:
        with CaptureLogger(frozen_models.logger) as captured:
            loaded = AutoModelForCausalLM.from_pretrained(
                checkpoint, trust_remote_code=True, frozen_trust_remote_code=True
            )
    finally:
        transformers_logging.set_verbosity_warning()
    assert marker.exists() and type(loaded.backbone).__name__ == "MarkerForCausalLM"
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, logits, atol=0, rtol=0)
    assert f"loading the frozen backbone {backbone!r}" in captured.out
    assert f"loading the frozen assistant {model.config.assistant_model_name_or_path!r}" in captured.out


def test_loading_names_the_frozen_repos_and_revisions_and_warns_when_unpinned(saved, tmp_path, monkeypatch):
    """Frozen models given by Hub id: the load logs each repo and revision and warns about an unpinned one; without
    the opt-in, the frozen models are loaded with `trust_remote_code=False`."""
    folder, *_ = saved
    config = SoftCoTConfig.from_pretrained(folder)
    config.assistant_model_name_or_path, config.assistant_revision = "someone/assistant", "v1"
    config.backbone_model_name_or_path, config.backbone_revision = "someone/backbone", None
    calls = []
    monkeypatch.setattr(
        frozen_models.AutoModelForCausalLM, "from_pretrained", lambda name, **kwargs: calls.append((name, kwargs))
    )
    checkpoint = FrozenModelsCheckpoint("SoftCoT", folder, {"trust_remote_code": True})
    with CaptureLogger(frozen_models.logger) as captured:
        checkpoint.load_frozen_model(config, "backbone", config.text_config)
    assert "'someone/backbone' of" in captured.out and "not pinned" in captured.out
    transformers_logging.set_verbosity_info()
    try:
        with CaptureLogger(frozen_models.logger) as captured:
            checkpoint.load_frozen_model(config, "assistant", config.assistant_config)
    finally:
        transformers_logging.set_verbosity_warning()
    assert "loading the frozen assistant 'someone/assistant' at revision 'v1'" in captured.out
    assert "not pinned" not in captured.out
    assert [(name, kwargs["revision"], kwargs["trust_remote_code"]) for name, kwargs in calls] == [
        ("someone/backbone", None, False),
        ("someone/assistant", "v1", False),
    ]
