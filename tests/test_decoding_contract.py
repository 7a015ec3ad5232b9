"""Thoughts are written once, at prefill, on every transformers release we accept; decoding never re-reads tokens.

A decoding step is told from the prefill by the KV cache (empty means prefill), never by which keyword `generate`
happens to use for the cache (`past_key_values` up to transformers 5.23, `cache` from 5.24). So: the assistant runs
exactly once per `generate` call whatever the decoding mode, and a slot or marker token the backbone generates
itself is an ordinary token (by default the generation config keeps such tokens from being generated at all).
Generated tokens must match exactly; logits are compared in fp32.
"""

import json

import pytest
import torch
from conftest import QUESTIONS, backbone_inputs_embeds, build
from tiny import SHARED
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from softcot_hf import CoTUnkForCausalLM, SoftCoTProcessor
from softcot_hf.cli import main
from softcot_hf.modeling.compat import output_cache

NEW_TOKENS = 6
FORCE = 50.0  # added to a token's logit: it then wins every step it is allowed to
DECODING_MODES = {
    "greedy": {"do_sample": False},
    "sampling": {"do_sample": True, "temperature": 1.0, "top_k": 0},
    "beams": {"do_sample": False, "num_beams": 3},
    "sampled_returns": {"do_sample": True, "temperature": 1.0, "num_return_sequences": 2},
}


@pytest.fixture(scope="module")
def llama_pair(pair_dirs):
    return build(pair_dirs, num_thought_tokens=3)


def count_calls(module: torch.nn.Module) -> tuple[list[int], torch.utils.hooks.RemovableHandle]:
    calls = []
    return calls, module.register_forward_hook(lambda *args: calls.append(1))


def generate(model, inputs, mode: str, **kwargs) -> torch.Tensor:
    torch.manual_seed(0)
    return model.generate(
        **inputs, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, **DECODING_MODES[mode], **kwargs
    )


def internal_ids(model) -> list[int]:
    config = model.config
    return [i for i in (config.thought_token_id, config.thought_start_token_id, config.thought_end_token_id) if i]


@pytest.mark.parametrize("mode", DECODING_MODES)
def test_assistant_and_projection_run_once_per_generate(llama_pair, mode):
    model, processor = llama_pair
    inputs = processor(QUESTIONS)
    assistant_calls, assistant_hook = count_calls(model.assistant.base_model)
    projection_calls, projection_hook = count_calls(model.projection)
    backbone_calls, backbone_hook = count_calls(model.backbone)
    try:
        sequences = generate(model, inputs, mode)
    finally:
        for hook in (assistant_hook, projection_hook, backbone_hook):
            hook.remove()
    assert len(assistant_calls) == 1 and len(projection_calls) == 1
    assert len(backbone_calls) == NEW_TOKENS  # one prefill, then one cached step per further token
    returns = DECODING_MODES[mode].get("num_return_sequences", 1)
    assert sequences.shape == (len(QUESTIONS) * returns, inputs["input_ids"].shape[1] + NEW_TOKENS)


@pytest.mark.parametrize("mode", DECODING_MODES)
def test_a_generated_slot_token_is_an_ordinary_token(llama_pair, mode):
    """The backbone is pushed to emit its own slot token: generation goes on to the end, batched, in every mode."""
    model, processor = llama_pair
    inputs = processor(QUESTIONS)
    slot = model.config.thought_token_id
    sequences = generate(model, inputs, mode, suppress_tokens=[], sequence_bias={(slot,): FORCE})
    new = sequences[:, inputs["input_ids"].shape[1] :]
    assert new.shape[1] == NEW_TOKENS and (new == slot).all()


def test_greedy_decoding_over_generated_markers_equals_an_uncached_reference(llama_pair):
    """Batched, cached decoding in which the backbone emits slot and marker tokens equals a one-by-one uncached
    reference that embeds every generated token with the backbone's own embedding row."""
    model, processor = llama_pair
    slot, start, end = internal_ids(model)
    bias = {(slot,): 3.0, (start,): 3.0, (end,): 3.0}
    eos = model.generation_config.eos_token_id
    eos = eos if isinstance(eos, list) else [eos]
    batch = processor(QUESTIONS)
    sequences = generate(model, batch, "greedy", suppress_tokens=[], sequence_bias=bias)
    batched = sequences[:, batch["input_ids"].shape[1] :].tolist()
    assert {slot, start, end} & set(sum(batched, []))  # the bias made the backbone emit some of them

    embed = model.backbone.get_input_embeddings()
    for row, question in enumerate(QUESTIONS):
        inputs = processor(question)
        embeddings = backbone_inputs_embeds(model, **inputs)
        with torch.no_grad():
            expected = []
            for _ in range(NEW_TOKENS):
                logits = model.backbone(inputs_embeds=embeddings).logits[0, -1]
                for token, value in bias.items():
                    logits[token[0]] += value
                logits[eos] = -float("inf")  # min_new_tokens
                expected.append(int(logits.argmax()))
                embeddings = torch.cat([embeddings, embed(torch.tensor([[expected[-1]]]))], dim=1)
        assert batched[row] == expected


def test_default_generation_config_never_emits_slots_or_markers(llama_pair, tmp_path):
    model, processor = llama_pair
    ids = internal_ids(model)
    assert len(ids) == 3 and set(ids) <= set(model.generation_config.suppress_tokens)
    inputs = processor(QUESTIONS)
    for mode in DECODING_MODES:
        sequences = generate(model, inputs, mode, sequence_bias={(token,): FORCE for token in ids})
        assert not torch.isin(sequences[:, inputs["input_ids"].shape[1] :], torch.tensor(ids)).any()
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert set(ids) <= set(reloaded.generation_config.suppress_tokens)


@pytest.mark.parametrize("cache_name", ["cache", "past_key_values"])
def test_the_cache_is_taken_under_either_name_and_thoughts_need_an_empty_one(llama_pair, cache_name):
    """A cached decoding step equals the uncached forward under both names; assistant inputs over a filled cache
    (continuing a cached prompt with new thoughts) are refused."""
    model, processor = llama_pair
    inputs = processor(QUESTIONS[:1])
    next_token = torch.tensor([[5]])
    with torch.no_grad():
        cache = output_cache(model(**inputs, use_cache=True))
        step = model(
            input_ids=next_token, attention_mask=torch.ones(1, cache.get_seq_length() + 1), **{cache_name: cache}
        )
        embeddings = backbone_inputs_embeds(model, **inputs)
        embeddings = torch.cat([embeddings, model.get_input_embeddings()(next_token)], dim=1)
        expected = model.backbone(inputs_embeds=embeddings).logits[:, -1:]
    torch.testing.assert_close(step.logits, expected, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="only at prefill, from an empty cache"):
        model(**inputs, **{cache_name: output_cache(step)})


def test_assistant_inputs_with_inputs_embeds_are_refused(llama_pair):
    model, processor = llama_pair
    inputs = processor(QUESTIONS[:1])
    embeds = model.get_input_embeddings()(inputs.pop("input_ids"))
    with pytest.raises(ValueError, match="no slot ids to put the thoughts at"):
        model(inputs_embeds=embeds, **inputs)


@pytest.mark.parametrize("mode", ["greedy", "beams"])
def test_cot_unk_generated_slot_tokens_are_ordinary_tokens(pair_dirs, mode):
    torch.manual_seed(0)
    model = CoTUnkForCausalLM.from_backbone(pair_dirs["llama_backbone"], num_thought_tokens=3)
    processor = SoftCoTProcessor(
        None, AutoTokenizer.from_pretrained(pair_dirs["llama_backbone"]), num_thought_tokens=3
    )
    slot = model.config.thought_token_id
    assert slot in model.generation_config.suppress_tokens
    inputs = processor(QUESTIONS)
    sequences = generate(model, inputs, mode, suppress_tokens=[], sequence_bias={(slot,): FORCE})
    assert (sequences[:, inputs["input_ids"].shape[1] :] == slot).all()


GSM8K = SHARED / "data" / "gsm8k"


@pytest.mark.skipif(not (GSM8K / "test.jsonl").is_file(), reason=f"GSM8K not found at {GSM8K}")
def test_cli_evaluation_of_a_model_that_emits_its_slot_token_completes(llama_pair, tmp_path):
    """`softcot-hf eval` on a saved model whose generation config lets (and pushes) the backbone emit its slot token
    runs to the end and writes every prediction."""
    model, processor = llama_pair
    folder = tmp_path / "softcot"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    generation_config = GenerationConfig.from_pretrained(folder)
    generation_config.suppress_tokens = []
    generation_config.sequence_bias = [[[model.config.thought_token_id], FORCE]]
    generation_config.save_pretrained(folder)
    arguments = ["--task", "gsm8k", "--method", "softcot", "--model", str(folder), "--data-dir", str(GSM8K)]
    arguments += ["--limit", "6", "--batch-size", "3", "--max-new-tokens", "8", "--output-dir", str(tmp_path / "eval")]
    main(["eval", *arguments])
    rows = [json.loads(line) for line in (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(row["generated_tokens"] == [8] for row in rows)  # the slot every step, no EOS
