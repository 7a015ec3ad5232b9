"""The training entry point under `torchrun` (DDP, gloo, 2 CPU processes) matches one process with the same global
batch. A normal test: it runs in well under two minutes on two CPU cores, so CI runs it with the rest."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_softcot_training import write_gsm8k

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_softcot.py"


def train(command: list[str], pair_dirs, data_dir: str, output_dir: Path, batch_size: int) -> dict[str, torch.Tensor]:
    arguments = [
        "--assistant", pair_dirs["llama_assistant"],
        "--backbone", pair_dirs["llama_backbone"],
        "--data-dir", data_dir,
        "--output-dir", str(output_dir),
        "--num-thought-tokens", "2",
        "--max-steps", "3",
        "--batch-size", str(batch_size),
        "--lr", "1e-2",
        "--seed", "5",
        "--frozen-dtype", "fp32",
        "--no-evaluate",
    ]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command + arguments, env=environment, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    return load_file(output_dir / "model.safetensors")


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun is not installed")
def test_two_processes_give_the_projection_of_one_with_the_same_global_batch(pair_dirs, tmp_path):
    # 8 examples and a global batch of 8: every step sees the whole set, so the sampler's order cannot matter.
    data_dir = write_gsm8k(tmp_path / "data", n_train=8, n_test=1, seed=1)
    single = train(
        [sys.executable, "-m", "softcot_hf.cli", "train", "softcot"],
        pair_dirs,
        data_dir,
        tmp_path / "one",
        batch_size=8,
    )
    torchrun = [shutil.which("torchrun"), "--nproc_per_node", "2", "--master_port", "29533", "-m", "softcot_hf.cli"]
    torchrun += ["train", "softcot"]
    double = train(torchrun, pair_dirs, data_dir, tmp_path / "two", batch_size=4)
    for key in single:
        # Same tokens, same loss normalisation (Trainer counts label tokens over both processes); what differs is
        # the padding of each half-batch and the order of the gradient sum: float32 noise, far below one lr step.
        torch.testing.assert_close(double[key], single[key], atol=1e-5, rtol=1e-4)
        assert (double[key] - single[key]).abs().max() < 0.01 * 1e-2


def test_example_script_trains_on_tiny_local_models(pair_dirs, tmp_path):
    """examples/train_softcot.py: the same pipeline; --method picks the baselines."""
    spec = importlib.util.spec_from_file_location("train_softcot_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    data_dir = write_gsm8k(tmp_path / "data", n_train=4, n_test=1)
    common = ["--backbone", pair_dirs["llama_backbone"], "--data-dir", data_dir, "--max-steps", "1", "--no-evaluate"]
    result = example.main(["--method", "cot_unk", "--output-dir", str(tmp_path / "cot_unk"), *common])
    assert sorted(load_file(Path(result["output_dir"]) / "model.safetensors")) == ["thought_embeddings.weight"]
