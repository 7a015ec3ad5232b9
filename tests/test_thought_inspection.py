"""`model.inspect_thoughts`: the nearest vocabulary tokens of each latent thought, against hand computations.

Tiny fp32 models on CPU; "equal" means within 1e-5 absolute (reduction-order noise between batched and one-by-one
runs), and top-k ids must match exactly.
"""

import json
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from conftest import BLOCK_PACKAGE, QUESTIONS, backbone_inputs_embeds, build
from transformers import AutoTokenizer

from softcot_hf import CoconutForCausalLM, CoTUnkForCausalLM, SoftCoTForCausalLM
from softcot_hf.modeling.thought_inspection import final_norm
from softcot_hf.modeling.thought_sets import add_thought_sets, expand_for_thought_sets, random_thought_set_vectors
from softcot_hf.tiny import make_lm, make_tokenizer

ATOL = 1e-5
TOP_K = 4


def hand_logit_lens(language_model, thought: torch.Tensor, norm: bool) -> torch.return_types.topk:
    """Top-k of `lm_head(norm(thought))` for one (hidden,) thought, written out for the test."""
    with torch.no_grad():
        head_input = final_norm(language_model)(thought) if norm else thought
        return language_model.get_output_embeddings()(head_input).softmax(-1).topk(TOP_K)


def hand_cosine(language_model, thought: torch.Tensor) -> torch.return_types.topk:
    table = language_model.get_input_embeddings().weight
    with torch.no_grad():
        return F.cosine_similarity(thought[None], table, dim=-1).topk(TOP_K)


def assert_same_inspection(got, expected) -> None:
    for name in ("logit_lens_ids", "embedding_ids"):
        assert torch.equal(got[name], expected[name]), name
    for name in ("thoughts", "logit_lens_scores", "embedding_scores"):
        torch.testing.assert_close(got[name], expected[name], atol=ATOL, rtol=0)


@pytest.mark.parametrize("backbone", ["llama_backbone", "gpt2_backbone"])
def test_softcot_inspects_the_thoughts_the_backbone_receives(pair_dirs, backbone):
    assistant = "llama_assistant" if backbone == "llama_backbone" else "gpt2_assistant"
    model, processor = build(pair_dirs, assistant, backbone, num_thought_tokens=3)
    inputs = processor(QUESTIONS[:2])
    tokenizer = AutoTokenizer.from_pretrained(pair_dirs[backbone])
    inspection = model.inspect_thoughts(**inputs, top_k=TOP_K, tokenizer=tokenizer)

    assert inspection.logit_lens_ids.shape == inspection.embedding_scores.shape == (2, 3, TOP_K)
    slots = model.get_slot_mask(inputs["input_ids"], inputs["attention_mask"])
    received = backbone_inputs_embeds(model, **inputs)[slots].view(2, 3, -1)
    torch.testing.assert_close(inspection.thoughts, received, atol=0, rtol=0)

    thought = inspection.thoughts[1, 2]
    by_hand = hand_logit_lens(model.backbone, thought, norm=True)
    assert inspection.logit_lens_ids[1, 2].tolist() == by_hand.indices.tolist()
    torch.testing.assert_close(inspection.logit_lens_scores[1, 2], by_hand.values, atol=ATOL, rtol=0)
    by_cosine = hand_cosine(model.backbone, thought)
    assert inspection.embedding_ids[1, 2].tolist() == by_cosine.indices.tolist()
    torch.testing.assert_close(inspection.embedding_scores[1, 2], by_cosine.values, atol=ATOL, rtol=0)
    assert inspection.logit_lens_tokens[1][2] == [tokenizer.decode([i]) for i in by_hand.indices.tolist()]
    assert len(inspection.embedding_tokens) == 2 and len(inspection.embedding_tokens[0][0]) == TOP_K


def test_softcot_batched_equals_one_by_one_and_changes_no_generation(pair_dirs):
    model, processor = build(pair_dirs, num_thought_tokens=3)
    batched_inputs = processor(QUESTIONS)
    before = model.generate(**batched_inputs, max_new_tokens=4, do_sample=False)
    model.train()  # the projection learns here, yet inspection builds no graph
    batched = model.inspect_thoughts(**batched_inputs, top_k=TOP_K)
    model.eval()
    assert not batched.thoughts.requires_grad and not batched.logit_lens_scores.requires_grad
    assert torch.equal(model.generate(**batched_inputs, max_new_tokens=4, do_sample=False), before)
    for row, question in enumerate(QUESTIONS):
        alone = model.inspect_thoughts(**processor([question]), top_k=TOP_K)
        assert_same_inspection(alone, {name: value[row : row + 1] for name, value in batched.items()})


def test_softcot_saved_and_reloaded_inspects_the_same(pair_dirs, tmp_path):
    model, processor = build(pair_dirs, num_thought_tokens=3)
    inputs = processor(QUESTIONS[:2])
    model.save_pretrained(tmp_path / "softcot")
    reloaded = SoftCoTForCausalLM.from_pretrained(tmp_path / "softcot")
    assert_same_inspection(reloaded.inspect_thoughts(**inputs), model.inspect_thoughts(**inputs))


def test_softcot_refuses_missing_assistant_inputs_and_unknown_arguments(pair_dirs):
    model, processor = build(pair_dirs, num_thought_tokens=3)
    inputs = processor(QUESTIONS[:1])
    with pytest.raises(ValueError, match="needs assistant_input_ids"):
        model.inspect_thoughts(input_ids=inputs["input_ids"])
    with pytest.raises(TypeError, match="labels"):
        model.inspect_thoughts(**inputs, labels=inputs["input_ids"])
    with pytest.raises(ValueError, match="top_k must be between 1"):
        model.inspect_thoughts(**inputs, top_k=0)


def test_softcotpp_inspects_each_question_and_set(pair_dirs):
    model, processor = build(pair_dirs, num_thought_tokens=3)
    table = model.assistant.get_input_embeddings().weight
    add_thought_sets(model, random_thought_set_vectors(table, 2, torch.Generator().manual_seed(0)), trainable=False)
    with pytest.raises(ValueError, match="thought_set_ids"):
        model.inspect_thoughts(**processor(QUESTIONS[:2]))
    rows = expand_for_thought_sets(processor(QUESTIONS[:2]), 2)
    inspection = model.inspect_thoughts(**rows, top_k=TOP_K)
    assert inspection.logit_lens_ids.shape == (4, 3, TOP_K)  # rows (question, set)
    alone = model.inspect_thoughts(**processor(QUESTIONS[1:2]), thought_set_ids=torch.tensor([1]), top_k=TOP_K)
    assert_same_inspection(alone, {name: value[3:4] for name, value in inspection.items()})


def test_cot_unk_inspects_its_learned_thought_embeddings(pair_dirs):
    torch.manual_seed(0)
    model = CoTUnkForCausalLM.from_backbone(pair_dirs["llama_backbone"], num_thought_tokens=3)
    inspection = model.inspect_thoughts(top_k=TOP_K)
    assert inspection.logit_lens_ids.shape == (1, 3, TOP_K)
    torch.testing.assert_close(inspection.thoughts[0], model.thought_embeddings.weight, atol=0, rtol=0)
    by_hand = hand_logit_lens(model.backbone, model.thought_embeddings.weight[0], norm=True)
    assert inspection.logit_lens_ids[0, 0].tolist() == by_hand.indices.tolist()


@pytest.fixture(scope="module")
def coconut():
    tokenizer = make_tokenizer("llama")
    tokenizer.padding_side = "left"
    base = make_lm("llama", len(tokenizer), hidden_size=32, seed=7)
    with torch.no_grad():  # a final norm that is not the identity's scale, as in a trained model
        base.model.norm.weight.uniform_(0.5, 2.0)
    model = CoconutForCausalLM.from_base(base, tokenizer, num_latent_thoughts=3).eval()
    return model, tokenizer


def fed_back_thoughts(model, question_ids: list[int], num_thoughts: int) -> torch.Tensor:
    """Reference: full passes of the plain LM over one question, each last hidden state (output_hidden_states) fed
    back as the next input embedding; (num_thoughts, hidden)."""
    lm = model.language_model
    embeds = lm.get_input_embeddings()(torch.tensor([question_ids + [model.config.start_latent_token_id]]))
    thoughts = []
    with torch.no_grad():
        for _ in range(num_thoughts):
            thought = lm(inputs_embeds=embeds, output_hidden_states=True).hidden_states[-1][:, -1]
            thoughts.append(thought[0])
            embeds = torch.cat([embeds, thought[:, None]], dim=1)
    return torch.stack(thoughts)


def test_coconut_inspects_the_hidden_states_it_feeds_back(coconut):
    model, tokenizer = coconut
    inputs = tokenizer(QUESTIONS[:2], return_tensors="pt", padding=True)
    inspection = model.inspect_thoughts(**inputs, top_k=TOP_K, tokenizer=tokenizer)
    assert inspection.logit_lens_ids.shape == inspection.embedding_ids.shape == (2, 3, TOP_K)
    question_ids = tokenizer(QUESTIONS[1])["input_ids"]
    reference = fed_back_thoughts(model, question_ids, 3)
    torch.testing.assert_close(inspection.thoughts[1], reference, atol=ATOL, rtol=0)

    # The thought is already the final norm's output: its logit lens is the model's next-token distribution there.
    by_hand = hand_logit_lens(model.language_model, reference[2], norm=False)
    assert inspection.logit_lens_ids[1, 2].tolist() == by_hand.indices.tolist()
    config = model.config
    thought_ids = [config.start_latent_token_id] + [config.latent_token_id] * 3 + [config.end_latent_token_id]
    with torch.no_grad():
        logits = model(torch.tensor([question_ids + thought_ids])).logits[0]
    before_third_latent = len(question_ids) + 2
    assert inspection.logit_lens_ids[1, 2].tolist() == logits[before_third_latent].topk(TOP_K).indices.tolist()
    by_cosine = hand_cosine(model.language_model, reference[2])
    assert inspection.embedding_ids[1, 2].tolist() == by_cosine.indices.tolist()
    assert inspection.embedding_tokens[1][2] == [tokenizer.decode([i]) for i in by_cosine.indices.tolist()]


def test_coconut_batched_equals_one_by_one_and_changes_no_generation(coconut):
    model, tokenizer = coconut
    inputs = tokenizer(QUESTIONS, return_tensors="pt", padding=True)
    before = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    batched = model.inspect_thoughts(**inputs, num_latent_thoughts=2, top_k=TOP_K)
    assert batched.logit_lens_ids.shape == (len(QUESTIONS), 2, TOP_K)
    assert torch.equal(model.generate(**inputs, max_new_tokens=4, do_sample=False), before)
    for row, question in enumerate(QUESTIONS):
        alone = model.inspect_thoughts(
            **tokenizer([question], return_tensors="pt"), num_latent_thoughts=2, top_k=TOP_K
        )
        assert_same_inspection(alone, {name: value[row : row + 1] for name, value in batched.items()})


def test_coconut_saved_and_reloaded_inspects_the_same(coconut, tmp_path):
    model, tokenizer = coconut
    inputs = tokenizer(QUESTIONS[:2], return_tensors="pt", padding=True)
    model.save_pretrained(tmp_path / "coconut")
    reloaded = CoconutForCausalLM.from_pretrained(tmp_path / "coconut").eval()
    assert_same_inspection(reloaded.inspect_thoughts(**inputs), model.inspect_thoughts(**inputs))


def test_coconut_refuses_questions_with_coconut_tokens_and_zero_thoughts(coconut):
    model, tokenizer = coconut
    inputs = tokenizer(QUESTIONS[:1], return_tensors="pt")
    with pytest.raises(ValueError, match="no continuous thoughts"):
        model.inspect_thoughts(**inputs, num_latent_thoughts=0)
    latent = torch.tensor([[model.config.latent_token_id]])
    with pytest.raises(ValueError, match="questions only"):
        model.inspect_thoughts(torch.cat([inputs["input_ids"], latent], dim=1))


def test_coconut_remote_code_inspects_the_same_without_softcot_hf(coconut, tmp_path):
    model, tokenizer = coconut
    model.save_pretrained(tmp_path / "model")
    inputs = tokenizer(QUESTIONS[:2], return_tensors="pt", padding=True)
    expected = model.inspect_thoughts(**inputs, top_k=TOP_K)
    script = BLOCK_PACKAGE + textwrap.dedent(
        f"""
        import json, sys

        import torch
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained({str(tmp_path / "model")!r}, trust_remote_code=True)
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        input_ids = torch.tensor({inputs["input_ids"].tolist()})
        attention_mask = torch.tensor({inputs["attention_mask"].tolist()})
        inspection = model.inspect_thoughts(input_ids, attention_mask, top_k={TOP_K})
        print(json.dumps([inspection.logit_lens_ids.tolist(), inspection.embedding_ids.tolist()]))
        """
    )
    environment = {"HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules"), "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-I", "-c", script], cwd=tmp_path, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    logit_lens_ids, embedding_ids = json.loads(result.stdout.strip().splitlines()[-1])
    assert logit_lens_ids == expected.logit_lens_ids.tolist() and embedding_ids == expected.embedding_ids.tolist()
