"""SoftCoT checkpoint sizes from sharded training runs on the LLaMA pair's shapes.

The assistant and backbone take LLaMA-3.2-1B's and LLaMA-3.1-8B's configs (hidden sizes 2048 and 4096, so the
projection is the real one: 2048 x 4096 + 4096 parameters) with random weights, `--layers` decoder layers each and the
tests' small word-level tokenizer (so a small vocabulary: the embedding tables are not what is measured). A few steps
of `softcot-hf train softcot` run under each engine with 2 processes, `accelerate launch --config_file
softcot_hf/recipes/accelerate/<engine>.yaml`, checkpointing every step; the script reports the bytes of each checkpoint
and of the artifact against the projection's fp32 bytes and the frozen models' bytes.

On a machine without GPUs it launches through tests/distributed_launch.py, which enables FSDP on CPU (accelerate
enables it on accelerators only) and is otherwise `python -m softcot_hf.cli`.

    python benchmarks/sharded_checkpoint_size.py --engines fsdp2 zero3
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from common import CONFIG_DIR, PAIRS, machine_info, write_results
from transformers import AutoConfig, AutoModelForCausalLM

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' tiny tokenizer and GSM8K-layout data
from test_softcot_training import write_gsm8k  # noqa: E402

from softcot_hf.recipe_files import RECIPES_DIR  # noqa: E402
from softcot_hf.tiny import make_tokenizer  # noqa: E402

PAIR = PAIRS["llama"]  # (assistant, backbone) config names under benchmarks/configs/real


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", nargs="+", default=["fsdp2", "zero3"], choices=["ddp", "fsdp2", "zero2", "zero3"])
    parser.add_argument("--layers", type=int, default=1, help="decoder layers of each frozen model")
    parser.add_argument("--steps", type=int, default=2, help="training steps (a checkpoint after each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="JSON file; default benchmarks/results/NAME-SHAPES-DEVICE.json")
    return parser


def save_frozen(name: str, layers: int, folder: Path, seed: int) -> int:
    """A random-weight LM with the real config of `name` but `layers` layers and the tests' vocabulary; its bytes."""
    tokenizer = make_tokenizer("llama")
    values = json.loads((CONFIG_DIR / "real" / f"{name}.json").read_text())
    values.update(num_hidden_layers=layers, vocab_size=len(tokenizer), tie_word_embeddings=False)
    values.update(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=None)
    config = AutoConfig.for_model(values.pop("model_type"), **values)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return sum(path.stat().st_size for path in folder.glob("*.safetensors"))


def weight_bytes(folder: Path) -> int:
    """Bytes of every file in `folder` but the remote-code copies (.py)."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and path.suffix != ".py")


def run_engine(engine: str, models: dict[str, Path], data_dir: str, output_dir: Path, steps: int) -> dict:
    """Train under `engine` with 2 processes; bytes of each checkpoint and of the artifact's weights."""
    config = RECIPES_DIR / "accelerate" / f"{engine}.yaml"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
               "--num_processes", "2", str(ROOT / "tests" / "distributed_launch.py"),
               "train", "softcot", "--assistant", str(models["assistant"]), "--backbone", str(models["backbone"]),
               "--data-dir", data_dir, "--output-dir", str(output_dir), "--max-steps", str(steps),
               "--save-steps", "1", "--save-total-limit", str(steps), "--batch-size", "2", "--no-evaluate",
               "--frozen-dtype", "fp32"]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(command, env=environment, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{engine} run failed:\n{done.stderr[-4000:]}")
    checkpoints = sorted((output_dir / "checkpoints").glob("checkpoint-*"))
    return {
        "engine": json.loads((output_dir / "train_results.json").read_text())["engine"],
        "checkpoint_bytes": {path.name: weight_bytes(path) for path in checkpoints},
        "checkpoint_files": {
            str(path.relative_to(checkpoints[-1])): path.stat().st_size
            for path in sorted(checkpoints[-1].rglob("*"))
            if path.is_file() and path.suffix != ".py"
        },
        "artifact_model_safetensors_bytes": (output_dir / "model.safetensors").stat().st_size,
    }


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    args.shapes, args.device = f"llama-pair-{args.layers}-layer", "cpu"
    machine = machine_info("cpu")
    d_in, d_out = (json.loads((CONFIG_DIR / "real" / f"{name}.json").read_text())["hidden_size"] for name in PAIR)
    projection_params = d_in * d_out + d_out  # nn.Linear(d_assistant, d_backbone)
    results = {"projection_params": projection_params, "projection_fp32_bytes": 4 * projection_params, "runs": {}}
    with tempfile.TemporaryDirectory() as workdir:
        root = Path(workdir)
        models = {"assistant": root / "assistant", "backbone": root / "backbone"}
        results["frozen_bytes"] = {
            side: save_frozen(name, args.layers, models[side], args.seed + index)
            for index, (side, name) in enumerate(zip(("assistant", "backbone"), PAIR, strict=True))
        }
        data_dir = write_gsm8k(root / "gsm8k", n_train=4, n_test=1)
        for engine in args.engines:
            run = run_engine(engine, models, data_dir, root / engine, args.steps)
            results["runs"][engine] = run
            last = list(run["checkpoint_bytes"].values())[-1]
            print(
                f"{engine}: artifact model.safetensors {run['artifact_model_safetensors_bytes']:,} B (projection fp32 "
                f"{results['projection_fp32_bytes']:,} B); last checkpoint {last:,} B without code files "
                f"(frozen models {sum(results['frozen_bytes'].values()):,} B)"
            )
    write_results("sharded_checkpoint_size", args, results, machine)
    return results


if __name__ == "__main__":
    main()
