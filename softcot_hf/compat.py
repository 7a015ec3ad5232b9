"""
Every private name of transformers, accelerate, DeepSpeed and torch the library relies on, in one place (the remote
code's are in `modeling/compat.py`). Each is a future break: a release may rename or drop it without notice, so each
sits here with why we need it, and tests/test_compat.py fails by name when one moves.

Trainer's private hooks, which `training.engines.TrainablePartTrainer` overrides (there is no public way to change how
a checkpoint stores the optimizer or loads the weights): `TRAINER_HOOKS`.
"""

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from transformers import CompileConfig

# Trainer methods `TrainablePartTrainer` overrides: FSDP2 saves and loads the trainable weights and optimizer shards
# itself (accelerate's own loading drops FSDP2 optimizer state), DeepSpeed saves without the frozen models.
TRAINER_HOOKS = ("_save_optimizer_and_scheduler", "_load_optimizer_and_scheduler", "_load_from_checkpoint")


def compile_on_every_device(config: CompileConfig) -> CompileConfig:
    """`config` with transformers' private switch `_compile_all_devices` on: `generate` compiles the decoding step
    on the CPU too (by itself only on accelerators). No public argument does it."""
    config._compile_all_devices = True
    return config


@contextmanager
def own_class(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """`model` seen as its own class for the block: torch's `fully_shard` swaps in a generated `FSDP<Name>` subclass
    (by `__class__` assignment) whose name and module `save_pretrained` would write into `config.json`
    (`architectures`, `auto_map`) and copy as remote code. Undone the same way, as torch offers no public unwrap."""
    from torch.distributed.fsdp import FSDPModule

    sharded_class = type(model)
    if isinstance(model, FSDPModule):
        model.__class__ = next(cls for cls in sharded_class.__mro__ if not issubclass(cls, FSDPModule))
    try:
        yield model
    finally:
        model.__class__ = sharded_class


@contextmanager
def deepspeed_saves_trainable_only(engine) -> Iterator[None]:
    """DeepSpeed's `engine.save_checkpoint` with `exclude_frozen_parameters=True` for the block: Trainer's private
    `_save_optimizer_and_scheduler` calls it without that argument, which would write the frozen models into every
    checkpoint. Patched on this engine only, and removed after."""
    engine.save_checkpoint = functools.partial(type(engine).save_checkpoint, engine, exclude_frozen_parameters=True)
    try:
        yield
    finally:
        del engine.save_checkpoint


@contextmanager
def outside_zero3() -> Iterator[None]:
    """Load models whole for the block, as after training under ZeRO-3 (transformers would otherwise partition them
    across processes that have already finished). transformers keeps the active DeepSpeed config in the private
    `_hf_deepspeed_config_weak_ref` and offers a public unset but no public way to put it back."""
    from transformers.integrations import deepspeed as hf_deepspeed

    reference = hf_deepspeed._hf_deepspeed_config_weak_ref
    hf_deepspeed.unset_hf_deepspeed_config()
    try:
        yield
    finally:
        hf_deepspeed._hf_deepspeed_config_weak_ref = reference


def checkpointing_field() -> str:
    """The `TrainingArguments` field that turns on Trainer's activation checkpointing: `activation_checkpointing` from
    transformers 5.25 (where `gradient_checkpointing` warns that it is deprecated), `gradient_checkpointing` before."""
    import dataclasses

    from transformers import TrainingArguments

    names = {field.name for field in dataclasses.fields(TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


__all__ = [
    "TRAINER_HOOKS",
    "checkpointing_field",
    "compile_on_every_device",
    "deepspeed_saves_trainable_only",
    "outside_zero3",
    "own_class",
]
