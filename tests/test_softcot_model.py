"""SoftCoTForCausalLM against slow references: forward, generation, gradients, dtypes, causality. Save/reload,
batched against one-by-one and cached against uncached are the shared contract's (test_model_contract.py).

Everything runs in fp32 on CPU; "equal" means within 1e-5 absolute (reduction-order noise) unless noted, and
generated tokens must match exactly.
"""

import pytest
import torch
import torch.nn.functional as F
from conftest import QUESTIONS, build
from transformers import AutoModelForCausalLM, StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

ATOL = 1e-5


@pytest.fixture(scope="module")
def llama_pair(pair_dirs):
    return build(pair_dirs, num_thought_tokens=3)


def reference_logits(model, assistant_ids: list[int], backbone_ids: list[int]) -> torch.Tensor:
    """The paper's computation by hand, one unpadded example: (1, length, vocab)."""
    config = model.config
    hidden = model.assistant(torch.tensor([assistant_ids]), output_hidden_states=True).hidden_states[-1][0]
    placeholder_positions = [i for i, t in enumerate(assistant_ids) if t == config.assistant_placeholder_token_id]
    weight, bias = model.projection.linear_1.weight, model.projection.linear_1.bias
    thoughts = F.linear(hidden[placeholder_positions], weight, bias)
    embeddings = model.backbone.get_input_embeddings()(torch.tensor([backbone_ids]))[0].clone()
    slot_positions = [i for i, t in enumerate(backbone_ids) if t == config.thought_token_id]
    assert len(placeholder_positions) == len(slot_positions) == config.num_thought_tokens
    for thought, position in zip(thoughts, slot_positions, strict=True):
        embeddings[position] = thought
    return model.backbone(inputs_embeds=embeddings[None]).logits


def test_forward_equals_hand_written_reference(llama_pair):
    model, processor = llama_pair
    for question in QUESTIONS[:2]:
        inputs = processor(question)
        expected = reference_logits(model, inputs["assistant_input_ids"][0].tolist(), inputs["input_ids"][0].tolist())
        torch.testing.assert_close(model(**inputs).logits, expected, atol=ATOL, rtol=0)


def test_loss_counts_only_labelled_positions(llama_pair):
    model, processor = llama_pair
    batch = processor(QUESTIONS[:1], answers=["5"])
    out = model(**batch)
    labels = batch["labels"][0, 1:]
    log_probs = out.logits[0, :-1].log_softmax(-1)
    keep = labels != -100
    expected = -log_probs[keep].gather(-1, labels[keep, None]).mean()
    torch.testing.assert_close(out.loss, expected, atol=ATOL, rtol=0)


class _Collect(BaseStreamer):
    def __init__(self):
        self.chunks = []

    def put(self, value):
        self.chunks.append(value.flatten().tolist())

    def end(self):
        self.chunks.append("end")


class _StopAfter(StoppingCriteria):
    def __init__(self, length: int):
        self.length = length

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), input_ids.shape[1] >= self.length, dtype=torch.bool)


def test_generate_supports_sampling_streamers_and_stopping_criteria(llama_pair):
    model, processor = llama_pair
    batch = processor(QUESTIONS[:2])
    prompt_length = batch["input_ids"].shape[1]

    torch.manual_seed(0)
    sampled = model.generate(**batch, max_new_tokens=5, do_sample=True, temperature=1.0, num_return_sequences=3)
    assert sampled.shape[0] == 6
    torch.manual_seed(0)
    again = model.generate(**batch, max_new_tokens=5, do_sample=True, temperature=1.0, num_return_sequences=3)
    assert sampled.tolist() == again.tolist()

    stopped = model.generate(
        **batch,
        max_new_tokens=20,
        do_sample=False,
        stopping_criteria=StoppingCriteriaList([_StopAfter(prompt_length + 3)]),
    )
    assert stopped.shape[1] == prompt_length + 3

    single = processor(QUESTIONS[0])
    streamer = _Collect()
    out = model.generate(**single, max_new_tokens=5, do_sample=False, streamer=streamer)
    streamed = [token for chunk in streamer.chunks[1:-1] for token in chunk]
    assert streamer.chunks[0] == single["input_ids"][0].tolist() and streamer.chunks[-1] == "end"
    assert streamed == out[0, single["input_ids"].shape[1] :].tolist()


def test_only_the_projection_learns(llama_pair, pair_dirs):
    model, processor = build(pair_dirs, num_thought_tokens=3, seed=5)
    model.train()
    assert not model.assistant.training and not model.backbone.training and model.projection.training
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(name.startswith("projection.") for name in trainable)
    before = {name: t.clone() for name, t in model.state_dict().items()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model(**processor(QUESTIONS, answers=["5", "3", "1"])).loss.backward()
    optimizer.step()
    after = model.state_dict()
    for name, tensor in before.items():
        if name.startswith("projection."):
            assert not torch.equal(tensor, after[name]), name
        else:
            assert torch.equal(tensor, after[name]), name
    assert all(p.grad is None for name, p in model.named_parameters() if not name.startswith("projection."))


def test_precomputed_assistant_states_give_the_same_loss_and_gradients(llama_pair):
    """The training cache passes `get_assistant_states` back in: same loss and projection gradients, exactly."""
    model, processor = llama_pair
    batch = processor(QUESTIONS, answers=["5", "3", "1"])
    reference = model(**batch).loss
    expected = torch.autograd.grad(reference, list(model.projection.parameters()))
    states = model.get_assistant_states(batch["assistant_input_ids"], batch["assistant_attention_mask"])
    cached_batch = {key: value for key, value in batch.items() if not key.startswith("assistant_")}
    cached = model(**cached_batch, assistant_hidden_states=states).loss
    got = torch.autograd.grad(cached, list(model.projection.parameters()))
    assert torch.equal(reference, cached)
    assert all(torch.equal(a, b) for a, b in zip(expected, got, strict=True))
    with pytest.raises(ValueError, match=r"expected \(batch, 3, 24\)"):
        model(**cached_batch, assistant_hidden_states=states[:, :2])


def test_wrapping_and_loading_keep_the_frozen_models_intact(llama_pair, pair_dirs, tmp_path):
    """Wrapping must not re-initialise weights or non-persistent buffers (rotary inv_freq) of the frozen models."""
    model, processor = llama_pair
    ids = processor(QUESTIONS[0])["input_ids"].masked_fill(processor(QUESTIONS[0])["input_ids"] >= 90, 5)
    fresh_backbone = AutoModelForCausalLM.from_pretrained(pair_dirs["llama_backbone"])
    torch.testing.assert_close(model.backbone(ids).logits, fresh_backbone(ids).logits, atol=0, rtol=0)
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    torch.testing.assert_close(reloaded.backbone(ids).logits, fresh_backbone(ids).logits, atol=0, rtol=0)
    fresh_assistant = AutoModelForCausalLM.from_pretrained(pair_dirs["llama_assistant"])
    torch.testing.assert_close(reloaded.assistant(ids).logits, fresh_assistant(ids).logits, atol=0, rtol=0)


def test_submodels_use_causal_attention(llama_pair):
    model, processor = llama_pair
    for sub in (model.assistant, model.backbone):
        assert sub.config._attn_implementation in ("sdpa", "eager")
    inputs = processor(QUESTIONS[1], answers="3 apples")
    logits = model(**inputs).logits
    changed = inputs["input_ids"].clone()
    changed[0, -1] = 7 if changed[0, -1] != 7 else 8
    logits_changed = model(**{**inputs, "input_ids": changed}).logits
    torch.testing.assert_close(logits[:, :-1], logits_changed[:, :-1], atol=0, rtol=0)
    assert not torch.equal(logits[:, -1], logits_changed[:, -1])


def test_cross_family_pair_trains_one_step_and_generates(pair_dirs):
    model, processor = build(pair_dirs, assistant="qwen_assistant", backbone="llama_backbone", num_thought_tokens=2)
    assert model.projection.linear_1.weight.shape == (32, 16)
    optimizer = torch.optim.AdamW(model.projection.parameters(), lr=1e-2)
    batch = processor(QUESTIONS, answers=["5", "3 apples", "1"])
    before = model.projection.linear_1.weight.clone()
    loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and not torch.equal(before, model.projection.linear_1.weight)
    prompts = processor(QUESTIONS)
    out = model.generate(**prompts, max_new_tokens=4, do_sample=False)
    assert out.shape[0] == 3 and prompts["input_ids"].shape[1] < out.shape[1] <= prompts["input_ids"].shape[1] + 4
    assert torch.equal(out[:, : prompts["input_ids"].shape[1]], prompts["input_ids"])


def test_mlp_projection_keeps_fp32_weights_and_casts_to_backbone_dtype(pair_dirs, tmp_path):
    model, processor = build(pair_dirs, num_thought_tokens=2, projection_type="mlp", projection_hidden_size=20)
    assert model.projection.linear_1.weight.shape == (20, 24) and model.projection.linear_2.weight.shape == (32, 20)
    model.save_pretrained(tmp_path)
    bf16 = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.bfloat16)
    assert bf16.backbone.dtype == bf16.assistant.dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in bf16.projection.parameters())
    torch.testing.assert_close(bf16.projection.state_dict(), model.projection.state_dict(), atol=0, rtol=0)
    out = bf16(**processor(QUESTIONS[:2]))
    assert out.soft_thoughts.dtype == torch.bfloat16 and out.logits.dtype == torch.bfloat16


def test_inputs_embeds_path_and_decoding_without_slots(llama_pair):
    """A decoding step (no slots, no assistant inputs) is an ordinary backbone step; a prompt without thoughts is
    refused (it would silently run the plain backbone)."""
    model, _ = llama_pair
    ids = torch.tensor([[5, 6, 7]])
    with pytest.raises(ValueError, match="without soft thoughts"):
        model(ids)
    cache = model.backbone(ids[:, :2], use_cache=True).past_key_values
    step = model(ids[:, 2:], attention_mask=torch.ones(1, 3, dtype=torch.long), past_key_values=cache).logits
    torch.testing.assert_close(step, model.backbone(ids).logits[:, 2:], atol=1e-5, rtol=1e-5)
    embeds = model.get_input_embeddings()(ids)
    torch.testing.assert_close(model(inputs_embeds=embeds).logits, model.backbone(ids).logits, atol=0, rtol=0)


def test_padding_with_the_placeholder_id_never_makes_extra_thoughts(llama_pair):
    """Qwen2.5 pads with <|endoftext|>, the paper's assistant placeholder: padded positions must not count."""
    model, processor = llama_pair
    batch = processor(QUESTIONS)
    assert (batch["assistant_attention_mask"] == 0).any()
    padded_with_placeholder = batch["assistant_input_ids"].masked_fill(
        batch["assistant_attention_mask"] == 0, model.config.assistant_placeholder_token_id
    )
    expected = model(**batch).logits
    got = model(**{**batch, "assistant_input_ids": padded_with_placeholder}).logits
    torch.testing.assert_close(got, expected, atol=0, rtol=0)
