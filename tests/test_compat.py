"""
The private names of our dependencies that `softcot_hf/compat.py` and `modeling/compat.py` rely on, checked by name:
when a release renames or drops one, these fail and say which, before a run silently loses what it did. Also: the
supported range is stated once, in setup.py.
"""

import ast
import importlib.metadata
import inspect
import re
from pathlib import Path

import pytest
import torch
import transformers.generation.utils
import transformers.utils.hub
from packaging.version import Version
from transformers import CompileConfig, LlamaConfig, Trainer
from transformers.integrations import deepspeed as hf_deepspeed

from softcot_hf.compat import (
    TRAINER_HOOKS,
    compile_on_every_device,
    deepspeed_saves_trainable_only,
    outside_zero3,
    own_class,
)
from softcot_hf.modeling.compat import attn_implementation, cached_file_or_none

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", TRAINER_HOOKS)
def test_trainer_still_has_the_private_hooks_we_override(name):
    assert hasattr(Trainer, name), f"transformers' Trainer no longer has {name}: TrainablePartTrainer overrides it."


def test_generate_still_reads_the_compile_on_every_device_switch():
    assert compile_on_every_device(CompileConfig())._compile_all_devices is True
    source = inspect.getsource(transformers.generation.utils)
    assert "_compile_all_devices" in source, "generate no longer reads CompileConfig._compile_all_devices"


def test_deepspeed_config_reference_is_restored_after_the_block():
    assert hasattr(hf_deepspeed, "_hf_deepspeed_config_weak_ref"), "transformers moved _hf_deepspeed_config_weak_ref"
    marker = object()
    hf_deepspeed._hf_deepspeed_config_weak_ref = marker
    try:
        with outside_zero3():
            assert hf_deepspeed._hf_deepspeed_config_weak_ref is None
        assert hf_deepspeed._hf_deepspeed_config_weak_ref is marker
    finally:
        hf_deepspeed._hf_deepspeed_config_weak_ref = None


def test_trainer_saves_deepspeed_checkpoints_through_the_engine_we_patch():
    source = inspect.getsource(Trainer._save_optimizer_and_scheduler)
    assert "model_wrapped.save_checkpoint" in source, "Trainer no longer saves through the DeepSpeed engine"

    class Engine:
        def save_checkpoint(self, path, exclude_frozen_parameters=False):
            return path, exclude_frozen_parameters

    engine = Engine()
    with deepspeed_saves_trainable_only(engine):
        assert engine.save_checkpoint("folder") == ("folder", True)
    assert engine.save_checkpoint("folder") == ("folder", False) and "save_checkpoint" not in vars(engine)


def test_deepspeed_save_checkpoint_still_takes_exclude_frozen_parameters():
    engine = pytest.importorskip("deepspeed").DeepSpeedEngine
    assert "exclude_frozen_parameters" in inspect.signature(engine.save_checkpoint).parameters


def test_own_class_leaves_an_unsharded_model_as_it_is():
    model = torch.nn.Linear(2, 2)
    with own_class(model) as inside:
        assert type(inside) is torch.nn.Linear
    assert type(model) is torch.nn.Linear


def test_cached_file_still_takes_the_private_switches(tmp_path):
    (tmp_path / "present.json").write_text("{}")
    assert cached_file_or_none(tmp_path, "missing.json") is None, "cached_file dropped its private switches"
    assert cached_file_or_none(tmp_path, "present.json") == str(tmp_path / "present.json")
    assert cached_file_or_none("softcot-hf-tests/no-such-repo", "config.json", local_files_only=True) is None
    source = inspect.getsource(transformers.utils.hub)
    for name in ("_raise_exceptions_for_missing_entries", "_raise_exceptions_for_connection_errors"):
        assert name in source, f"transformers' cached_file no longer takes {name}"


def test_configs_still_keep_the_attention_implementation_privately():
    assert attn_implementation(LlamaConfig(attn_implementation="eager")) == "eager"


def _install_requires() -> list[str]:
    setup = ast.parse((ROOT / "setup.py").read_text())
    call = next(node for node in ast.walk(setup) if isinstance(node, ast.Call) and ast.unparse(node.func) == "setup")
    requires = next(keyword.value for keyword in call.keywords if keyword.arg == "install_requires")
    return [ast.literal_eval(element) for element in requires.elts]


def test_the_supported_range_is_stated_once_in_setup_py():
    declared = _install_requires()
    installed = [req for req in importlib.metadata.requires("softcot-hf") if "extra ==" not in req]
    assert sorted(declared) == sorted(installed), "setup.py changed: reinstall the package (pip install -e .)"
    lower_bounds = dict(re.fullmatch(r"([\w-]+)>=([\w.]+)", requirement).groups() for requirement in declared)
    pins = re.findall(r"^([\w-]+)==([\w.]+)$", (ROOT / ".ci" / "minimum-versions.txt").read_text(), re.M)
    for name, version in pins:
        if name in lower_bounds:
            message = f".ci/minimum-versions.txt pins {name}=={version}, setup.py says >={lower_bounds[name]}"
            assert Version(lower_bounds[name]) == Version(version), message
    elsewhere = re.compile(r"transformers\s*>=|\d+\.\d+ and newer")
    for path in [*(ROOT / "modeling").glob("*.py"), *(ROOT / "softcot_hf").rglob("*.py")]:
        assert not elsewhere.search(path.read_text()), f"{path} states a supported range: setup.py is the one place"
