"""Coconut answer decoding: our batched, KV-cached `generate` against the official approach.

The official Coconut code answers one question at a time: it fills the latents with the multi-pass forward, then
produces each answer token with a full, uncached forward over the whole sequence. Ours prefills the question and the
thoughts (one cached step per thought) and decodes the answer from the cache, for a left-padded batch.

Both sides decode exactly `--new-tokens` answer tokens (min = max new tokens, so EOS cannot stop either early),
greedy, on ProsQA test questions tokenized with the real GPT-2 tokenizer, with a GPT-2-shaped model (random weights)
wrapped by `CoconutForCausalLM.from_base`. Reported: answer tokens per second of each, their ratio, whether both give
the same greedy tokens, and the cost of one latent step relative to one ordinary decoding step.

Then our `generate` under each decoding setup (`--decodings`: eager over a dynamic cache, eager over a static cache,
static cache with the decoding step compiled), next to the wrapped LM's own `generate` over the same positions (the
question and the Coconut tokens as ordinary tokens) under the same setups, all interleaved, per batch size; each
setup must give the eager dynamic tokens. `--reference-questions 0` skips the official loop.

    python benchmarks/coconut_generate.py --device cuda --shapes real --batch-sizes 1 32 64
"""

import argparse
import functools
import statistics
import sys

import torch
from common import (
    SHARED,
    add_common_args,
    add_decoding_args,
    add_vocab_size_arg,
    build_coconut,
    check_attention,
    compare_decodings,
    machine_info,
    parse_args,
    profile_table,
    ratio,
    time_interleaved,
    write_results,
)
from transformers import AutoTokenizer, DynamicCache

from softcot_hf import CoconutForCausalLM
from softcot_hf.data import get_task
from softcot_hf.methods import get_method
from softcot_hf.modeling.compat import CACHE_KWARG

QUICK = {"batch_sizes": [1, 4], "new_tokens": 3, "num_latents": 2, "reference_questions": 1, "check_questions": 2}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--model", default="gpt2", help="shape file name in configs/<shapes>/")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--num-latents", type=int, default=6, help="continuous thoughts (ProsQA: c=1, 6 stages)")
    parser.add_argument("--new-tokens", type=int, default=16, help="answer tokens decoded by both sides")
    parser.add_argument("--reference-questions", type=int, default=2, help="questions per run of the official loop")
    parser.add_argument("--check-questions", type=int, default=3, help="questions whose greedy tokens are compared")
    parser.add_argument("--data-dir", default=str(SHARED / "data" / "prosqa"))
    parser.add_argument("--tokenizer", default=str(SHARED / "tokenizers" / "gpt2"))
    add_vocab_size_arg(parser)
    add_decoding_args(parser)
    parser.add_argument("--profile", action="store_true", help="add torch.profiler tables of one call of each side")
    return parser


@torch.no_grad()
def official_generate(model: CoconutForCausalLM, question: list[int], num_latents: int, new_tokens: int) -> list[int]:
    """
    The official Coconut inference for one question (batch size 1): the multi-pass forward fills the latents (pass 0
    up to the first latent, then one cached pass per latent, the last one also covering `<|end-latent|>`), then every
    answer token after the first comes from a full, uncached forward over the whole sequence of embeddings.
    """
    config = model.config
    ids = question + [config.start_latent_token_id] + [config.latent_token_id] * num_latents
    ids = torch.tensor([ids + [config.end_latent_token_id]], device=model.device)
    embeds = model.get_input_embeddings()(ids)
    decoder = model.language_model.get_decoder()
    first_latent = len(question) + 1
    bounds = [0] + list(range(first_latent, first_latent + num_latents)) + [ids.shape[1]]
    cache = DynamicCache(config=config.get_text_config())
    hidden = None
    for index, (start, end) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        if index > 0:
            embeds[:, start] = hidden[:, -1]
        hidden = decoder(inputs_embeds=embeds[:, start:end], use_cache=True, **{CACHE_KWARG: cache}).last_hidden_state
    tokens = [int(model.get_output_embeddings()(hidden[:, -1]).argmax(-1))]
    for _ in range(new_tokens - 1):
        token_embeds = model.get_input_embeddings()(torch.tensor([[tokens[-1]]], device=model.device))
        embeds = torch.cat([embeds, token_embeds], dim=1)
        logits = model.language_model(inputs_embeds=embeds, use_cache=False).logits
        tokens.append(int(logits[0, -1].argmax(-1)))
    return tokens


def left_pad(rows: list[list[int]], pad_id: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, max_len) ids and attention mask of left-padded rows."""
    width = max(len(row) for row in rows)
    ids = torch.tensor([[pad_id] * (width - len(row)) + row for row in rows], device=device)
    mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows], device=device)
    return ids, mask


def step_costs(model: CoconutForCausalLM, ids: torch.Tensor, mask: torch.Tensor, args) -> dict:
    """
    Time of one cached latent step (the decoder over one position fed the previous last hidden state; no LM head,
    as in `_forward_latents`) against one cached decoding step (token embedding, decoder, LM head at one position,
    argmax), both after the same prefill of question + `<|start-latent|>`. The cache is cropped back after each.
    """
    decoder = model.language_model.get_decoder()
    start = torch.full_like(ids[:, :1], model.config.start_latent_token_id)
    ids, mask = torch.cat([ids, start], 1), torch.cat([mask, torch.ones_like(start)], 1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config.get_text_config())
    with torch.no_grad():
        hidden = decoder(
            input_ids=ids, attention_mask=mask, position_ids=positions, **{CACHE_KWARG: cache}
        ).last_hidden_state
    step_mask = torch.cat([mask, torch.ones_like(start)], 1)
    step_positions = positions[:, -1:] + 1
    token = ids[:, -1:].clone()

    @torch.no_grad()
    def latent_step():
        decoder(
            inputs_embeds=hidden[:, -1:],
            attention_mask=step_mask,
            position_ids=step_positions,
            **{CACHE_KWARG: cache},
        )
        cache.crop(-1)

    @torch.no_grad()
    def decoding_step():
        logits = model(
            input_ids=token,
            attention_mask=step_mask,
            position_ids=step_positions,
            logits_to_keep=1,
            **{CACHE_KWARG: cache},
        ).logits
        logits.argmax(-1)
        cache.crop(-1)

    timings = time_interleaved(
        {"latent_step": latent_step, "decoding_step": decoding_step},
        args.device,
        args.warmup,
        args.repeats * 4,
        desc=f"step costs, batch {ids.shape[0]}",
    )
    return {
        **timings,
        "latent_over_decoding_step": ratio(timings["latent_step"]["median_s"], timings["decoding_step"]["median_s"]),
    }


def decoding_comparison(
    model: CoconutForCausalLM, questions: list[list[int]], pad_id: int, generate_kwargs: dict, args
) -> dict:
    """Coconut's `generate` and the wrapped LM's over the same positions, under each decoding setup (interleaved)."""
    ids, mask = left_pad(questions, pad_id, args.device)
    config = model.config
    latents = [config.latent_token_id] * args.num_latents
    thought_ids = [config.start_latent_token_id, *latents, config.end_latent_token_id]
    thoughts = torch.tensor(thought_ids, device=ids.device).expand(ids.shape[0], -1)
    plain_kwargs = {key: value for key, value in generate_kwargs.items() if key != "num_latent_thoughts"}
    generators = {
        "coconut": functools.partial(model.generate, input_ids=ids, attention_mask=mask, **generate_kwargs),
        "plain_lm": functools.partial(
            model.language_model.generate,
            input_ids=torch.cat([ids, thoughts], 1),
            attention_mask=torch.cat([mask, torch.ones_like(thoughts)], 1),
            **plain_kwargs,
        ),
    }
    tokens = ids.shape[0] * args.new_tokens
    return compare_decodings(generators, args, tokens, desc=f"coconut decodings, batch {ids.shape[0]}")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(build_parser(), argv, QUICK)
    machine = machine_info(args.device)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    tokenizer.pad_token = tokenizer.eos_token
    model, fold = build_coconut(args, tokenizer)
    model.eval()
    fold = fold or (lambda ids: ids)
    check_attention(model)

    task = get_task("prosqa")
    needed = max(max(args.batch_sizes), args.reference_questions, args.check_questions)
    dataset = task.load("test", data_dir=args.data_dir).select(range(needed))
    questions = [tokenizer(get_method("coconut").build_prompt(task, q))["input_ids"] for q in dataset["question"]]
    questions = [fold(torch.tensor(question)).tolist() for question in questions]
    pad_id = int(fold(torch.tensor([tokenizer.pad_token_id]))[0])
    k, n = args.num_latents, args.new_tokens
    generate_kwargs = dict(
        num_latent_thoughts=k, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=pad_id
    )

    def ours(batch_size: int):
        ids, mask = left_pad(questions[:batch_size], pad_id, args.device)

        @torch.no_grad()
        def run():
            return model.generate(input_ids=ids, attention_mask=mask, **generate_kwargs)

        return run

    def official():
        for question in questions[: args.reference_questions]:
            official_generate(model, question, k, n)

    # Same greedy tokens: ours on a left-padded batch and the official loop, question by question.
    same_tokens = []
    if args.reference_questions:
        ids, mask = left_pad(questions[: args.check_questions], pad_id, args.device)
        with torch.no_grad():
            batched = model.generate(input_ids=ids, attention_mask=mask, **generate_kwargs)[:, -n:].tolist()
        reference = [official_generate(model, q, k, n) for q in questions[: args.check_questions]]
        same_tokens = [a == b for a, b in zip(batched, reference, strict=True)]
        if not all(same_tokens):
            print(f"WARNING: greedy tokens differ from the official loop on questions {same_tokens}", file=sys.stderr)

    fns = {"official_batch1": official} if args.reference_questions else {}
    fns |= {f"ours_batch{b}": ours(b) for b in args.batch_sizes}
    timings = time_interleaved(fns, args.device, args.warmup, args.repeats, desc="coconut generate")
    answers = {"official_batch1": args.reference_questions} | {f"ours_batch{b}": b for b in args.batch_sizes}
    rows = {}
    for name, timing in timings.items():
        tokens_per_s = answers[name] * n / timing["median_s"]
        rows[name] = {**timing, "questions": answers[name], "answer_tokens_per_s": tokens_per_s}
    for name in rows:
        official_speed = rows.get("official_batch1", {}).get("answer_tokens_per_s", float("nan"))
        rows[name]["speedup_over_official"] = ratio(rows[name]["answer_tokens_per_s"], official_speed)
    decodings = {
        f"batch{b}": decoding_comparison(model, questions[:b], pad_id, generate_kwargs, args) for b in args.batch_sizes
    }
    steps = {
        f"batch{b}": step_costs(model, *left_pad(questions[:b], pad_id, args.device), args)
        for b in sorted({1, max(args.batch_sizes)})
    }
    results = {
        "num_latents": k,
        "new_tokens": n,
        "mean_question_tokens": statistics.mean(len(q) for q in questions[: max(args.batch_sizes)]),
        "same_greedy_tokens": same_tokens,
        "generate": rows,
        "step_costs": steps,
        "decodings": decodings,
    }
    if args.profile:
        results["profiles"] = {
            "official_batch1": profile_table(official, args.device),
            f"ours_batch{max(args.batch_sizes)}": profile_table(ours(max(args.batch_sizes)), args.device),
        }
    for name, row in rows.items():
        versus_official = f"  x{row['speedup_over_official']:.2f}" if args.reference_questions else ""
        print(f"{name:>18}: {row['answer_tokens_per_s']:10.1f} answer tokens/s{versus_official}")
    for name, step in steps.items():
        print(f"{name}: one latent step = {step['latent_over_decoding_step']:.2f} x one decoding step")
    for batch, comparison in decodings.items():
        speedups = ", ".join(f"{label} x{row['speedup']:.2f}" for label, row in comparison["timings"].items())
        print(f"{batch}: {speedups}; same tokens: {all(comparison['same_tokens'].values())}")
    write_results("coconut_generate", args, results, machine)
    return results


if __name__ == "__main__":
    main()
