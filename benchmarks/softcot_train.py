"""Step time and peak memory of one SoftCoT training step: with/without the assistant-state cache, with/without
gradient checkpointing on the backbone.

    python benchmarks/softcot_train.py                    # tiny shapes on CPU (the recorded numbers)
    python benchmarks/softcot_train.py --shapes llama     # LLaMA-3.2-1B -> LLaMA-3.1-8B shapes, random bf16 weights

One step = forward + backward + AdamW step on the projection, on a fixed batch. "cache" feeds precomputed
`assistant_hidden_states` (the pipeline's cache), "no cache" runs the frozen assistant in every step. Each setting runs
in its own process (clean peak memory): on CUDA the peak is `torch.cuda.max_memory_allocated`, on CPU the growth of
the process's peak resident set during the steps (`ru_maxrss`) over what the models already took. Times are medians
of `--steps` after `--warmup` steps.
"""

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from softcot_hf import SoftCoTConfig, SoftCoTForCausalLM
from softcot_hf.training.softcot_training import enable_frozen_gradient_checkpointing

SHAPES = {
    # (hidden, layers, heads, kv heads, intermediate, vocab)
    "tiny": {"assistant": (128, 4, 4, 2, 256, 1000), "backbone": (256, 4, 8, 2, 512, 1000)},
    "llama": {"assistant": (2048, 16, 32, 8, 8192, 128256), "backbone": (4096, 32, 32, 8, 14336, 128256)},
}
SLOT, PLACEHOLDER = 5, 6


def llama(shape: tuple, dtype: torch.dtype, device: str) -> LlamaForCausalLM:
    hidden, layers, heads, kv_heads, intermediate, vocab = shape
    config = LlamaConfig(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        intermediate_size=intermediate,
        vocab_size=vocab,
        max_position_embeddings=4096,
        attn_implementation="sdpa",
    )
    with torch.device(device):
        return LlamaForCausalLM(config).to(dtype).eval()


def peak_memory_mb(device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_setting(args: argparse.Namespace) -> dict:
    """One setting in this process: build, warm up, time `args.steps` steps."""
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    shapes = SHAPES[args.shapes]
    assistant, backbone = llama(shapes["assistant"], dtype, device), llama(shapes["backbone"], dtype, device)
    n = 4
    config = SoftCoTConfig(
        assistant_config=assistant.config.to_dict(),
        text_config=backbone.config.to_dict(),
        num_thought_tokens=n,
        assistant_placeholder_token_id=PLACEHOLDER,
        thought_token_id=SLOT,
    )
    model = SoftCoTForCausalLM(config, assistant=assistant, backbone=backbone).to(device)
    if args.gradient_checkpointing:
        enable_frozen_gradient_checkpointing(model.backbone)
    vocab = shapes["backbone"][-1]
    ids = torch.randint(10, vocab, (args.batch_size, args.seq_len), device=device)
    ids[:, 8 : 8 + n] = SLOT
    assistant_ids = torch.randint(10, shapes["assistant"][-1], (args.batch_size, args.seq_len // 2), device=device)
    assistant_ids[:, -n:] = PLACEHOLDER
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}
    if args.cache:
        batch["assistant_hidden_states"] = model.get_assistant_states(assistant_ids)
    else:
        batch["assistant_input_ids"] = assistant_ids
    optimizer = torch.optim.AdamW(model.projection.parameters(), lr=2e-5)
    model.train()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before = peak_memory_mb(device)
    times = []
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if device == "cuda":
            torch.cuda.synchronize()
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    peak = peak_memory_mb(device)
    return {
        "device": device,
        "median_step_s": statistics.median(times),
        "samples_per_s": args.batch_size / statistics.median(times),
        "peak_memory_mb": peak if device == "cuda" else peak - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", choices=sorted(SHAPES), default="tiny")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per setting (steadier on a shared CPU)")
    parser.add_argument("--cache", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--gradient-checkpointing", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # run one setting, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_setting(args)))
        return
    common = [f"--shapes={args.shapes}", f"--batch-size={args.batch_size}", f"--seq-len={args.seq_len}"]
    common += [f"--warmup={args.warmup}", f"--steps={args.steps}", f"--threads={args.threads}", "--one"]
    results = {}
    for cache in (False, True):
        for checkpointing in (False, True):
            flags = (["--cache"] if cache else []) + (["--gradient-checkpointing"] if checkpointing else [])
            done = subprocess.run([sys.executable, __file__, *common, *flags], capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-3000:])
            results[(cache, checkpointing)] = json.loads(done.stdout.strip().splitlines()[-1])
    base = results[(False, False)]
    print(f"shapes={args.shapes} batch={args.batch_size} seq={args.seq_len} device={base['device']} "
          f"torch={torch.__version__} python={platform.python_version()}")  # fmt: skip
    print("| assistant cache | gradient checkpointing | median step (s) | samples/s | peak memory (MiB) "
          "| step time vs baseline | memory vs baseline |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for (cache, checkpointing), result in results.items():
        print(
            f"| {'on' if cache else 'off'} | {'on' if checkpointing else 'off'} | {result['median_step_s']:.4f} | "
            f"{result['samples_per_s']:.1f} | {result['peak_memory_mb']:.0f} | "
            f"{result['median_step_s'] / base['median_step_s']:.2f} | "
            f"{result['peak_memory_mb'] / max(base['peak_memory_mb'], 1e-9):.2f} |"
        )


if __name__ == "__main__":
    main()
