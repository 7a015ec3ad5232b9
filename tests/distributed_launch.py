"""`softcot-hf` as the distributed tests launch it: `torchrun ... tests/distributed_launch.py train METHOD ...` or
`accelerate launch --config_file softcot_hf/recipes/accelerate/X.yaml tests/distributed_launch.py train METHOD ...`.

Three things differ from `python -m softcot_hf.cli`, all for the tests only:
- Every file this process writes (Python `open` for writing, renames, `torch.save`, safetensors) is recorded in
  `$DISTRIBUTED_WRITES_DIR/rank-<RANK>.txt`, so a test can check that only rank 0 writes the run's files.
- FSDP on a machine without an accelerator: accelerate (1.7 to 1.15 at least) enables FSDP only for accelerator
  device types and silently falls back to DDP on CPU. With `ACCELERATE_USE_FSDP=true` (what `accelerate launch`
  sets from an FSDP config) and no CUDA, this process's `AcceleratorState` is switched to FSDP with the plugin
  accelerate built from the config, after accelerate decided the CPU/gloo setup. Everything after that is the
  unchanged path: `Trainer` -> `Accelerator.prepare` -> `fsdp2_prepare_model` -> `fully_shard` over gloo.
- `DISTRIBUTED_STOP_AT_STEP=N`: every process exits (status 3) once checkpoint N is written, as a run killed there.
"""

import os
import sys
from pathlib import Path


def record_writes(log: Path) -> None:
    """Append the path of every file this process writes to `log` (one line each)."""
    import safetensors.torch
    import torch

    def note(path) -> None:
        with open(log, "a", buffering=1) as out:  # opened before the hook sees it: `log` itself is not noted
            out.write(f"{os.path.abspath(os.fspath(path))}\n")

    def hook(event: str, args: tuple) -> None:
        if event == "open" and isinstance(args[0], str | bytes | os.PathLike) and args[0] != str(log):
            mode = args[1] if isinstance(args[1], str) else ""
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            if any(c in mode for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                note(os.fsdecode(args[0]))
        elif event in ("os.rename", "os.replace"):
            note(os.fsdecode(args[1]))

    sys.addaudithook(hook)

    def wrap(module, name: str, position: int) -> None:
        original = getattr(module, name)

        def recorded(*args, **kwargs):
            target = args[position] if len(args) > position else kwargs.get("f", kwargs.get("filename"))
            if isinstance(target, str | os.PathLike):
                note(target)
            return original(*args, **kwargs)

        setattr(module, name, recorded)

    wrap(torch, "save", 1)
    wrap(safetensors.torch, "save_file", 1)


def fsdp_on_cpu() -> None:
    """Let accelerate's state become FSDP on CPU (see the module docstring); the test then checks it sharded."""
    from accelerate.state import AcceleratorState
    from accelerate.utils import DistributedType

    original_init = AcceleratorState.__init__

    def init(self, *args, fsdp_plugin=None, **kwargs):
        original_init(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            self.distributed_type = DistributedType.FSDP
            self.fsdp_plugin = fsdp_plugin

    AcceleratorState.__init__ = init


def stop_at_step(step: int) -> None:
    """Exit every process (status 3) right after checkpoint `step` is written."""
    import torch.distributed as dist
    from transformers import Trainer

    original_save = Trainer._save_checkpoint

    def save_then_stop(self, *args, **kwargs):
        original_save(self, *args, **kwargs)
        if self.state.global_step == step:
            if dist.is_initialized():
                dist.barrier()
            os._exit(3)

    Trainer._save_checkpoint = save_then_stop


def main() -> None:
    if folder := os.environ.get("DISTRIBUTED_WRITES_DIR"):
        record_writes(Path(folder) / f"rank-{os.environ.get('RANK', '0')}.txt")
    import torch

    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true" and not torch.cuda.is_available():
        fsdp_on_cpu()
    if step := os.environ.get("DISTRIBUTED_STOP_AT_STEP"):
        stop_at_step(int(step))
    from softcot_hf.cli import main as cli_main

    cli_main(sys.argv[1:])


if __name__ == "__main__":
    main()
