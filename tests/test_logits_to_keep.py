"""Coconut's latent forward computes logits only at the positions `logits_to_keep` keeps, and they equal the same
positions of the full logits (same hidden states, a row subset of one matmul: equal within 1e-6)."""

import pytest
import torch

from softcot_hf import CoconutForCausalLM
from softcot_hf.generation import encode_prompts
from softcot_hf.tiny import make_lm, make_tokenizer

ATOL = 1e-6
QUESTIONS = ["what is 2 plus 3 ?", "tom has 4 apples and eats 1 . how many are left ?", "7 minus 2 ?"]


@pytest.fixture(scope="module")
def coconut():
    tokenizer = make_tokenizer("plain")
    model = CoconutForCausalLM.from_base(make_lm("llama", len(tokenizer), seed=2), tokenizer, num_latent_thoughts=2)
    return model.eval(), tokenizer


def latent_batch(model, tokenizer) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded rows with 0, 1 and 3 latents at different offsets, answers after them: latent passes of unequal
    pieces, so positions and cache slots differ."""
    config = model.config
    rows = []
    for question, num_latents in zip(QUESTIONS, [0, 1, 3], strict=True):
        ids = tokenizer(question, add_special_tokens=False)["input_ids"]
        thoughts = [config.start_latent_token_id, *[config.latent_token_id] * num_latents, config.end_latent_token_id]
        rows.append(ids + thoughts + tokenizer("5 .", add_special_tokens=False)["input_ids"])
    length = max(map(len, rows))
    input_ids = torch.tensor([[tokenizer.pad_token_id] * (length - len(row)) + row for row in rows])
    attention_mask = torch.tensor([[0] * (length - len(row)) + [1] * len(row) for row in rows])
    return input_ids, attention_mask


@pytest.mark.parametrize("logits_to_keep", [1, 4, torch.tensor([0, 5, 9, 11])], ids=["last", "last-4", "indices"])
def test_kept_logits_equal_the_full_logits_there(coconut, logits_to_keep):
    model, tokenizer = coconut
    input_ids, attention_mask = latent_batch(model, tokenizer)
    with torch.no_grad():
        full = model(input_ids=input_ids, attention_mask=attention_mask).logits
        kept = model(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=logits_to_keep).logits
    positions = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
    expected = full[:, positions]
    assert kept.shape == expected.shape
    torch.testing.assert_close(kept, expected, atol=ATOL, rtol=0)


def test_generate_prefill_computes_the_last_logit_only(coconut):
    """`generate` asks for the last position's logits; the output layer then sees one position per row."""
    model, tokenizer = coconut
    inputs = encode_prompts(tokenizer, QUESTIONS, chat=False)
    positions_seen = []
    hook = model.get_output_embeddings().register_forward_hook(
        lambda module, args, output: positions_seen.append(args[0].shape[1])
    )
    try:
        with torch.no_grad():
            model.generate(**inputs, max_new_tokens=3, do_sample=False)
    finally:
        hook.remove()
    assert positions_seen == [1, 1, 1]
