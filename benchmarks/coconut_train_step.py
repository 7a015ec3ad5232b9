"""Coconut training step: our cached multi-pass forward + backward against the uncached reference.

The batch is ProsQA test examples written by the curriculum at stage k (`pad_latent_to_max`, so every row holds k
latents; rows have different lengths, so the latents sit at different offsets), right-padded by the curriculum's
collator. Ours: `CoconutForCausalLM.forward(..., labels)` (k + 1 passes over one KV cache, each computing only new
positions) and `loss.backward()`. The reference fills latent i with a full, uncached forward over the whole prefix up
to it (the last hidden state before each row's latent i), then one full forward with the labels. Both give the same
loss (checked in eval mode before timing); time and peak memory are measured in train mode.

    python benchmarks/coconut_train_step.py --device cuda --shapes real --batch-size 32
    python benchmarks/coconut_train_step.py --batch-size 2          # CPU, scaled GPT-2 shape
"""

import argparse

import torch
from common import (
    SHARED,
    add_common_args,
    add_vocab_size_arg,
    build_coconut,
    check_attention,
    machine_info,
    parse_args,
    peak_memory,
    profile_table,
    ratio,
    time_interleaved,
    write_results,
)
from transformers import AutoTokenizer

from softcot_hf import CoconutForCausalLM
from softcot_hf.data import get_task
from softcot_hf.training.coconut_curriculum import CoconutCurriculum, CurriculumSettings, collate_right_padded

QUICK = {"num_latents": [1, 2], "batch_size": 2, "vocab_size": 259}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--model", default="gpt2", help="shape file name in configs/<shapes>/")
    parser.add_argument("--num-latents", type=int, nargs="+", default=[2, 4, 6], help="k values (curriculum stages)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data-dir", default=str(SHARED / "data" / "prosqa"))
    parser.add_argument("--tokenizer", default=str(SHARED / "tokenizers" / "gpt2"))
    add_vocab_size_arg(parser)
    parser.add_argument("--profile", action="store_true", help="add torch.profiler tables of one step of each side")
    return parser


def reference_loss(model: CoconutForCausalLM, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """
    Uncached reference: latent i of every row gets the last hidden state of a full forward over the prefix before it
    (all rows computed up to the furthest such position); then one full forward over everything gives the loss.
    """
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    embeds = model.get_input_embeddings()(ids)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    latent_positions = [row.nonzero().flatten() for row in ids == model.config.latent_token_id]
    latent_positions = torch.stack(latent_positions)  # (batch, k): every row has k latents
    rows = torch.arange(ids.shape[0], device=ids.device)
    decoder = model.language_model.get_decoder()
    for i in range(latent_positions.shape[1]):
        where = latent_positions[:, i]
        end = int(where.max())
        hidden = decoder(
            inputs_embeds=embeds[:, :end],
            attention_mask=mask[:, :end],
            position_ids=positions[:, :end],
            use_cache=False,
        ).last_hidden_state
        embeds = embeds.index_put((rows, where), hidden[rows, where - 1])
    return model.language_model(
        inputs_embeds=embeds, attention_mask=mask, position_ids=positions, labels=labels, use_cache=False
    ).loss


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(build_parser(), argv, QUICK)
    machine = machine_info(args.device)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    model, fold = build_coconut(args, tokenizer)
    check_attention(model)
    examples = get_task("prosqa").load("test", data_dir=args.data_dir).select(range(args.batch_size)).to_list()
    curriculum = CoconutCurriculum(
        tokenizer, CurriculumSettings(c_thought=1, max_latent_stage=max(args.num_latents), pad_latent_to_max=True)
    )

    results = {}
    for k in args.num_latents:
        features = [curriculum.encode(example, stage=k) for example in examples]
        batch = collate_right_padded(features, tokenizer.eos_token_id)
        if fold is not None:
            batch = {key: fold(value) if key != "attention_mask" else value for key, value in batch.items()}
        batch = {key: value.to(args.device) for key, value in batch.items()}

        model.eval()
        with torch.no_grad():
            ours_value, reference_value = model(**batch).loss.item(), reference_loss(model, batch).item()
        model.train()

        def ours_step(batch=batch):
            model.zero_grad(set_to_none=True)
            model(**batch).loss.backward()

        def reference_step(batch=batch):
            model.zero_grad(set_to_none=True)
            reference_loss(model, batch).backward()

        timings = time_interleaved(
            {"ours_cached": ours_step, "reference_uncached": reference_step},
            args.device,
            args.warmup,
            args.repeats,
            desc=f"train step k={k}",
        )
        memory = {"ours_cached": peak_memory(ours_step, args.device)}
        memory["reference_uncached"] = peak_memory(reference_step, args.device)
        model.zero_grad(set_to_none=True)
        row = {
            "sequence_length": batch["input_ids"].shape[1],
            "loss_ours": ours_value,
            "loss_reference": reference_value,
            "timings": timings,
            "peak_memory": memory,
            "speedup_cached": ratio(timings["reference_uncached"]["median_s"], timings["ours_cached"]["median_s"]),
            "memory_ratio_reference_over_ours": ratio(
                memory["reference_uncached"]["peak_bytes"], memory["ours_cached"]["peak_bytes"]
            ),
        }
        if args.profile:
            row["profiles"] = {
                "ours_cached": profile_table(ours_step, args.device),
                "reference_uncached": profile_table(reference_step, args.device),
            }
            model.zero_grad(set_to_none=True)
        results[f"k{k}"] = row
        print(
            f"k={k}: cached x{row['speedup_cached']:.2f} faster, reference/ours peak memory "
            f"x{row['memory_ratio_reference_over_ours']:.2f}; loss {ours_value:.5f} vs {reference_value:.5f}"
        )
    write_results("coconut_train_step", args, results, machine)
    return results


if __name__ == "__main__":
    main()
