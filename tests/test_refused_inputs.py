"""Inputs that used to give a silently wrong result are refused with an error that says what to pass instead: a
left-padded batch without its attention mask (backbone and assistant sides of SoftCoT, SoftCoT++ and CoT-Unk;
Coconut), and Coconut `<|latent|>` tokens over a filled KV cache. What is right stays accepted: unpadded rows without a
mask, and generated latent tokens inside `generate`."""

import copy

import pytest
import torch
from conftest import QUESTIONS

from softcot_hf import CoconutForCausalLM, CoTUnkForCausalLM, SoftCoTForCausalLM, SoftCoTProcessor
from softcot_hf.modeling.compat import output_cache
from softcot_hf.modeling.thought_sets import add_thought_sets, expand_for_thought_sets, random_thought_set_vectors
from softcot_hf.tiny import make_lm, make_tokenizer


def lm_with_its_token_ids(family: str, hidden_size: int, seed: int, extra_rows: int = 0):
    """A tiny LM and its tokenizer whose config names the tokenizer's pad, EOS and BOS ids, as a real model's does."""
    tokenizer = make_tokenizer(family)
    model = make_lm(family, len(tokenizer) + extra_rows, hidden_size, seed=seed)
    for name in ("pad_token_id", "eos_token_id", "bos_token_id"):
        setattr(model.config, name, getattr(tokenizer, name))
    return model, tokenizer


@pytest.fixture(scope="module")
def softcot():
    """Qwen-shaped assistant (padded with its pad token) and Llama-shaped backbone (no pad token: padded with EOS)."""
    assistant, assistant_tokenizer = lm_with_its_token_ids("qwen", 16, seed=1)
    backbone, backbone_tokenizer = lm_with_its_token_ids("llama", 32, seed=2)
    torch.manual_seed(0)
    model = SoftCoTForCausalLM.from_assistant_and_backbone(
        assistant, backbone, 3, assistant_tokenizer=assistant_tokenizer, backbone_tokenizer=backbone_tokenizer
    )
    return model, SoftCoTProcessor(assistant_tokenizer, backbone_tokenizer, num_thought_tokens=3)


def without(inputs, *names) -> dict:
    return {key: value for key, value in inputs.items() if key not in names}


@pytest.mark.parametrize("missing", ["attention_mask", "assistant_attention_mask"])
@pytest.mark.parametrize("num_thought_sets", [1, 3])
def test_softcot_refuses_a_left_padded_side_without_its_mask(softcot, missing, num_thought_sets):
    model, processor = softcot
    inputs = processor(QUESTIONS)
    assert (inputs[missing] == 0).any()  # the batch is padded on that side
    rows = inputs
    if num_thought_sets > 1:  # SoftCoT++: B x M rows, one per (question, set)
        model = copy.deepcopy(model)
        table = model.assistant.get_input_embeddings().weight
        add_thought_sets(model, random_thought_set_vectors(table, num_thought_sets, torch.Generator().manual_seed(0)))
        rows = expand_for_thought_sets(inputs, num_thought_sets)
    with pytest.raises(ValueError, match=f"look left-padded .* no {missing} was given"):
        model(**without(rows, missing))
    with pytest.raises(ValueError, match=f"no {missing} was given"):
        model.generate(**without(inputs, missing), max_new_tokens=2)
    model(**rows)


def test_unpadded_rows_need_no_mask_and_give_the_masked_logits(softcot):
    model, processor = softcot
    inputs = processor([QUESTIONS[1]] * 2)
    assert inputs["attention_mask"].all() and inputs["assistant_attention_mask"].all()
    with torch.no_grad():
        unmasked = model(**without(inputs, "attention_mask", "assistant_attention_mask")).logits
        torch.testing.assert_close(unmasked, model(**inputs).logits, atol=0, rtol=0)


def test_cot_unk_refuses_a_left_padded_batch_without_its_mask(softcot):
    _, processor = softcot
    torch.manual_seed(0)
    backbone, tokenizer = lm_with_its_token_ids("llama", 32, seed=2)
    model = CoTUnkForCausalLM.from_backbone(backbone, 3, backbone_tokenizer=tokenizer)
    inputs = SoftCoTProcessor(None, tokenizer, num_thought_tokens=3)(QUESTIONS)
    with pytest.raises(ValueError, match="no attention_mask was given"):
        model(**without(inputs, "attention_mask"))
    with pytest.raises(ValueError, match="no attention_mask was given"):
        model.generate(**without(inputs, "attention_mask"), max_new_tokens=2)


@pytest.fixture(scope="module")
def coconut():
    """A Coconut GPT-2 whose pad, EOS and BOS ids are one token, as GPT-2's are."""
    base, tokenizer = lm_with_its_token_ids("plain", 32, seed=3, extra_rows=3)
    tokenizer.padding_side = "left"
    return CoconutForCausalLM.from_base(base, tokenizer, c_thought=1, max_latent_stage=2).eval(), tokenizer


def test_coconut_refuses_a_left_padded_batch_without_its_mask(coconut):
    model, tokenizer = coconut
    batch = tokenizer(QUESTIONS, return_tensors="pt", padding=True)
    latents = torch.tensor([[model.config.start_latent_token_id, model.config.latent_token_id]] * len(QUESTIONS))
    with pytest.raises(ValueError, match="no attention_mask was given"):
        model(torch.cat([batch["input_ids"], latents], dim=1))
    with pytest.raises(ValueError, match="no attention_mask was given"):
        model.generate(batch["input_ids"], max_new_tokens=2)
    model.generate(**batch, max_new_tokens=2)


def test_coconut_refuses_latents_over_a_filled_cache(coconut):
    """A latent after the prefill has no thought to take (it needs the state before it, from the same forward)."""
    model, tokenizer = coconut
    config = model.config
    ids = tokenizer(QUESTIONS[:1], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        cache = output_cache(model(ids, use_cache=True))
        start = torch.tensor([[config.start_latent_token_id]])
        cache = output_cache(model(start, cache=cache, use_cache=True))  # not a latent: an ordinary step
        length = cache.get_seq_length()
        with pytest.raises(ValueError, match=rf"<\|latent\|> .* cache already holds {length} positions"):
            model(torch.tensor([[config.latent_token_id]]), cache=cache, use_cache=True)
        # The way the message gives to read it as an ordinary token:
        embeds = model.get_input_embeddings()(torch.tensor([[config.latent_token_id]]))
        model(inputs_embeds=embeds, cache=cache, use_cache=True)


def test_coconut_generate_still_reads_a_generated_latent_as_a_token(coconut):
    """Inside generate, a decoding step over the cache may hold a <|latent|> the model wrote: an ordinary token."""
    model, tokenizer = coconut
    latent = model.config.latent_token_id
    batch = tokenizer(QUESTIONS, return_tensors="pt", padding=True)
    sequences = model.generate(
        **batch, max_new_tokens=3, do_sample=False, suppress_tokens=[], sequence_bias={(latent,): 50.0}
    )
    assert (sequences[:, -3:] == latent).all() and not model._generating
