"""Training past one process: the engine a run actually uses, and checkpoints that hold the trainable part only.

Both pipelines train with `TrainablePartTrainer`, a `Trainer` whose checkpoints and artifact hold the parameters that
train (the SoftCoT projection, the CoT-Unk embeddings, a Coconut model) under every engine (docs/scale-out.md):
single process and DDP save with `Trainer`'s own `save_pretrained`; under FSDP2 and DeepSpeed ZeRO-2/3 the trainable
parameters are gathered and written by the model's own class, with each process's optimizer shard in safetensors (no
pickle to resume from) or DeepSpeed's checkpoint without the frozen parameters, never the sharded frozen weights.
`check_engine` refuses an FSDP or DeepSpeed launch that accelerate turned into something else (on CPU it silently
runs DDP with whole frozen models on every process).
"""

import functools
import json
import os
from contextlib import contextmanager

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import Trainer
from transformers.trainer import SCHEDULER_NAME, TRAINING_ARGS_NAME
from transformers.utils import SAFE_WEIGHTS_NAME

from ..compat import deepspeed_saves_trainable_only, outside_zero3, own_class
from ..modeling.weights_record import WeightsRecordMixin, forget_weights, record_weights, trained_prefix

# A checkpoint's optimizer state under FSDP2: one file per process, holding that process's shards.
FSDP_OPTIMIZER = "optimizer-rank-{rank}-of-{world_size}.safetensors"


def _flag(name: str) -> bool:
    return os.environ.get(name, "false").lower() in ("1", "true", "yes")


def fsdp_requested(args) -> bool:
    """Whether this run was launched for FSDP (`accelerate launch` with an FSDP config, or `--fsdp`)."""
    return _flag("ACCELERATE_USE_FSDP") or bool(args.fsdp)


def deepspeed_requested(deepspeed_config) -> bool:
    """Whether this run was launched for DeepSpeed (`accelerate launch` with a DeepSpeed config, or
    `TrainingArguments.deepspeed`, whose value `deepspeed_config` is)."""
    return _flag("ACCELERATE_USE_DEEPSPEED") or bool(deepspeed_config)


def _is_dtensor(tensor: torch.Tensor) -> bool:
    from torch.distributed.tensor import DTensor

    return isinstance(tensor, DTensor)


def is_sharded(parameter: torch.Tensor) -> bool:
    """Whether `parameter` is a shard: an FSDP2 `DTensor` or a DeepSpeed ZeRO-3 partitioned parameter."""
    return _is_dtensor(parameter) or hasattr(parameter, "ds_id")


@contextmanager
def gathered(parameters: list[torch.nn.Parameter]):
    """ZeRO-3 parameters among `parameters` gathered whole on every process for the block (read-only)."""
    partitioned = [parameter for parameter in parameters if hasattr(parameter, "ds_id")]
    if not partitioned:
        yield
        return
    import deepspeed

    with deepspeed.zero.GatheredParameters(partitioned, modifier_rank=None):
        yield


def saved_parameters(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """The parameters a checkpoint of `model` holds: those that train, and every parameter of the model's trained
    module (`_trained_module`, when it names one: SoftCoT++'s frozen set vectors sit in the projection)."""
    prefix = trained_prefix(model)
    return {
        name: parameter
        for name, parameter in model.named_parameters()
        if parameter.requires_grad or (prefix is not None and name.startswith(prefix))
    }


def trainable_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The parameters a checkpoint of `model` holds (`saved_parameters`), whole, on CPU: {name: tensor}. A collective
    under FSDP2 / ZeRO-3: every process calls it."""
    named = saved_parameters(model)
    with gathered(list(named.values())):
        return {
            name: (parameter.full_tensor() if _is_dtensor(parameter) else parameter).detach().cpu().clone()
            for name, parameter in named.items()
        }


def load_trainable_state_dict(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """Copy whole tensors (`trainable_state_dict`'s) into `model`'s parameters, each process keeping its own FSDP2
    shard. Every parameter a checkpoint holds (`saved_parameters`) must be in `state_dict`."""
    from torch.distributed.tensor import distribute_tensor

    trainable = saved_parameters(model)
    if set(state_dict) != set(trainable):
        raise ValueError(
            f"{source} holds {sorted(state_dict)}, but a checkpoint of this run holds {sorted(trainable)}: it is not "
            "a checkpoint of this run."
        )
    with torch.no_grad():
        for name, parameter in trainable.items():
            value = state_dict[name].to(parameter.dtype)
            if _is_dtensor(parameter):  # every process read the whole tensor: cut its own shard, no communication
                local = distribute_tensor(value, parameter.device_mesh, parameter.placements, src_data_rank=None)
                parameter.to_local().copy_(local.to_local())
            else:
                parameter.copy_(value)


def save_sharded_optimizer(model: torch.nn.Module, optimizer: torch.optim.Optimizer, path: str) -> None:
    """This process's part of the FSDP2 optimizer state, in safetensors at `path`: every state tensor (a `DTensor`'s
    local shard) as "<parameter>/<name>", the parameter groups and any non-tensor state as JSON in the metadata."""
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    state = get_optimizer_state_dict(model, optimizer)
    tensors, other = {}, {}
    for name, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                local = value.to_local() if _is_dtensor(value) else value
                tensors[f"{name}/{key}"] = local.detach().cpu().contiguous()
            else:
                other[f"{name}/{key}"] = value
    metadata = {"param_groups": json.dumps(state["param_groups"]), "other_state": json.dumps(other)}
    save_file(tensors, path, metadata=metadata)


def load_sharded_optimizer(model: torch.nn.Module, optimizer: torch.optim.Optimizer, path: str) -> None:
    """Load `save_sharded_optimizer`'s file into `optimizer` (each process its own file, the same number of
    processes as the run that wrote it), each tensor back into its parameter's shard layout."""
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict, set_optimizer_state_dict
    from torch.distributed.tensor import DTensor

    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} is missing: the checkpoint was written by another number of processes, or is not this run's."
        )
    template = get_optimizer_state_dict(model, optimizer)  # the state's entries and layouts, to be filled
    tensors = load_file(path)
    with safe_open(path, "pt") as file:
        metadata = file.metadata()
    other = json.loads(metadata["other_state"])
    state = {}
    for name, values in template["state"].items():
        state[name] = {}
        for key, like in values.items():
            saved_name = f"{name}/{key}"
            if not isinstance(like, torch.Tensor):
                state[name][key] = other[saved_name]
                continue
            if saved_name not in tensors:
                raise ValueError(f"{path} holds no {saved_name}: it is not a checkpoint of this run.")
            value = tensors[saved_name].to(device=like.device, dtype=like.dtype)
            if _is_dtensor(like):
                value = DTensor.from_local(
                    value, like.device_mesh, like.placements, shape=like.shape, stride=like.stride()
                )
            state[name][key] = value
    # JSON has no tuples: a list in a parameter group (Adam's betas) was one.
    groups = [
        {
            key: value if key == "params" or not isinstance(value, list) else tuple(value)
            for key, value in group.items()
        }
        for group in json.loads(metadata["param_groups"])
    ]
    set_optimizer_state_dict(model, optimizer, {"state": state, "param_groups": groups})


def forgive_missing_frozen(module: torch.nn.Module, incompatible_keys) -> None:
    """`load_state_dict` post-hook: a state dict holding the trainable parameters only (what our checkpoints hold)
    loads strictly; a missing trainable parameter still fails."""
    trainable = {name for name, parameter in module.named_parameters() if parameter.requires_grad}
    incompatible_keys.missing_keys[:] = [key for key in incompatible_keys.missing_keys if key in trainable]


def _restore_on_indexed_cpu(storage, location: str):
    """`torch.load` restorer for a `map_location` of "cpu:N", which torch does not map (None: not ours)."""
    return storage.cpu() if location.startswith("cpu:") else None


@functools.cache  # registered once per process
def allow_indexed_cpu_map_location() -> None:
    """Let `torch.load(..., map_location=torch.device("cpu", N))` load: accelerate 1.7 names the device of a
    multi-process CPU run "cpu:N", which transformers 5.12 passes as `map_location` when it resumes the optimizer."""
    torch.serialization.register_package(11, lambda storage: None, _restore_on_indexed_cpu)


class TrainablePartTrainer(Trainer):
    """`Trainer` whose checkpoints and saved model hold the trainable parameters only, under every engine (see the
    module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.model.register_load_state_dict_post_hook(forgive_missing_frozen)
        if self.args.device.type == "cpu" and self.args.device.index is not None:
            allow_indexed_cpu_map_location()

    @property
    def shards_model(self) -> bool:
        return self.is_fsdp_enabled or self.is_deepspeed_enabled

    def save_trainable(self, output_dir: str) -> None:
        """`save_pretrained` of the model's trainable weights, gathered from the shards; call it on every process."""
        state_dict = trainable_state_dict(self.model)
        if self.args.should_save:
            with own_class(self.accelerator.unwrap_model(self.model)) as model:
                model.save_pretrained(output_dir, state_dict=state_dict)
        self.accelerator.wait_for_everyone()

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Trainer's `save_model`, gathering the trainable weights when they are sharded. A peft adapter gets the
        SHA-256 record our models write themselves (`weights_record`), so loading it checks its weights too."""
        output_dir = output_dir or self.args.output_dir
        records_itself = isinstance(self.accelerator.unwrap_model(self.model), WeightsRecordMixin)
        if self.args.should_save and not records_itself:
            forget_weights(output_dir)
        if not self.shards_model:
            super().save_model(output_dir, _internal_call)
        else:
            self.save_trainable(output_dir)
            if self.args.should_save:  # as Trainer's own saving does
                torch.save(self.args, os.path.join(output_dir, TRAINING_ARGS_NAME))
        if self.args.should_save and not records_itself:
            record_weights(output_dir)

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        if self.is_fsdp_enabled:  # the weights went to model.safetensors (save_model): no sharded frozen copy
            name = FSDP_OPTIMIZER.format(rank=self.args.process_index, world_size=self.args.world_size)
            save_sharded_optimizer(self.model, self.optimizer, os.path.join(output_dir, name))
            if self.args.should_save:
                torch.save(self.lr_scheduler.state_dict(), os.path.join(output_dir, SCHEDULER_NAME))
        elif self.is_deepspeed_enabled:
            with deepspeed_saves_trainable_only(self.model_wrapped):
                super()._save_optimizer_and_scheduler(output_dir)
        else:
            super()._save_optimizer_and_scheduler(output_dir)

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        if not (self.is_fsdp_enabled and checkpoint):
            return super()._load_optimizer_and_scheduler(checkpoint)
        # Ours, not accelerate's: accelerate 1.7 loads FSDP2 shards into a fresh optimizer's empty state, keeping none.
        name = FSDP_OPTIMIZER.format(rank=self.args.process_index, world_size=self.args.world_size)
        load_sharded_optimizer(self.model, self.optimizer, os.path.join(checkpoint, name))
        self.lr_scheduler.load_state_dict(torch.load(os.path.join(checkpoint, SCHEDULER_NAME), weights_only=True))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: torch.nn.Module | None = None) -> None:
        if not self.is_fsdp_enabled:
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        path = os.path.join(resume_from_checkpoint, SAFE_WEIGHTS_NAME)
        load_trainable_state_dict(model if model is not None else self.model, load_file(path), path)


def engine_report(trainer: Trainer) -> dict:
    """What trained: `engine` (single, ddp, fsdp2, deepspeed-zero2, ...), `processes`, and `sharded` (every parameter
    of the model was a shard during training)."""
    if trainer.is_fsdp_enabled:
        engine = f"fsdp{trainer.accelerator.state.fsdp_plugin.fsdp_version}"
    elif trainer.is_deepspeed_enabled:
        engine = f"deepspeed-zero{trainer.accelerator.state.deepspeed_plugin.zero_stage}"
    else:
        engine = "ddp" if trainer.args.world_size > 1 else "single"
    parameters = list(trainer.model.parameters())
    return {"engine": engine, "processes": trainer.args.world_size, "sharded": all(map(is_sharded, parameters))}


def check_engine(trainer: Trainer) -> None:
    """Refuse a run launched for FSDP or DeepSpeed that accelerate set up as something else, and FSDP1."""
    args = trainer.args
    if trainer.is_fsdp_enabled and trainer.accelerator.state.fsdp_plugin.fsdp_version != 2:
        raise ValueError(
            "FSDP1 is not supported (its flattened parameters defeat the trainable-only checkpoints): set "
            "`fsdp_version: 2` in the accelerate config, as softcot_hf/recipes/accelerate/fsdp2.yaml does."
        )
    for asked, enabled, name in (
        (fsdp_requested(args), trainer.is_fsdp_enabled, "FSDP"),
        (deepspeed_requested(args.deepspeed), trainer.is_deepspeed_enabled, "DeepSpeed"),
    ):
        if asked and not enabled:
            raise RuntimeError(
                f"This run was launched for {name}, but accelerate set up {trainer.accelerator.distributed_type} "
                f"instead (accelerate enables FSDP only on GPUs and other accelerators: on CPU it falls back to DDP, "
                "with the whole frozen models on every process). Launch with softcot_hf/recipes/accelerate/ddp.yaml "
                "(or torchrun) on CPU, or run on GPUs."
            )


def place_model(model: torch.nn.Module, args) -> None:
    """Move `model` to this process's device unless FSDP will shard it (`fully_shard` places each shard itself;
    moving first would put the whole model on every device)."""
    if not fsdp_requested(args):
        model.to(args.device)


__all__ = [
    "TrainablePartTrainer",
    "check_engine",
    "deepspeed_requested",
    "engine_report",
    "forgive_missing_frozen",
    "fsdp_requested",
    "gathered",
    "is_sharded",
    "load_sharded_optimizer",
    "load_trainable_state_dict",
    "outside_zero3",
    "own_class",
    "place_model",
    "save_sharded_optimizer",
    "saved_parameters",
    "trainable_state_dict",
]
