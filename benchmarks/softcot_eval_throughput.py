"""SoftCoT evaluation throughput: one example at a time (as the official code does) against batched generation.

The same GSM8K test questions go through `SoftCoTProcessor` (real tokenizers, chat templates, the official thought
tokens) and `SoftCoTForCausalLM.generate`, greedy, a fixed number of new tokens per answer (min = max new tokens: with
random weights EOS would stop rows at random points). The official evaluation loops over examples with batch size 1;
ours generates left-padded batches. Tokenization is done beforehand on both sides: only the model time is timed.
With scaled-down shapes the token ids are folded into the smaller vocabularies (same lengths and padding).

A third variant batches the questions longest first, as the evaluation harness does (`length_buckets`, see
`softcot_hf.evaluation.harness.generation_order`): batches of similar lengths pad less. Its answers, put back in
question order, must equal those of the batches in question order; the padding of both is reported. With
`--batch-size` at least the number of questions there is one batch and nothing to regroup.

    python benchmarks/softcot_eval_throughput.py --device cuda --shapes real --new-tokens 256
    python benchmarks/softcot_eval_throughput.py --new-tokens 16      # CPU, scaled shapes
"""

import argparse
import sys

import torch
from common import (
    PAIRS,
    SHARED,
    TOKENIZERS,
    add_common_args,
    build_softcot,
    load_config,
    machine_info,
    parse_args,
    profile_table,
    ratio,
    time_interleaved,
    torch_dtype,
    write_results,
)
from transformers import AutoTokenizer

from softcot_hf import SoftCoTProcessor
from softcot_hf.data import get_task
from softcot_hf.evaluation.harness import generation_order
from softcot_hf.methods import get_method

QUICK = {"num_questions": 4, "batch_size": 2, "new_tokens": 3}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--pair", choices=sorted(PAIRS), default="llama")
    parser.add_argument("--num-questions", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--num-thoughts", type=int, default=4)
    parser.add_argument("--data-dir", default=str(SHARED / "data" / "gsm8k"))
    parser.add_argument("--tokenizers-dir", default=str(SHARED / "tokenizers"))
    parser.add_argument("--profile", action="store_true", help="add torch.profiler tables of one call of each side")
    return parser


def fold_ids(ids: torch.Tensor, vocab_size: int, special: dict[int, int]) -> torch.Tensor:
    """Ids folded into `[0, vocab_size - 16)`, except the `special` ones, mapped as given (a no-op if all fit)."""
    if int(ids.max()) < vocab_size:
        return ids
    folded = ids % (vocab_size - 16)
    for old, new in special.items():
        folded[ids == old] = new
    return folded


def padding_share(batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
    """The share of padded positions in the backbone's and the assistant's prompts over all `batches`."""
    shares = {}
    for side, key in (("backbone", "attention_mask"), ("assistant", "assistant_attention_mask")):
        padded = sum(int((inputs[key] == 0).sum()) for inputs in batches)
        shares[side] = padded / sum(inputs[key].numel() for inputs in batches)
    return shares


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(build_parser(), argv, QUICK)
    machine = machine_info(args.device)
    tokenizer = AutoTokenizer.from_pretrained(f"{args.tokenizers_dir}/{TOKENIZERS[args.pair]}")
    task = get_task("gsm8k")
    processor = SoftCoTProcessor(
        tokenizer,
        tokenizer,
        num_thought_tokens=args.num_thoughts,
        backbone_template=get_method("softcot").build_prompt(task, "{question}"),
    )
    tokens = processor.thought_tokens
    questions = task.load("test", data_dir=args.data_dir).select(range(args.num_questions))["question"]

    a_vocab, b_vocab = (load_config(name, args.shapes).vocab_size for name in PAIRS[args.pair])
    fits = max(tokens.assistant_placeholder_id, len(tokenizer)) < min(a_vocab, b_vocab)
    model = build_softcot(
        args.pair,
        args.shapes,
        args.device,
        torch_dtype(args),
        args.num_thoughts,
        placeholder_id=tokens.assistant_placeholder_id if fits else None,
        slot_id=tokens.backbone_slot_id if fits else None,
        seed=args.seed,
    )

    def encode(batch: list[str]) -> dict[str, torch.Tensor]:
        inputs = dict(processor(batch))
        for key, vocab, special in (
            ("input_ids", b_vocab, {tokens.backbone_slot_id: model.config.thought_token_id}),
            (
                "assistant_input_ids",
                a_vocab,
                {tokens.assistant_placeholder_id: model.config.assistant_placeholder_token_id},
            ),
        ):
            inputs[key] = fold_ids(inputs[key], vocab, special)
        return {key: value.to(args.device) for key, value in inputs.items()}

    singles = [encode([question]) for question in questions]
    batches = [encode(questions[i : i + args.batch_size]) for i in range(0, len(questions), args.batch_size)]
    order = generation_order(questions, length_buckets=True)
    bucket_indices = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    buckets = [encode([questions[index] for index in indices]) for indices in bucket_indices]
    n = args.new_tokens
    kwargs = dict(max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)

    @torch.no_grad()
    def one_by_one():
        for inputs in singles:
            model.generate(**inputs, **kwargs)

    @torch.no_grad()
    def batched():
        return [model.generate(**inputs, **kwargs)[:, inputs["input_ids"].shape[1] :] for inputs in batches]

    @torch.no_grad()
    def bucketed():
        """The answers in question order (as the harness writes them back)."""
        answers = [None] * len(questions)
        for indices, inputs in zip(bucket_indices, buckets, strict=True):
            rows = model.generate(**inputs, **kwargs)[:, inputs["input_ids"].shape[1] :]
            for index, row in zip(indices, rows, strict=True):
                answers[index] = row
        return answers

    # Same greedy answers either way (left padding must not change them).
    with torch.no_grad():
        first = batches[0]
        width = first["input_ids"].shape[1]
        batch_answers = model.generate(**first, **kwargs)[:, width:].tolist()
        single_answers = [model.generate(**s, **kwargs)[0, -n:].tolist() for s in singles[: len(batch_answers)]]
    same = [a == b for a, b in zip(batch_answers, single_answers, strict=True)]
    in_question_order = [row.tolist() for answers in batched() for row in answers]
    same_bucketed = [row.tolist() for row in bucketed()] == in_question_order
    if not same_bucketed:
        print("WARNING: bucketed batches gave other answers than batches in question order", file=sys.stderr)

    timings = time_interleaved(
        {"one_by_one": one_by_one, "batched": batched, "bucketed": bucketed},
        args.device,
        args.warmup,
        args.repeats,
        desc="softcot eval",
    )
    rows = {name: {**t, "examples_per_s": len(questions) / t["median_s"]} for name, t in timings.items()}
    speedup = ratio(rows["batched"]["examples_per_s"], rows["one_by_one"]["examples_per_s"])
    results = {
        "pair": args.pair,
        "questions": len(questions),
        "mean_backbone_prompt_tokens": sum(int(s["attention_mask"].sum()) for s in singles) / len(singles),
        "mean_assistant_prompt_tokens": sum(int(s["assistant_attention_mask"].sum()) for s in singles) / len(singles),
        "ids_folded_into_scaled_vocab": not fits,
        "same_greedy_tokens_first_batch": same,
        "timings": rows,
        "speedup_batched_over_one_by_one": speedup,
        "bucketed_same_answers_as_batched": same_bucketed,
        "padding_share": {"batched": padding_share(batches), "bucketed": padding_share(buckets)},
        "speedup_bucketed_over_batched": ratio(rows["bucketed"]["examples_per_s"], rows["batched"]["examples_per_s"]),
    }
    if args.profile:
        results["profiles"] = {
            "one_example": profile_table(lambda: model.generate(**singles[0], **kwargs), args.device),
            "one_batch": profile_table(lambda: model.generate(**batches[0], **kwargs), args.device),
        }
    print(
        f"{args.pair}: one by one {rows['one_by_one']['examples_per_s']:.2f} ex/s, batched (batch {args.batch_size}) "
        f"{rows['batched']['examples_per_s']:.2f} ex/s: x{speedup:.2f}; same greedy tokens: {all(same)}"
    )
    print(
        f"bucketed {rows['bucketed']['examples_per_s']:.2f} ex/s: x{results['speedup_bucketed_over_batched']:.2f} "
        f"over batched; padding {results['padding_share']}; same answers: {same_bucketed}"
    )
    write_results("softcot_eval_throughput", args, results, machine)
    return results


if __name__ == "__main__":
    main()
