"""`softcot-hf ARGS...` with a fault: `python tests/crash_points.py POINT N ARGS...` runs `softcot_hf.cli.main(ARGS)`
and stops the process with SIGKILL at POINT of checkpoint N (training) or after N batches (evaluation):

- weights / state: halfway through writing the model weights or trainer_state.json;
- saved: once checkpoint N is complete, the process writes `READY` to stdout and waits for the test to kill it;
- batches: evaluation, while generating the batch after the first N.
"""

import dataclasses
import json
import os
import signal
import sys
import time

import transformers
from transformers import Trainer, TrainerState

from softcot_hf.cli import main
from softcot_hf.methods import base


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def write_half_and_die(path: str, data: bytes) -> None:
    """What a process killed in the middle of a write leaves: the first half of the file."""
    with open(path, "wb") as file:
        file.write(data[: len(data) // 2])
    die()


def install(point: str, n: int) -> None:
    folder = f"checkpoint-{n}"
    if point == "weights":
        save_file = transformers.modeling_utils.safe_save_file

        def cut_weights(tensors, filename, metadata=None):
            if folder not in str(filename):
                return save_file(tensors, filename, metadata=metadata)
            from safetensors.torch import save

            write_half_and_die(filename, save(tensors, metadata=metadata))

        transformers.modeling_utils.safe_save_file = cut_weights
    elif point == "state":
        save_to_json = TrainerState.save_to_json

        def cut_state(self, json_path):
            if folder not in json_path:
                return save_to_json(self, json_path)
            write_half_and_die(json_path, json.dumps(dataclasses.asdict(self), indent=2).encode())

        TrainerState.save_to_json = cut_state
    elif point == "saved":
        save_checkpoint = Trainer._save_checkpoint

        def pause_after(self, *args, **kwargs):
            save_checkpoint(self, *args, **kwargs)
            if self.state.global_step == n:
                print("READY", flush=True)
                time.sleep(600)

        Trainer._save_checkpoint = pause_after
    elif point == "batches":
        generate_texts, calls = base.generate_texts, []

        def die_after(*args, **kwargs):
            calls.append(1)
            if len(calls) > n:
                die()
            return generate_texts(*args, **kwargs)

        base.generate_texts = die_after
    else:
        raise SystemExit(f"unknown crash point {point!r}")


if __name__ == "__main__":
    install(sys.argv[1], int(sys.argv[2]))
    main(sys.argv[3:])
