"""Training the SoftCoT projection and its trained baselines (CoT-Unk embeddings, LoRA) on one `Trainer` pipeline.

`train_softcot_pipeline(method, ...)` / `softcot-hf train softcot|cot_unk|lora ...` load the frozen models, build the
method's trainable part, tokenize the task's training split with the method's prompt, train with `transformers.Trainer`
and write a ready artifact to `output_dir` (then evaluate it on the test split into `output_dir/eval`).

Why `Trainer`: it already gives what this needs (linear schedule, checkpoints of the trainable weights with optimizer,
scheduler, RNG and trainer state, resume, logging and progress bars, DDP/FSDP/DeepSpeed through accelerate), and the
models are ordinary `PreTrainedModel`s whose `save_pretrained` writes only the trainable weights.

- Frozen models load in bf16 on a GPU that supports it (fp32 on CPU; `frozen_dtype` forces either); the projection and
  the CoT-Unk embeddings stay fp32 (pure-bf16 AdamW at lr 2e-5 rounds most updates to zero); LoRA adapters are fp32
  (peft's `autocast_adapter_dtype`).
- Checkpoints (`output_dir/checkpoint-<step>/`) hold the trainable weights only (+ optimizer, scheduler, RNG, trainer
  state, config, processor). Rerunning the same command resumes from the last one. An output dir holding a checkpoint
  of another model is refused.
- Several processes: the same entry point under `torchrun --nproc_per_node K` or `accelerate launch` runs DDP
  (`--batch-size` is per process: keep batch-size x processes x accumulation fixed to keep the global batch). The
  frozen models are replicated on every device; only the trainable weights are all-reduced. When the frozen models do
  not fit one device, use FSDP or DeepSpeed ZeRO-3 through accelerate (`accelerate launch --config_file fsdp.yaml
  -m softcot_hf.cli train softcot ...` with `fsdp_use_orig_params: true`, so frozen and trainable parameters can
  share a wrapped unit; or a DeepSpeed stage-3 config): both shard the frozen weights across devices and keep the
  unchanged training loop; checkpoints are then gathered to the trainable weights by `Trainer.save_model`.
"""

import argparse
import gc
import json
import math
import os
from pathlib import Path
from typing import Literal

import peft
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainingArguments,
    set_seed,
)
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.trainer_utils import get_last_checkpoint

from ..data import get_task
from ..modeling import CoTUnkForCausalLM, SoftCoTForCausalLM
from ..modeling.compat import enable_activation_checkpointing
from ..processing_softcot import DEFAULT_ASSISTANT_TEMPLATE, SoftCoTProcessor
from .assistant_cache import load_or_compute_assistant_states
from .softcot_data import TrainExamples, collator_for, tokenize_plain, tokenize_with_processor, training_rows

Method = Literal["softcot", "cot_unk", "lora"]
METHODS = ("softcot", "cot_unk", "lora")
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


def _offline_hint(side: str, name_or_path: str, error: Exception) -> OSError:
    return OSError(
        f"Could not load the {side} {name_or_path!r} ({type(error).__name__}: {error}). If it is a Hub id and this "
        f"machine is offline, download it first where there is network (`hf download {name_or_path}`) into the Hub "
        "cache, or pass the local path of a folder holding the model and its tokenizer."
    )


def load_frozen(side: str, name_or_path: str, dtype: torch.dtype) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A frozen causal LM and its tokenizer from a Hub id or path, with an error that says how to fix a failed load."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype)
    except (OSError, ValueError) as error:
        raise _offline_hint(side, name_or_path, error) from error
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


def _model_identity(method: str, backbone: str, assistant: str | None, num_thought_tokens: int) -> dict:
    if method == "lora":
        return {"method": "lora", "backbone": backbone}
    identity = {"method": method, "backbone": backbone, "num_thought_tokens": num_thought_tokens}
    if method == "softcot":
        identity["assistant"] = assistant
    return identity


def _identity_in(folder: Path) -> dict | None:
    """The model identity a checkpoint folder was written for, read from its config / adapter config."""
    if (folder / "adapter_config.json").exists():
        return {
            "method": "lora",
            "backbone": json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"],
        }
    if not (folder / "config.json").exists():
        return None
    config = json.loads((folder / "config.json").read_text())
    if config.get("model_type") not in ("softcot", "cot_unk"):
        return {"method": config.get("model_type"), "backbone": config.get("_name_or_path")}
    identity = {
        "method": config["model_type"],
        "backbone": config.get("backbone_model_name_or_path"),
        "num_thought_tokens": config.get("num_thought_tokens"),
    }
    if config["model_type"] == "softcot":
        identity["assistant"] = config.get("assistant_model_name_or_path")
    return identity


def check_output_dir(output_dir: Path, expected: dict) -> str | None:
    """The last checkpoint to resume from (None: start afresh). Raises if `output_dir` holds another model's."""
    if not output_dir.is_dir():
        return None
    last = get_last_checkpoint(str(output_dir))
    for folder in [output_dir] + ([Path(last)] if last else []):
        found = _identity_in(folder)
        if found is not None and found != expected:
            raise ValueError(
                f"{folder} holds a checkpoint of another model ({found}), not of this run ({expected}). Pass a new "
                "--output-dir, or delete that folder to start over."
            )
    return last


def build_trainable(
    method: Method,
    backbone: str,
    assistant: str | None,
    task_name: str,
    num_thought_tokens: int,
    dtype: torch.dtype,
    projection_type: str,
    assistant_template: str,
    lora_r: int,
    lora_alpha: int,
) -> tuple[PreTrainedModel, SoftCoTProcessor | None, PreTrainedTokenizerBase]:
    """The model to train (trainable part initialised from torch's RNG), its processor and backbone tokenizer."""
    task = get_task(task_name)
    backbone_model, backbone_tokenizer = load_frozen("backbone", backbone, dtype)
    if method == "softcot":
        if assistant is None:
            raise ValueError("softcot needs --assistant (Hub id or path of the small frozen assistant LM).")
        assistant_model, assistant_tokenizer = load_frozen("assistant", assistant, dtype)
        model = SoftCoTForCausalLM.from_assistant_and_backbone(
            assistant_model,
            backbone_model,
            num_thought_tokens=num_thought_tokens,
            assistant_tokenizer=assistant_tokenizer,
            backbone_tokenizer=backbone_tokenizer,
            projection_type=projection_type,
        )
        processor = SoftCoTProcessor(
            assistant_tokenizer,
            backbone_tokenizer,
            num_thought_tokens=num_thought_tokens,
            assistant_template=assistant_template,
            backbone_template=task.build_prompt("{question}", "softcot"),
        )
        return model, processor, backbone_tokenizer
    if assistant is not None:
        raise ValueError(f"{method} uses no assistant: drop --assistant {assistant!r}.")
    if method == "cot_unk":
        model = CoTUnkForCausalLM.from_backbone(
            backbone_model, num_thought_tokens=num_thought_tokens, backbone_tokenizer=backbone_tokenizer
        )
        processor = SoftCoTProcessor(
            None,
            backbone_tokenizer,
            num_thought_tokens=num_thought_tokens,
            backbone_template=task.build_prompt("{question}", "cot_unk"),
        )
        return model, processor, backbone_tokenizer
    if method == "lora":
        backbone_model.config.use_cache = False
        lora = peft.LoraConfig(r=lora_r, lora_alpha=lora_alpha, target_modules="all-linear", task_type="CAUSAL_LM")
        return peft.get_peft_model(backbone_model, lora), None, backbone_tokenizer
    raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")


def train_softcot_pipeline(
    method: Method,
    backbone: str,
    output_dir: str | os.PathLike,
    *,
    assistant: str | None = None,
    task: str = "gsm8k",
    data_dir: str | os.PathLike | None = None,
    num_thought_tokens: int = 4,
    epochs: float = 10.0,
    max_steps: int = -1,
    limit: int | None = None,
    lr: float = 2e-5,
    batch_size: int = 4,
    gradient_accumulation_steps: int = 1,
    gradient_checkpointing: bool = False,
    assistant_cache: bool = True,
    assistant_cache_dir: str | os.PathLike | None = None,
    frozen_dtype: str = "auto",
    projection_type: str = "linear",
    assistant_template: str = DEFAULT_ASSISTANT_TEMPLATE,
    lora_r: int = 8,
    lora_alpha: int = 16,
    seed: int = 42,
    save_steps: int | None = None,
    save_total_limit: int | None = 2,
    logging_steps: int = 10,
    run_eval: bool = True,
    eval_limit: int | None = None,
    eval_batch_size: int = 16,
    max_new_tokens: int = 256,
) -> dict:
    """
    Train `method` ("softcot", "cot_unk" or "lora") on `task`'s training split and write its artifact to `output_dir`
    (see the module docstring); then, unless `run_eval=False`, evaluate it on the test split into `output_dir/eval`.
    Defaults follow the SoftCoT paper (lr 2e-5, 10 epochs, linear projection, N=4). `max_steps > 0` overrides
    `epochs`; `limit` keeps the first examples; `save_steps=None` checkpoints at each epoch end.
    `assistant_cache` precomputes the assistant's states once (in memory, or in `assistant_cache_dir`).
    Returns {"output_dir", "train_metrics", "eval" (the summary dict, or None), "is_main_process"}.
    """
    output_dir = Path(output_dir)
    resume = check_output_dir(output_dir, _model_identity(method, backbone, assistant, num_thought_tokens))
    args = TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=epochs,
        max_steps=max_steps,
        learning_rate=lr,
        lr_scheduler_type="linear",
        warmup_steps=0,
        weight_decay=0.0,
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        logging_steps=logging_steps,
        save_strategy="steps" if save_steps else "epoch",
        save_steps=save_steps or 500,
        save_total_limit=save_total_limit,
        seed=seed,
        data_seed=seed,
        report_to="none",
        remove_unused_columns=False,
        use_cpu=not torch.cuda.is_available(),
        ddp_backend="gloo" if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available() else None,
        ddp_find_unused_parameters=False,
        dataloader_num_workers=0,
    )
    dtype = resolve_frozen_dtype(frozen_dtype)
    task_obj = get_task(task)
    questions, targets = training_rows(task_obj, task_obj.load("train", data_dir), limit)

    set_seed(seed)  # the trainable part's initialisation
    model, processor, tokenizer = build_trainable(
        method,
        backbone,
        assistant,
        task,
        num_thought_tokens,
        dtype,
        projection_type,
        assistant_template,
        lora_r,
        lora_alpha,
    )
    model.to(args.device)
    if processor is not None:
        examples = tokenize_with_processor(processor, questions, targets)
    else:
        examples = tokenize_plain(tokenizer, task_obj, method, questions, targets)
    collator = collator_for(processor, tokenizer)
    states = None
    if method == "softcot" and assistant_cache:
        rows = [example["assistant_input_ids"] for example in examples]
        with args.main_process_first(local=False):  # with a cache dir: rank 0 writes it, the others read it
            states, _, _ = load_or_compute_assistant_states(
                model, rows, collator.assistant_pad_token_id, assistant_cache_dir, batch_size=eval_batch_size
            )
    frozen = model.get_base_model() if method == "lora" else model.backbone
    if gradient_checkpointing:
        enable_frozen_gradient_checkpointing(frozen)

    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=TrainExamples(examples, states),
        data_collator=collator,
    )
    result = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(str(output_dir))  # trainable weights, config (+ remote code) or adapter config
    is_main = trainer.is_world_process_zero()
    if is_main:
        (processor if processor is not None else tokenizer).save_pretrained(output_dir)
    trainer.accelerator.wait_for_everyone()
    del trainer, model
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()

    summary = None
    if run_eval and is_main:
        from ..evaluation import run_evaluation

        summary = run_evaluation(
            task_obj,
            method,
            str(output_dir),
            data_dir=data_dir,
            split="test",
            limit=eval_limit,
            batch_size=eval_batch_size,
            max_new_tokens=max_new_tokens,
            output_dir=output_dir / "eval",
            dtype=dtype,
        )
    return {
        "output_dir": str(output_dir),
        "train_metrics": result.metrics,
        "eval": summary,
        "is_main_process": is_main,
    }


def add_arguments(parser: argparse.ArgumentParser, method: str) -> None:
    """The options of `softcot-hf train <method>` (and of examples/train_softcot.py)."""
    parser.add_argument("--backbone", required=method != "example", help="frozen backbone LM: Hub id or path")
    if method in ("softcot", "example"):
        parser.add_argument("--assistant", help="frozen assistant LM (softcot): Hub id or path")
    parser.add_argument("--task", default="gsm8k", help="task registry name (softcot_hf.data.list_tasks())")
    parser.add_argument("--data-dir", help="local copy of the task's data (its original layout); else the Hub")
    parser.add_argument("--output-dir", required=True, help="checkpoints, the final artifact and eval/ go here")
    if method != "lora":
        parser.add_argument("--num-thought-tokens", type=int, default=4, help="N (paper: 4)")
    parser.add_argument("--epochs", type=float, default=10.0, help="training epochs (paper: 10)")
    parser.add_argument("--max-steps", type=int, default=-1, help="optimizer steps; > 0 overrides --epochs")
    parser.add_argument("--limit", type=int, help="train on the first LIMIT examples only")
    parser.add_argument("--lr", type=float, default=2e-5, help="learning rate (paper: 2e-5), linear decay")
    parser.add_argument("--batch-size", type=int, default=4, help="examples per device and step")
    parser.add_argument("--gradient-accumulation-steps", type=int, default=1)
    parser.add_argument(
        "--gradient-checkpointing", action="store_true", help="checkpoint the frozen backbone's layers"
    )
    parser.add_argument("--frozen-dtype", choices=("auto", "bf16", "fp32"), default="auto", help="auto: bf16 on GPU")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--save-steps", type=int, help="checkpoint every SAVE_STEPS steps (default: every epoch)")
    parser.add_argument("--logging-steps", type=int, default=10)
    if method in ("softcot", "example"):
        parser.add_argument("--projection-type", choices=("linear", "mlp"), default="linear")
        cache = parser.add_mutually_exclusive_group()
        cache.add_argument("--no-assistant-cache", action="store_true", help="rerun the assistant at every step")
        cache.add_argument("--assistant-cache-dir", help="keep the assistant-state cache on disk here (fingerprinted)")
    if method in ("lora", "example"):
        parser.add_argument("--lora-r", type=int, default=8)
        parser.add_argument("--lora-alpha", type=int, default=16)
    parser.add_argument("--no-eval", action="store_true", help="skip the test-split evaluation after training")
    parser.add_argument("--eval-limit", type=int, help="evaluate on the first EVAL_LIMIT test examples")
    parser.add_argument("--eval-batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=256)


def run_from_args(method: str, args: argparse.Namespace) -> dict:
    """Call `train_softcot_pipeline` with parsed arguments and print where the artifact and summary went."""
    result = train_softcot_pipeline(
        method,
        args.backbone,
        args.output_dir,
        assistant=getattr(args, "assistant", None),
        task=args.task,
        data_dir=args.data_dir,
        num_thought_tokens=getattr(args, "num_thought_tokens", 4),
        epochs=args.epochs,
        max_steps=args.max_steps,
        limit=args.limit,
        lr=args.lr,
        batch_size=args.batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        gradient_checkpointing=args.gradient_checkpointing,
        assistant_cache=not getattr(args, "no_assistant_cache", False),
        assistant_cache_dir=getattr(args, "assistant_cache_dir", None),
        frozen_dtype=args.frozen_dtype,
        projection_type=getattr(args, "projection_type", "linear"),
        lora_r=getattr(args, "lora_r", 8),
        lora_alpha=getattr(args, "lora_alpha", 16),
        seed=args.seed,
        save_steps=args.save_steps,
        logging_steps=args.logging_steps,
        run_eval=not args.no_eval,
        eval_limit=args.eval_limit,
        eval_batch_size=args.eval_batch_size,
        max_new_tokens=args.max_new_tokens,
    )
    if result["is_main_process"]:
        loss = result["train_metrics"].get("train_loss", math.nan)
        print(f"{method}: trained (train_loss {loss:.4f}); artifact in {result['output_dir']}")
        if result["eval"] is not None:
            print(f"accuracy {result['eval']['accuracy']:.4f} on {result['eval']['num_examples']} test examples")
    return result


def add_train_commands(subparsers: argparse._SubParsersAction) -> None:
    """`softcot-hf train softcot|cot_unk|lora ...`."""
    helps = {
        "softcot": "train a SoftCoT projection between a frozen assistant and a frozen backbone",
        "cot_unk": "train the Zero-Shot CoT-Unk baseline: N embeddings in the backbone's thought slots",
        "lora": "train the LoRA fine-tuning baseline on the same data and prompts",
    }
    for method, help_text in helps.items():
        parser = subparsers.add_parser(method, help=help_text, description=help_text)
        add_arguments(parser, method)
        parser.set_defaults(func=lambda args, method=method: run_from_args(method, args))


__all__ = [
    "LLAMA_PAIR",
    "METHODS",
    "QWEN_PAIR",
    "add_arguments",
    "add_train_commands",
    "build_trainable",
    "check_output_dir",
    "enable_frozen_gradient_checkpointing",
    "load_frozen",
    "resolve_frozen_dtype",
    "run_from_args",
    "train_softcot_pipeline",
]
