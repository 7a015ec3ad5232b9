"""SoftCoT inference overhead: `SoftCoTForCausalLM.generate` against the backbone alone.

Both sides read a prompt of the same length and decode the same number of new tokens, greedy (min = max new tokens,
so EOS cannot stop either early). SoftCoT's prompt holds N thought slots, filled by the projected last-layer states of
one assistant forward over an assistant prompt of the same length; the backbone-alone prompt has ordinary tokens in
those slots. The token ids are random (speed does not depend on them); the weights are random too.

Where the extra time goes is measured in the same run by timing, on the same inputs, each part SoftCoT adds before
the backbone's prefill: the assistant forward (`get_assistant_states`), the projection, and the insertion of the
thoughts into the prompt embeddings (slot mask, masked_fill and masked_scatter, as `SoftCoTForCausalLM.forward` does).

Then both sides under each decoding setup (`--decodings`: eager over a dynamic cache, eager over a static cache,
static cache with the decoding step compiled), interleaved; each setup must give the eager dynamic tokens.
`--decodings eager_dynamic` alone leaves the comparison out.

    python benchmarks/softcot_generate.py --device cuda --shapes real          # 256/1024 prompt, 256 new tokens
    python benchmarks/softcot_generate.py --prompt-lengths 64 256 --new-tokens 32   # CPU, scaled shapes
"""

import argparse
import itertools

import torch
from common import (
    PAIRS,
    add_common_args,
    add_decoding_args,
    build_softcot,
    compare_decodings,
    machine_info,
    parse_args,
    profile_table,
    ratio,
    time_interleaved,
    torch_dtype,
    write_results,
)

QUICK = {"pairs": ["llama"], "batch_sizes": [1, 2], "prompt_lengths": [16], "new_tokens": 3}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--pairs", nargs="+", choices=sorted(PAIRS), default=["llama", "qwen"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--prompt-lengths", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--num-thoughts", type=int, default=4, help="N soft thoughts")
    add_decoding_args(parser)
    parser.add_argument("--profile", action="store_true", help="add torch.profiler tables of one call of each side")
    return parser


def make_inputs(model, batch_size: int, prompt_length: int, device: str, seed: int) -> dict[str, torch.Tensor]:
    """
    Random prompts of `prompt_length` tokens. The backbone's N slots sit 8 tokens before the end (after them come
    the end of the instruction and the chat template's assistant header); the assistant's N placeholders end its
    prompt. `plain_ids` are the backbone ids with ordinary tokens in the slots.
    """
    config, n = model.config, model.config.num_thought_tokens
    generator = torch.Generator().manual_seed(seed)
    # Ordinary tokens stay clear of the last ids of each vocabulary, where the placeholder and slot ids live.
    plain = torch.randint(0, config.text_config.vocab_size - 16, (batch_size, prompt_length), generator=generator)
    ids = plain.clone()
    ids[:, prompt_length - 8 - n : prompt_length - 8] = config.thought_token_id
    assistant = torch.randint(
        0, config.assistant_config.vocab_size - 16, (batch_size, prompt_length), generator=generator
    )
    assistant[:, -n:] = config.assistant_placeholder_token_id
    ones = torch.ones_like(ids)
    tensors = {
        "input_ids": ids,
        "plain_ids": plain,
        "attention_mask": ones,
        "assistant_input_ids": assistant,
        "assistant_attention_mask": torch.ones_like(assistant),
    }
    return {key: value.to(device) for key, value in tensors.items()}


def measure(model, inputs: dict[str, torch.Tensor], args) -> dict:
    """Timings of both sides and of SoftCoT's added parts, interleaved in one run."""
    n = args.new_tokens
    kwargs = dict(max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
    softcot_inputs = {key: value for key, value in inputs.items() if key != "plain_ids"}
    states = model.get_assistant_states(inputs["assistant_input_ids"], inputs["assistant_attention_mask"])
    thoughts = model.get_soft_thoughts(assistant_hidden_states=states)
    embed = model.get_input_embeddings()

    @torch.no_grad()
    def softcot():
        out = model.generate(**softcot_inputs, **kwargs)
        assert out.shape[1] == inputs["input_ids"].shape[1] + n

    @torch.no_grad()
    def backbone():
        out = model.backbone.generate(input_ids=inputs["plain_ids"], attention_mask=inputs["attention_mask"], **kwargs)
        assert out.shape[1] == inputs["plain_ids"].shape[1] + n

    @torch.no_grad()
    def assistant_forward():
        model.get_assistant_states(inputs["assistant_input_ids"], inputs["assistant_attention_mask"])

    @torch.no_grad()
    def projection():
        model.projection(states).to(thoughts.dtype)

    @torch.no_grad()
    def insertion():
        ids = inputs["input_ids"]
        slots = model.get_slot_mask(ids, inputs["attention_mask"])
        embeddings = embed(ids.masked_fill(ids == model.config.thought_token_id, 0))
        embeddings.masked_scatter(slots.unsqueeze(-1), thoughts)

    @torch.no_grad()
    def plain_embedding():
        embed(inputs["plain_ids"])

    fns = {
        "softcot_generate": softcot,
        "backbone_generate": backbone,
        "assistant_forward": assistant_forward,
        "projection": projection,
        "insertion": insertion,
        "plain_embedding": plain_embedding,
    }
    shape = tuple(inputs["input_ids"].shape)
    timings = time_interleaved(fns, args.device, args.warmup, args.repeats, desc=f"softcot generate {shape}")
    medians = {name: timing["median_s"] for name, timing in timings.items()}
    overhead = medians["softcot_generate"] - medians["backbone_generate"]
    parts = {
        "assistant_forward": medians["assistant_forward"],
        "projection": medians["projection"],
        "insertion_beyond_plain_embedding": medians["insertion"] - medians["plain_embedding"],
    }
    result = {
        "timings": timings,
        "ratio_softcot_over_backbone": ratio(medians["softcot_generate"], medians["backbone_generate"]),
        "overhead_s": overhead,
        "parts_s": parts,
        "parts_share_of_overhead": {name: ratio(value, overhead) for name, value in parts.items()},
    }
    if args.profile:
        result["profiles"] = {
            "softcot": profile_table(softcot, args.device),
            "backbone": profile_table(backbone, args.device),
        }
    if len(args.decodings) > 1:
        generators = {
            "softcot": lambda **setup: model.generate(**softcot_inputs, **kwargs, **setup),
            "backbone": lambda **setup: model.backbone.generate(
                input_ids=inputs["plain_ids"], attention_mask=inputs["attention_mask"], **kwargs, **setup
            ),
        }
        tokens = inputs["input_ids"].shape[0] * n
        result["decodings"] = compare_decodings(generators, args, tokens, desc=f"softcot decodings {shape}")
    return result


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(build_parser(), argv, QUICK)
    machine = machine_info(args.device)
    results = {}
    for pair in args.pairs:
        model = build_softcot(pair, args.shapes, args.device, torch_dtype(args), args.num_thoughts, seed=args.seed)
        for batch_size, prompt_length in itertools.product(args.batch_sizes, args.prompt_lengths):
            inputs = make_inputs(model, batch_size, prompt_length, args.device, args.seed)
            row = measure(model, inputs, args)
            results[f"{pair}/batch{batch_size}/prompt{prompt_length}"] = row
            parts = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in row["parts_s"].items())
            print(
                f"{pair} batch {batch_size} prompt {prompt_length}: softcot/backbone "
                f"x{row['ratio_softcot_over_backbone']:.3f}, overhead {row['overhead_s'] * 1e3:.1f} ms ({parts})"
            )
            if "decodings" in row:
                timings, same = row["decodings"]["timings"], row["decodings"]["same_tokens"]
                speedups = ", ".join(f"{label} x{timing['speedup']:.2f}" for label, timing in timings.items())
                print(f"  {speedups}; same tokens: {all(same.values())}")
        del model
    write_results("softcot_generate", args, results, machine)
    return results


if __name__ == "__main__":
    main()
