"""The methods under every engine, launched as users launch them, with 2 CPU processes over gloo and tiny models.

Each engine run (`accelerate launch --config_file softcot_hf/recipes/accelerate/<engine>.yaml`) is killed right after
a checkpoint and rerun with the same command (SoftCoT++ runs once, uninterrupted); its final weights must equal those
of an uninterrupted one-process run with the same global batch, and the artifact must be the one-process artifact (same
files, same config). Only rank 0 writes the run's files (other ranks write their own optimizer shards and RNG states in
checkpoints), the run says which engine it used (FSDP on CPU is enabled by tests/distributed_launch.py, which says how;
the run records whether every parameter was a shard), and no checkpoint holds the frozen weights.

Marked `distributed` (2 processes per run, a few minutes in all): the main suite deselects them (pyproject addopts);
`python -m pytest -m distributed` runs them. DeepSpeed runs need `pip install -e ".[distributed]"`.
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_coconut_training import save_coconut_base
from test_softcot_training import write_gsm8k

from softcot_hf.recipe_files import RECIPES_DIR

pytestmark = pytest.mark.distributed

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = ROOT / "tests" / "distributed_launch.py"
HAS_DEEPSPEED = importlib.util.find_spec("deepspeed") is not None
needs_deepspeed = pytest.mark.skipif(
    not HAS_DEEPSPEED, reason='DeepSpeed is not installed (pip install ".[distributed]")'
)
ENGINES = ["ddp", "fsdp2", pytest.param("zero2", marks=needs_deepspeed), pytest.param("zero3", marks=needs_deepspeed)]
SHARDED = {"ddp": False, "fsdp2": True, "zero2": False, "zero3": True}
ENGINE_NAMES = {"ddp": "ddp", "fsdp2": "fsdp2", "zero2": "deepspeed-zero2", "zero3": "deepspeed-zero3"}
# Adam's first steps move every weight by about lr whatever its gradient's size, so float noise that flipped the sign
# of a near-zero gradient would show as 2 x lr = 2e-2; the runs agree to ~1e-7 (SoftCoT) and ~4e-6 (Coconut).
LR, TOLERANCE = 1e-2, 5e-5
STOP_AT = {"softcot": 2, "coconut": 1, "icot_si": 1}  # the checkpoint after which the first attempt is killed
# SoftCoT++'s official loss (ThoughtSetLossSettings.official(3)); its dropout is left at 0, as in every SoftCoT++ run
# here: each process draws its own masks, so dropout could not give the one-process weights.
OFFICIAL_SOFTCOTPP_LOSS = ["--thought-set-loss-reduction", "sum_over_sets", "--contrastive-pooling", "flatten",
                           "--contrastive-dropout-on", "projected_thoughts",
                           "--contrastive-weight", str(1 / 3)]  # fmt: skip


@pytest.fixture(scope="module")
def coconut_base(tmp_path_factory) -> dict[str, str]:
    """The Coconut training tests' tiny GPT-2 and 8 examples, without dropout: each process would draw other masks."""
    return save_coconut_base(tmp_path_factory.mktemp("coconut_base"), dropout=False)


@pytest.fixture(scope="module")
def arguments(pair_dirs, coconut_base, tmp_path_factory) -> dict[str, list[str]]:
    """`softcot-hf` arguments of each method but the batch size and output dir: 8 examples, so every optimizer step
    sees all of them and the processes' sampler order cannot matter. SoftCoT: 3 steps, checkpoints at 2 and 3 (with
    the assistant-state cache, on by default); Coconut: 2 epochs (stage 0, then 1), a checkpoint every step."""
    data_dir = write_gsm8k(tmp_path_factory.mktemp("gsm8k"), n_train=8, n_test=1, seed=1)
    common = ["--lr", str(LR), "--seed", "5", "--eval-limit", "1", "--max-new-tokens", "3", "--logging-steps", "1"]
    # SoftCoT++: targets of unequal lengths, so a loss normalised per process differs from the global one.
    varied = write_gsm8k(tmp_path_factory.mktemp("gsm8k_varied"), n_train=8, n_test=1, seed=1, max_steps=3)
    softcotpp = ["train", "softcotpp", "--assistant", pair_dirs["llama_assistant"], "--data-dir", varied,
                 "--backbone", pair_dirs["llama_backbone"], "--num-thought-tokens", "2", "--num-thought-sets", "3",
                 "--max-steps", "3", "--save-steps", "3", "--frozen-dtype", "fp32", "--contrastive-dropout", "0",
                 "--contrastive-temperature", "0.5", *common]  # fmt: skip
    return {
        "softcot": ["train", "softcot", "--assistant", pair_dirs["llama_assistant"], "--data-dir", data_dir,
                    "--backbone", pair_dirs["llama_backbone"], "--num-thought-tokens", "2", "--max-steps", "3",
                    "--save-steps", "2", "--frozen-dtype", "fp32", *common],
        "coconut": ["train", "coconut", "--backbone", coconut_base["base"], "--train-file", coconut_base["train_file"],
                    "--max-latent-stage", "1", "--epochs-per-stage", "1", "--epochs", "2",
                    "--gradient-accumulation-steps", "1", "--save-steps", "1", *common],
        "simcot": ["train", "simcot", "--backbone", coconut_base["base"], "--train-file", coconut_base["train_file"],
                   "--max-latent-stage", "1", "--epochs-per-stage", "1", "--epochs", "2",
                   "--gradient-accumulation-steps", "1", *common],
        # iCoT-SI: 1 step per epoch, one more token removed each step, offsets drawn per (step, example)
        "icot_si": ["train", "icot_si", "--backbone", coconut_base["base"], "--train-file", coconut_base["train_file"],
                    "--epochs", "3", "--tokens-removed-per-epoch", "1", "--removal-smoothing-lambda", "1",
                    "--gradient-accumulation-steps", "1", "--save-steps", "1", *common],
        "softcotpp": softcotpp,
        "softcotpp-trainable_sets": [*softcotpp, "--train-thought-sets", "true", *OFFICIAL_SOFTCOTPP_LOSS],
    }  # fmt: skip


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def environment(**extra: str) -> dict[str, str]:
    variables = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", **extra}
    variables["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return variables


def launch(launcher: list[str], arguments: list[str], output_dir: Path, writes: Path, stop_at: int | None = None):
    """Run `launcher + [distributed_launch.py] + arguments`, recording writes in `writes`; with `stop_at`, every
    process exits right after that checkpoint (status 3, expected)."""
    writes.mkdir(parents=True)
    extra = {"DISTRIBUTED_WRITES_DIR": str(writes)}
    if stop_at is not None:
        extra["DISTRIBUTED_STOP_AT_STEP"] = str(stop_at)
    command = [*launcher, str(LAUNCH), *arguments, "--output-dir", str(output_dir)]
    done = subprocess.run(command, env=environment(**extra), capture_output=True, text=True, timeout=300, cwd=ROOT)
    if (done.returncode == 0) != (stop_at is None):  # a stopped run fails (the launcher reports its processes' 3)
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-6000:]}")


def accelerate(engine: str) -> list[str]:
    config = RECIPES_DIR / "accelerate" / f"{engine}.yaml"
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config), "--num_processes", "2",
            "--main_process_port", free_port()]  # fmt: skip


def torchrun() -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port()]


def written(writes: Path, rank: int, under: Path) -> set[Path]:
    log = writes / f"rank-{rank}.txt"
    paths = {Path(line) for line in log.read_text().split()} if log.is_file() else set()
    return {path.relative_to(under) for path in paths if path.is_relative_to(under)}


_references: dict[str, Path] = {}


@pytest.fixture
def reference(arguments, tmp_path_factory):
    """The one-process run of a method with the global batch (8), uninterrupted; made once per method."""

    def get(method: str) -> Path:
        if method not in _references:
            output_dir = tmp_path_factory.mktemp(f"{method}-one") / "run"
            launch([sys.executable], [*arguments[method], "--batch-size", "8"], output_dir, output_dir.parent / "w")
            _references[method] = output_dir
        return _references[method]

    return get


def artifact_files(run: Path) -> set[Path]:
    return {path.relative_to(run) for path in run.rglob("*") if path.relative_to(run).parts[0] != "checkpoints"}


def assert_same_artifact(run: Path, reference: Path) -> None:
    """Same files; the same bytes in the code, config, tokenizer and processor files (what loads it, with or without
    the package); the same weights within TOLERANCE."""
    assert artifact_files(run) == artifact_files(reference)
    run_only = {"run.json", "train_results.json"}  # the run's settings (per-process batch size) and its engine
    weights_hashes = "weights_sha256.json"  # hashes of weights that are equal within TOLERANCE, not bit for bit
    for path in artifact_files(reference):
        if path.suffix in (".py", ".json", ".jinja") and path.parts[0] != "eval" and path.name not in run_only:
            if path.name == weights_hashes:  # the same files recorded
                recorded = [json.loads((folder / path).read_text())["sha256"].keys() for folder in (run, reference)]
                assert recorded[0] == recorded[1], path
            else:
                assert (run / path).read_bytes() == (reference / path).read_bytes(), path
    assert json.loads((run / "config.json").read_text()) == json.loads((reference / "config.json").read_text())
    trained, single = load_file(run / "model.safetensors"), load_file(reference / "model.safetensors")
    assert trained.keys() == single.keys()
    for key in single:
        torch.testing.assert_close(trained[key], single[key], rtol=0, atol=TOLERANCE, msg=key)


@pytest.mark.parametrize("method", ["softcot", "coconut", "icot_si"])
@pytest.mark.parametrize("engine", ENGINES)
def test_interrupted_run_on_two_processes_ends_with_the_one_process_weights(
    engine, method, arguments, reference, pair_dirs, tmp_path
):
    single = reference(method)
    run = tmp_path / "run"
    command = [*arguments[method], "--batch-size", "4"]
    stop = STOP_AT[method]
    launch(accelerate(engine), command, run, tmp_path / "w1", stop_at=stop)
    assert not (run / "model.safetensors").exists()
    launch(accelerate(engine), command, run, tmp_path / "w2")

    # Resumed from checkpoint `stop` (the rerun never wrote it again) to the one-process weights and artifact.
    assert not any(
        path.parts[:2] == ("checkpoints", f"checkpoint-{stop}") for path in written(tmp_path / "w2", 0, run)
    )
    assert_same_artifact(run, single)
    results = json.loads((run / "train_results.json").read_text())
    assert results["engine"] == {"engine": ENGINE_NAMES[engine], "processes": 2, "sharded": SHARDED[engine]}
    assert json.loads((run / "eval" / "summary.json").read_text())["num_examples"] == 1  # evaluated after training

    # Rank 1 wrote nothing but its own shards and RNG state in the checkpoints.
    for writes in (tmp_path / "w1", tmp_path / "w2"):
        others = written(writes, 1, run)
        assert others and all(path.parts[0] == "checkpoints" and "1" in path.name for path in others), others

    # Checkpoints: the trainable weights (model.safetensors) and optimizer state, never the frozen models.
    trainable = set(load_file(single / "model.safetensors"))
    for checkpoint in (run / "checkpoints").iterdir():
        assert set(load_file(checkpoint / "model.safetensors")) == trainable
        if engine == "fsdp2":  # optimizer shards as safetensors: resuming unpickles nothing (no DCP .metadata)
            assert {path.name for path in checkpoint.glob("optimizer*")} == {
                f"optimizer-rank-{rank}-of-2.safetensors" for rank in (0, 1)
            } and not list(checkpoint.rglob(".metadata"))
        if method == "softcot":
            frozen_bytes = sum((Path(pair_dirs[side]) / "model.safetensors").stat().st_size for side in
                               ("llama_assistant", "llama_backbone"))  # fmt: skip
            stored = sum(path.stat().st_size for path in checkpoint.rglob("*") if path.suffix != ".py")
            assert stored < frozen_bytes, f"{checkpoint} holds {stored} bytes, the frozen models {frozen_bytes}"


@pytest.mark.parametrize("variant", ["softcotpp", "softcotpp-trainable_sets"])
@pytest.mark.parametrize("engine", ENGINES)
def test_softcotpp_on_two_processes_ends_with_the_one_process_weights(engine, variant, arguments, reference, tmp_path):
    """Frozen set vectors with our loss (assistant states cached), and trainable ones with the official loss (the
    assistant runs inside the sharded forward every step): the loss is normalised over the global batch."""
    single = reference(variant)
    run = tmp_path / "run"
    launch(accelerate(engine), [*arguments[variant], "--batch-size", "4"], run, tmp_path / "w")
    assert_same_artifact(run, single)
    results = json.loads((run / "train_results.json").read_text())
    assert results["engine"] == {"engine": ENGINE_NAMES[engine], "processes": 2, "sharded": SHARDED[engine]}


def test_coconut_under_torchrun_matches_one_process(arguments, reference, tmp_path):
    single = reference("coconut")
    run = tmp_path / "run"
    launch(torchrun(), [*arguments["coconut"], "--batch-size", "4"], run, tmp_path / "w")
    assert_same_artifact(run, single)
    assert json.loads((run / "train_results.json").read_text())["engine"]["engine"] == "ddp"
    assert all(path.parts[0] == "checkpoints" for path in written(tmp_path / "w", 1, run))


def test_simcot_under_torchrun_matches_one_process(arguments, reference, tmp_path):
    """The step loss (a per-process mean; every example has its step groups) averaged by DDP is the one-process one."""
    single = reference("simcot")
    run = tmp_path / "run"
    launch(torchrun(), [*arguments["simcot"], "--batch-size", "4"], run, tmp_path / "w")
    assert_same_artifact(run, single)


@pytest.mark.skipif(torch.cuda.is_available(), reason="accelerate enables FSDP on GPUs")
def test_fsdp_that_accelerate_turns_into_ddp_is_refused(arguments, tmp_path):
    """Without tests/distributed_launch.py's switch, accelerate runs an FSDP config on CPU as DDP: refused."""
    run = tmp_path / "run"
    command = [*accelerate("fsdp2"), "-m", "softcot_hf.cli", *arguments["coconut"], "--batch-size", "4"]
    command += ["--output-dir", str(run)]
    done = subprocess.run(command, env=environment(), capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode != 0
    assert "launched for FSDP, but accelerate set up" in done.stderr
    assert not run.exists()  # the refused launch left no folder behind
    assert not (run / "model.safetensors").exists()
