"""The frozen-model pipeline: the SoftCoT projection and its trained baselines (CoT-Unk embeddings, LoRA) on `Trainer`.

`softcot_hf.train(args)` / `softcot-hf train softcot|cot_unk|lora ...` load the frozen models, build the method's
trainable part (`method.build`), tokenize the task's training split with the method's prompt, train with
`transformers.Trainer` and write a ready artifact to `output_dir` (then evaluate it on the test split into
`output_dir/eval`).

`Trainer` brings the schedule, checkpoints with resume, logging and DDP/FSDP/DeepSpeed; the models are ordinary
`PreTrainedModel`s whose `save_pretrained` writes only the trainable weights.

- Frozen models load in bf16 on a GPU that supports it (fp32 on CPU; `frozen_dtype` forces either); the projection and
  the CoT-Unk embeddings stay fp32 (pure-bf16 AdamW at lr 2e-5 rounds most updates to zero); LoRA adapters are fp32
  (peft's `autocast_adapter_dtype`).
- Checkpoints (`output_dir/checkpoints/checkpoint-<step>/`) hold the trainable weights only (+ optimizer, scheduler,
  RNG, trainer state, config). Rerunning the same command resumes from the last one; an output dir of another run is
  refused (`softcot_hf.training.runs`).
- Several processes (`torchrun`, `accelerate launch`, FSDP2 or ZeRO-3 to shard the frozen models): see
  docs/scale-out.md and `softcot_hf.training.engines`.
"""

import gc
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, set_seed
from transformers.modeling_layers import GradientCheckpointingLayer

from ..data import get_task
from ..loading import load_lm
from ..modeling.compat import enable_activation_checkpointing
from ..run_files import training_identity
from .engines import check_engine, place_model
from .runs import (
    CHECKPOINTS,
    check_output_dir,
    finished_run,
    no_folders_left_on_refusal,
    result,
    write_run_file,
    write_train_results,
)
from .softcot_data import TrainExamples, collator_for, tokenize_plain, tokenize_with_processor, training_rows

# The paper's LLaMA pair (defaults of examples/train_softcot.py) and its Qwen pair.
LLAMA_PAIR = {"assistant": "meta-llama/Llama-3.2-1B-Instruct", "backbone": "meta-llama/Llama-3.1-8B-Instruct"}
QWEN_PAIR = {"assistant": "Qwen/Qwen2.5-1.5B-Instruct", "backbone": "Qwen/Qwen2.5-7B-Instruct"}


def resolve_frozen_dtype(frozen_dtype: str = "auto") -> torch.dtype:
    """ "auto": bf16 on a CUDA device that supports it, else fp32; "bf16"/"fp32" force one."""
    if frozen_dtype == "auto":
        return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    dtypes = {"bf16": torch.bfloat16, "fp32": torch.float32}
    if frozen_dtype not in dtypes:
        raise ValueError(f"frozen_dtype must be 'auto', 'bf16' or 'fp32', got {frozen_dtype!r}.")
    return dtypes[frozen_dtype]


def load_frozen(side: str, name_or_path: str, dtype: torch.dtype) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A frozen causal LM (eval mode, `dtype`) and its tokenizer from a Hub id or path (see `load_lm`)."""
    model, tokenizer = load_lm(name_or_path, side, dtype=dtype)
    return model.eval(), tokenizer


def enable_frozen_gradient_checkpointing(model: PreTrainedModel) -> None:
    """Gradient checkpointing on a frozen (eval-mode) LM: `transformers` checkpoints a layer only when the layer is in
    training mode, so each layer's own flag follows grad mode; its sub-modules (dropout) stay in eval mode."""
    enable_activation_checkpointing(model, use_reentrant=False)
    layers = [module for module in model.modules() if isinstance(module, GradientCheckpointingLayer)]

    def follow_grad_mode(module, args) -> None:
        # Set before the layers are called: transformers < 5.24 reads the flag before a layer's own hooks run.
        for layer in layers:
            layer.training = torch.is_grad_enabled()

    model.base_model.register_forward_pre_hook(follow_grad_mode)


def train_frozen_model_method(method, args) -> dict:
    """
    Train `method` (a `FrozenModelMethod`) with `args` (its `arguments` dataclass) and write its artifact to
    `args.output_dir` (see the module docstring). Returns `softcot_hf.training.runs.result(...)` (its final evaluation
    is `softcot_hf.pipelines.train`'s).
    """
    output_dir = Path(args.output_dir)
    dtype = resolve_frozen_dtype(args.frozen_dtype)
    # Checkpoints go to output_dir/checkpoints. Gradient checkpointing is ours (enable_frozen_gradient_checkpointing):
    # Trainer's would checkpoint nothing, the frozen layers being in eval mode.
    trainer_args = args.to_training_arguments(output_dir=str(output_dir / CHECKPOINTS))
    identity = training_identity(args, trainer_args, frozen_dtype=str(dtype).removeprefix("torch."))
    resume = check_output_dir(output_dir, identity, args.resume, args.overwrite)
    if args.resume and not args.overwrite and (finished := finished_run(output_dir)):
        return finished
    task = get_task(args.task)
    rows = task.load("train", args.data_dir, **(args.data_options or {}))
    answer_template, step_template = method.target_format(args, task)
    questions, targets = training_rows(task, rows, args.limit, answer_template, step_template)

    set_seed(args.seed)  # the trainable part's initialisation
    model, processor, tokenizer = method.build(args, task, dtype)
    place_model(model, trainer_args)
    if processor is not None:
        examples = tokenize_with_processor(processor, questions, targets)
    else:
        examples = tokenize_plain(tokenizer, method.build_prompt, task, questions, targets)
    collator = collator_for(processor, tokenizer)
    states = method.precompute(model, examples, collator, args)
    if args.gradient_checkpointing:
        enable_frozen_gradient_checkpointing(method.frozen_model(model))

    with no_folders_left_on_refusal(output_dir / CHECKPOINTS):
        trainer = method.trainer_class(
            model=model,
            args=trainer_args,
            train_dataset=TrainExamples(examples, states),
            data_collator=collator,
            **method.trainer_kwargs(args),
        )
        check_engine(trainer)
    if trainer.is_world_process_zero():
        write_run_file(output_dir, identity)
    output = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(str(output_dir))  # trainable weights, config (+ remote code) or adapter config
    if trainer.is_world_process_zero():
        (processor if processor is not None else tokenizer).save_pretrained(output_dir)
    trainer.accelerator.wait_for_everyone()
    outcome = result(trainer, output, output_dir)
    if outcome["is_main_process"]:
        write_train_results(outcome)
    del trainer, model
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return outcome


__all__ = [
    "LLAMA_PAIR",
    "QWEN_PAIR",
    "enable_frozen_gradient_checkpointing",
    "load_frozen",
    "resolve_frozen_dtype",
    "train_frozen_model_method",
]
