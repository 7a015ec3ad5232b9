"""SoftCoT++ model side (modeling/thought_sets.py): M = 1 is SoftCoT bit for bit; batched M x B x K generation equals
each (question, set) alone; the sets differ; set initialisation refuses sets that would collapse; save and reload.

Everything runs in fp32 on CPU; "equal" means within 1e-5 absolute (reduction-order noise) for logits, exactly for
tokens, state dicts and config files.
"""

import json

import pytest
import torch
from conftest import QUESTIONS, build
from tiny import SHARED
from transformers import AutoTokenizer, GPT2Config, LlamaConfig, Qwen2Config
from transformers.testing_utils import CaptureLogger

from softcot_hf import SoftCoTForCausalLM
from softcot_hf.data import get_task
from softcot_hf.generation import PerRowSampler
from softcot_hf.methods import METHODS, softcotpp
from softcot_hf.modeling.hub_card import render_card
from softcot_hf.modeling.thought_sets import (
    add_thought_sets,
    expand_for_thought_sets,
    random_thought_set_vectors,
    thought_set_vectors_from_tokens,
)

ATOL = 1e-5
M = 3
# The M sets' soft thoughts of one question must differ by more than this fraction of their norm (measured on these
# tiny models with random set vectors: 1.2 to 1.9).
MIN_SET_DIFFERENCE = 0.5


def with_sets(model, num_sets: int = M, seed: int = 0, trainable: bool = False):
    table = model.assistant.get_input_embeddings().weight
    vectors = random_thought_set_vectors(table, num_sets, torch.Generator().manual_seed(seed))
    add_thought_sets(model, vectors, trainable)
    return model


@pytest.fixture(scope="module")
def sets_pair(pair_dirs):
    model, processor = build(pair_dirs, num_thought_tokens=3)
    return with_sets(model), processor


def strip(tokens: list[int], eos: set[int]) -> list[int]:
    for i, token in enumerate(tokens):
        if token in eos:
            return tokens[: i + 1]
    return tokens


def eos_ids(model) -> set[int]:
    eos = model.generation_config.eos_token_id
    return set(eos if isinstance(eos, list) else [eos])


# M = 1 is SoftCoT --------------------------------------------------------------------------------------------------


def method_build(method: str, pair_dirs, tmp_path, **kwargs):
    args = METHODS[method].arguments(
        output_dir=str(tmp_path / method),
        backbone=pair_dirs["llama_backbone"],
        assistant=pair_dirs["llama_assistant"],
        num_thought_tokens=3,
        seed=5,
        **kwargs,
    )
    torch.manual_seed(args.seed)  # the pipeline's set_seed before build
    return METHODS[method].build(args, get_task("gsm8k"), torch.float32)


def test_one_thought_set_is_softcot_bit_for_bit(pair_dirs, tmp_path):
    softcot, processor, _ = method_build("softcot", pair_dirs, tmp_path)
    one_set, one_set_processor, _ = method_build("softcotpp", pair_dirs, tmp_path, num_thought_sets=1)
    # Same keys and tensors, same config.json (no new key), same processor output.
    assert softcot.state_dict().keys() == one_set.state_dict().keys()
    for key, value in softcot.state_dict().items():
        assert torch.equal(value, one_set.state_dict()[key]), key
    softcot.save_pretrained(tmp_path / "a")
    one_set.save_pretrained(tmp_path / "b")
    config = (tmp_path / "a" / "config.json").read_text()
    assert config == (tmp_path / "b" / "config.json").read_text()
    assert "num_thought_sets" not in json.loads(config)
    inputs = processor(QUESTIONS)
    assert all(torch.equal(inputs[key], one_set_processor(QUESTIONS)[key]) for key in inputs)
    # Same logits and generations (greedy and sampled), bit for bit.
    with torch.no_grad():
        assert torch.equal(softcot(**inputs).logits, one_set(**inputs).logits)
    greedy = dict(max_new_tokens=6, do_sample=False, pad_token_id=0)
    assert torch.equal(softcot.generate(**inputs, **greedy), one_set.generate(**inputs, **greedy))
    sampled = dict(max_new_tokens=6, do_sample=True, num_return_sequences=2, pad_token_id=0)
    torch.manual_seed(1)
    expected = softcot.generate(**inputs, **sampled)
    torch.manual_seed(1)
    assert torch.equal(expected, one_set.generate(**inputs, **sampled))


def test_several_sets_write_the_key_and_keep_the_checkpoint_small(sets_pair, tmp_path):
    model, processor = sets_pair
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["num_thought_sets"] == M
    from safetensors.torch import load_file

    saved = load_file(tmp_path / "model.safetensors")
    projection = {"projection.linear_1.weight", "projection.linear_1.bias"}
    assert set(saved) == projection | {"projection.thought_sets.embeddings"}
    assert saved["projection.thought_sets.embeddings"].dtype == torch.float32
    assert (tmp_path / "thought_sets.py").is_file()  # travels as remote code
    reloaded = SoftCoTForCausalLM.from_pretrained(tmp_path).eval()
    inputs = processor(QUESTIONS)
    greedy = dict(max_new_tokens=6, do_sample=False, pad_token_id=0)
    assert torch.equal(model.generate(**inputs, **greedy), reloaded.generate(**inputs, **greedy))


# Batched generation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("samples", [1, 2])
def test_batched_questions_sets_and_samples_equal_each_question_and_set_alone(sets_pair, samples):
    """B = 3 left-padded questions x M = 3 sets x K samples in one generate call equal each (question, set) run
    alone: rows ordered (question, set, sample); each sampled row draws from its own seeded generator."""
    model, processor = sets_pair
    do_sample = samples > 1
    seeds = list(range(100, 100 + len(QUESTIONS) * M * samples))
    settings = dict(max_new_tokens=8, do_sample=do_sample, pad_token_id=0)
    if do_sample:
        settings["num_return_sequences"] = samples

    def generate(inputs, row_seeds):
        extra = {"logits_processor": [PerRowSampler(row_seeds)]} if do_sample else {}
        return model.generate(**inputs, **settings, **extra)

    inputs = processor(QUESTIONS)
    batched = generate(inputs, seeds)
    assert batched.shape[0] == len(QUESTIONS) * M * samples
    new = batched[:, inputs["input_ids"].shape[1] :].tolist()
    eos = eos_ids(model)
    for q, question in enumerate(QUESTIONS):
        single = processor(question)
        for m in range(M):
            rows = [(q * M + m) * samples + k for k in range(samples)]
            alone = generate({**single, "thought_set_ids": torch.tensor([m])}, [seeds[row] for row in rows])
            alone_new = alone[:, single["input_ids"].shape[1] :].tolist()
            for k, row in enumerate(rows):
                assert strip(new[row], eos) == strip(alone_new[k], eos), (question, m, k)


def test_batched_forward_equals_each_question_and_set_alone(sets_pair):
    model, processor = sets_pair
    answers = ["5", "3 apples", "1"]
    batch = expand_for_thought_sets(processor(QUESTIONS, answers=answers), M)
    with torch.no_grad():
        logits = model(**batch).logits
        for q, (question, answer) in enumerate(zip(QUESTIONS, answers, strict=True)):
            single = processor(question, answers=answer)
            for m in range(M):
                alone = model(**single, thought_set_ids=torch.tensor([m])).logits[0]
                torch.testing.assert_close(logits[q * M + m, -alone.shape[0] :], alone, atol=ATOL, rtol=0)


def test_the_sets_of_a_question_differ(sets_pair):
    model, processor = sets_pair
    batch = expand_for_thought_sets(processor(QUESTIONS), M)
    with torch.no_grad():
        thoughts = model.get_soft_thoughts(
            batch["assistant_input_ids"], batch["assistant_attention_mask"], thought_set_ids=batch["thought_set_ids"]
        )
    thoughts = thoughts.view(len(QUESTIONS), M, -1)
    for question_thoughts in thoughts:
        for i in range(M):
            for j in range(i + 1, M):
                difference = (question_thoughts[i] - question_thoughts[j]).norm()
                assert difference > MIN_SET_DIFFERENCE * question_thoughts[i].norm()


# Initialisation and bad input --------------------------------------------------------------------------------------


def test_set_vectors_from_tokens_are_those_rows_and_random_ones_follow_the_table():
    table = torch.randn(50, 8) * torch.linspace(0.5, 2, 8) + 3
    assert torch.equal(thought_set_vectors_from_tokens(table, [4, 9]), table[[4, 9]])
    drawn = random_thought_set_vectors(table, 4000, torch.Generator().manual_seed(0))
    torch.testing.assert_close(drawn.mean(0), table.mean(0), atol=0.1, rtol=0)
    torch.testing.assert_close(drawn.std(0), table.std(0), atol=0.1, rtol=0)


def test_identical_near_zero_and_unknown_rows_are_refused():
    table = torch.randn(20, 8)
    table[3] = table[2]  # untrained reserved tokens often share one row
    table[5] = 1e-6
    with pytest.raises(ValueError, match="token 2', 'token 3'.*identical"):
        thought_set_vectors_from_tokens(table, [1, 2, 3])
    with pytest.raises(ValueError, match=r"token 5'\] are near zero"):
        thought_set_vectors_from_tokens(table, [1, 5])
    with pytest.raises(ValueError, match="outside"):
        thought_set_vectors_from_tokens(table, [1, 20])


def test_official_rows_are_those_of_the_official_code_and_kept_with_a_warning_when_they_would_collapse():
    llama, qwen = LlamaConfig(vocab_size=128256), Qwen2Config(vocab_size=151936)
    assert softcotpp.official_thought_set_token_ids(llama, 10) == list(range(128011, 128021))
    assert softcotpp.official_thought_set_token_ids(qwen, 3) == [150001, 150002, 150003]
    with pytest.raises(ValueError, match="at most 10 sets on a qwen2"):
        softcotpp.official_thought_set_token_ids(qwen, 11)
    with pytest.raises(ValueError, match="LLaMA and Qwen assistants only, not model type 'gpt2'"):
        softcotpp.official_thought_set_token_ids(GPT2Config(), 2)

    table = torch.randn(128256, 8, generator=torch.Generator().manual_seed(0))
    with CaptureLogger(softcotpp.logger) as captured:
        vectors = softcotpp.official_thought_set_vectors(table, llama, 4)
    assert torch.equal(vectors, table[128011:128015]) and captured.out == ""
    table[128011:128021] = 1e-6  # untrained reserved rows, as LLaMA-3's are reported to be: zero or nearly
    with CaptureLogger(softcotpp.logger) as captured:
        vectors = softcotpp.official_thought_set_vectors(table, llama, 4)
    assert torch.equal(vectors, table[128011:128015])  # kept: the official run used exactly these
    assert "128011..128014 are kept" in captured.out and "near zero" in captured.out and "identical" in captured.out
    with pytest.raises(ValueError, match="near zero"):  # the same rows chosen by hand are refused
        thought_set_vectors_from_tokens(table, [128011, 128012])


@pytest.mark.skipif(not (SHARED / "tokenizers").is_dir(), reason="../shared/tokenizers is absent")
def test_official_rows_are_reserved_tokens_on_llama3_and_ordinary_ones_on_qwen():
    """What the warning's reasoning rests on, from the real vocabularies: LLaMA-3's official rows are reserved special
    tokens that never occur in text; Qwen2.5's are ordinary vocabulary tokens that text does produce."""
    llama = AutoTokenizer.from_pretrained(SHARED / "tokenizers" / "llama3")
    ids = softcotpp.official_thought_set_token_ids(LlamaConfig(), 10)
    assert llama.convert_ids_to_tokens(ids) == [f"<|reserved_special_token_{k}|>" for k in range(3, 13)]
    assert set(ids) <= set(llama.added_tokens_decoder)
    qwen = AutoTokenizer.from_pretrained(SHARED / "tokenizers" / "qwen2.5")
    ids = softcotpp.official_thought_set_token_ids(Qwen2Config(), 10)
    assert not set(ids) & set(qwen.added_tokens_decoder)
    assert all(qwen.encode(qwen.decode([token])) == [token] for token in ids)


def test_a_model_with_sets_needs_set_ids_and_refuses_wrong_ones(sets_pair, pair_dirs):
    model, processor = sets_pair
    inputs = processor(QUESTIONS[:2])
    with pytest.raises(ValueError, match="thought_set_ids"):
        model(**inputs)
    with pytest.raises(ValueError, match="\\[0, 3\\)"):
        model(**inputs, thought_set_ids=torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="\\(batch,\\)"):
        model(**inputs, thought_set_ids=torch.tensor([0]))
    plain, _ = build(pair_dirs, num_thought_tokens=3)
    with pytest.raises(ValueError, match="one thought set"):
        plain(**inputs, thought_set_ids=torch.tensor([0, 1]))


def test_the_model_card_names_the_thought_sets_only_when_there_are_several(sets_pair, pair_dirs):
    model, _ = sets_pair
    plain, _ = build(pair_dirs, num_thought_tokens=3)
    label = "thought sets per question (SoftCoT++, voted)"
    card = render_card(model.config.to_diff_dict(), "user/softcotpp", 1000)
    assert f"| {label} | {M} |" in card
    plain_card = render_card(plain.config.to_diff_dict(), "user/softcot", 1000)
    assert label not in plain_card


def test_generate_takes_the_prompt_positionally_too(sets_pair):
    model, processor = sets_pair
    inputs = processor(QUESTIONS)
    greedy = dict(max_new_tokens=4, do_sample=False, pad_token_id=0)
    rest = {key: value for key, value in inputs.items() if key != "input_ids"}
    positional = model.generate(inputs["input_ids"], **rest, **greedy)
    assert positional.shape[0] == len(QUESTIONS) * M
    assert torch.equal(positional, model.generate(**inputs, **greedy))
