"""CoconutForCausalLM against slow references: forward, loss, gradients, generation, saving, remote code, LoRA.

Tiny random GPT-2 and Llama bases over the real GPT-2 tokenizer, fp32 on CPU. "Equal" means within 1e-5 absolute
(reduction-order noise between batched/cached and one-by-one/uncached runs); generated tokens must match exactly.
"""

import copy
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import BLOCK_PACKAGE
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.generation.streamers import BaseStreamer

from softcot_hf import CoconutConfig, CoconutForCausalLM
from softcot_hf.modeling.compat import output_cache

ATOL = 1e-5
GPT2_TOKENIZER = Path(__file__).resolve().parents[2] / "shared" / "tokenizers" / "gpt2"
QUESTIONS = ["what is 2 plus 3 ?", "tom has 4 apples and eats 1 . how many are left ?", "7 minus 2 ?"]
MAX_NEW_TOKENS = 5

pytestmark = pytest.mark.skipif(not GPT2_TOKENIZER.is_dir(), reason=f"GPT-2 tokenizer not found at {GPT2_TOKENIZER}")


def gpt2_tokenizer():
    tokenizer = AutoTokenizer.from_pretrained(GPT2_TOKENIZER)
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def tiny_base(family: str, vocab_size: int, seed: int):
    torch.manual_seed(seed)
    if family == "gpt2":
        return GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_layer=2, n_embd=32, n_head=2, n_positions=128))
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    return LlamaForCausalLM(config)


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    """A Coconut GPT-2 built from a saved base (by path, so the base is a *loaded* model), and its tokenizer."""
    tokenizer = gpt2_tokenizer()
    path = tmp_path_factory.mktemp("gpt2-base")
    tiny_base("gpt2", len(tokenizer), seed=0).save_pretrained(path)
    return CoconutForCausalLM.from_base(str(path), tokenizer, c_thought=1, max_latent_stage=3).eval(), tokenizer


@pytest.fixture(scope="module")
def llama():
    """A Coconut Llama (rotary positions, untied output layer) built from a live model, and its tokenizer."""
    tokenizer = gpt2_tokenizer()
    base = tiny_base("llama", len(tokenizer), seed=1)
    return CoconutForCausalLM.from_base(base, tokenizer, c_thought=1, max_latent_stage=3).eval(), tokenizer


@pytest.fixture(params=["gpt2", "llama"])
def coconut(request):
    return request.getfixturevalue(request.param)


def with_thoughts(model, question_ids: list[int], num_latents: int, answer_ids: list[int] = ()) -> list[int]:
    config = model.config
    latents = [config.latent_token_id] * num_latents
    return [*question_ids, config.start_latent_token_id, *latents, config.end_latent_token_id, *answer_ids]


def reference_logits(model, ids: list[int], prompt_length: int | None = None) -> torch.Tensor:
    """The paper's computation, slowly: one unpadded row, latents filled one at a time, each by a full uncached pass
    of the wrapped LM on `inputs_embeds`; gradients flow through every thought. Only latents among the first
    `prompt_length` ids (default: all) are thoughts; later ones were generated: ordinary tokens. Returns (len(ids),
    vocab)."""
    language_model = model.language_model
    embeds = language_model.get_input_embeddings()(torch.tensor([ids]))
    prompt = ids[:prompt_length]
    for position in [i for i, token in enumerate(prompt) if token == model.config.latent_token_id]:
        hidden = language_model(inputs_embeds=embeds[:, :position], output_hidden_states=True).hidden_states[-1]
        embeds = torch.cat([embeds[:, :position], hidden[:, -1:], embeds[:, position + 1 :]], dim=1)
    return language_model(inputs_embeds=embeds).logits[0]


def reference_generate(model, question_ids: list[int], num_latents: int, eos_id: int) -> list[int]:
    """Greedy decoding that recomputes everything with `reference_logits` for every new token."""
    ids = with_thoughts(model, question_ids, num_latents)
    for _ in range(MAX_NEW_TOKENS):
        with torch.no_grad():
            ids.append(int(reference_logits(model, ids)[-1].argmax()))
        if ids[-1] == eos_id:
            break
    return ids


def left_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(map(len, rows))
    input_ids = torch.tensor([[pad_id] * (length - len(row)) + row for row in rows])
    attention_mask = torch.tensor([[0] * (length - len(row)) + [1] * len(row) for row in rows])
    return input_ids, attention_mask


def count_passes(model):
    """Counts the calls of the wrapped LM's decoder (a list that grows by one per pass)."""
    calls = []
    handle = model.language_model.get_decoder().register_forward_hook(lambda *args: calls.append(1))
    return calls, handle


def test_forward_and_loss_equal_one_latent_at_a_time_reference(coconut):
    """Rows with 0, 1 and 3 latents at different offsets, left padded: per-row logits and the batch loss equal the
    slow reference, in max(latents) + 1 passes."""
    model, tokenizer = coconut
    answers = [tokenizer(" 5")["input_ids"], tokenizer(" 3 apples")["input_ids"], tokenizer(" 1")["input_ids"]]
    rows = [
        with_thoughts(model, tokenizer(question)["input_ids"], num_latents, answer)
        for question, num_latents, answer in zip(QUESTIONS, [0, 1, 3], answers, strict=True)
    ]
    input_ids, attention_mask = left_pad(rows, tokenizer.pad_token_id)
    labels = torch.full_like(input_ids, -100)
    for i, answer in enumerate(answers):
        labels[i, -len(answer) - 1 :] = input_ids[i, -len(answer) - 1 :]  # <|end-latent|> and the answer

    calls, handle = count_passes(model)
    with torch.no_grad():
        outputs = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    handle.remove()
    assert len(calls) == 4
    assert output_cache(outputs) is None  # the latents are not column-aligned: the cache has padding slots

    expected_logits, expected_labels = [], []
    for i, row in enumerate(rows):
        with torch.no_grad():
            expected = reference_logits(model, row)
        torch.testing.assert_close(outputs.logits[i, -len(row) :], expected, atol=ATOL, rtol=0)
        expected_logits.append(expected[:-1])
        expected_labels.append(labels[i, -len(row) + 1 :])
    expected_loss = F.cross_entropy(torch.cat(expected_logits), torch.cat(expected_labels), ignore_index=-100)
    torch.testing.assert_close(outputs.loss, expected_loss, atol=ATOL, rtol=0)


def test_aligned_latents_take_k_plus_one_cached_passes(gpt2):
    model, tokenizer = gpt2
    rows = [with_thoughts(model, tokenizer(question)["input_ids"], 3) for question in QUESTIONS]
    input_ids, attention_mask = left_pad(rows, tokenizer.pad_token_id)
    calls, handle = count_passes(model)
    with torch.no_grad():
        outputs = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=True)
    handle.remove()
    assert len(calls) == 4
    assert output_cache(outputs).get_seq_length() == input_ids.shape[1]
    for i, row in enumerate(rows):
        with torch.no_grad():
            expected = reference_logits(model, row)
        torch.testing.assert_close(outputs.logits[i, -len(row) :], expected, atol=ATOL, rtol=0)


def test_sequences_without_latents_are_one_ordinary_pass(gpt2):
    model, tokenizer = gpt2
    batch = tokenizer(QUESTIONS[:2], return_tensors="pt", padding=True)
    calls, handle = count_passes(model)
    with torch.no_grad():
        outputs = model(**batch)
        expected = model.language_model(**batch, position_ids=(batch["attention_mask"].cumsum(-1) - 1).clamp(min=0))
    handle.remove()
    assert len(calls) == 2  # one for the model, one for the reference call
    torch.testing.assert_close(outputs.logits, expected.logits, atol=ATOL, rtol=0)


def test_gradients_flow_through_every_thought(llama):
    """Loss on the answer only: the gradient on the question's input embeddings is non-zero, equals the reference's,
    and differs from the one obtained when the thoughts are detached (so part of it flows through the thoughts)."""
    model, tokenizer = llama
    question, answer = tokenizer(QUESTIONS[0])["input_ids"], tokenizer(" 5")["input_ids"]
    row = with_thoughts(model, question, 3, answer)
    labels = torch.tensor([[-100] * (len(row) - len(answer)) + answer])
    embedding = model.get_input_embeddings()

    captured = []
    handle = embedding.register_forward_hook(lambda module, args, output: captured.append(output) or output)
    outputs = model(input_ids=torch.tensor([row]), labels=labels)
    handle.remove()
    captured[0].retain_grad()
    outputs.loss.backward()
    grad = captured[0].grad[0, : len(question)]
    model.zero_grad()
    assert grad.abs().sum(-1).gt(0).all()

    def question_grad(detach_thoughts: bool) -> torch.Tensor:
        embeds = embedding(torch.tensor([row])).detach().requires_grad_()
        inputs = embeds
        for position in [i for i, token in enumerate(row) if token == model.config.latent_token_id]:
            hidden = model.language_model(inputs_embeds=inputs[:, :position], output_hidden_states=True)
            thought = hidden.hidden_states[-1][:, -1:]
            thought = thought.detach() if detach_thoughts else thought
            inputs = torch.cat([inputs[:, :position], thought, inputs[:, position + 1 :]], dim=1)
        logits = model.language_model(inputs_embeds=inputs).logits
        F.cross_entropy(logits[0, :-1], labels[0, 1:], ignore_index=-100).backward()
        model.zero_grad()
        return embeds.grad[0, : len(question)]

    torch.testing.assert_close(grad, question_grad(detach_thoughts=False), atol=ATOL, rtol=0)
    assert not torch.allclose(grad, question_grad(detach_thoughts=True), atol=1e-4)


@pytest.mark.parametrize("num_latents", [0, 1, 3])
def test_batched_left_padded_greedy_generate_equals_uncached_reference(coconut, num_latents):
    model, tokenizer = coconut
    batch = tokenizer(QUESTIONS, return_tensors="pt", padding=True)
    sequences = model.generate(
        **batch,
        num_latent_thoughts=num_latents,
        max_new_tokens=MAX_NEW_TOKENS,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
    )
    for i, question in enumerate(QUESTIONS):
        expected = reference_generate(model, tokenizer(question)["input_ids"], num_latents, tokenizer.eos_token_id)
        pad = int((batch["attention_mask"][i] == 0).sum())
        assert sequences[i, pad : pad + len(expected)].tolist() == expected


def test_generate_defaults_to_config_k_and_returns_the_thought_tokens(gpt2):
    model, tokenizer = gpt2
    question = tokenizer(QUESTIONS[0], return_tensors="pt")
    sequences = model.generate(**question, max_new_tokens=2, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    k = model.config.num_latent_thoughts
    assert k == 3
    prompt_length = question["input_ids"].shape[1]
    assert sequences[0, prompt_length:-2].tolist() == with_thoughts(model, [], k)
    text = tokenizer.decode(sequences[0, : prompt_length + k + 2], skip_special_tokens=True)
    assert text == QUESTIONS[0]


class Collect(BaseStreamer):
    def __init__(self):
        self.chunks = []

    def put(self, value):
        self.chunks.append(value.tolist())

    def end(self):
        pass


class StopAfter(StoppingCriteria):
    def __init__(self, length: int):
        self.length = length

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), input_ids.shape[1] >= self.length, dtype=torch.bool)


def test_generate_supports_sampling_beams_streamers_and_stopping_criteria(gpt2):
    model, tokenizer = gpt2
    batch = tokenizer(QUESTIONS[:2], return_tensors="pt", padding=True)
    kwargs = dict(num_latent_thoughts=2, pad_token_id=tokenizer.pad_token_id)
    prefix_length = batch["input_ids"].shape[1] + 4
    greedy = model.generate(**batch, max_new_tokens=3, do_sample=False, **kwargs)

    torch.manual_seed(0)
    sampled = model.generate(**batch, max_new_tokens=3, do_sample=True, num_return_sequences=3, **kwargs)
    assert sampled.shape == (6, prefix_length + 3)
    assert torch.equal(sampled[:, :prefix_length], greedy[:, :prefix_length].repeat_interleave(3, dim=0))

    beams = model.generate(**batch, max_new_tokens=3, num_beams=2, num_return_sequences=2, **kwargs)
    assert torch.equal(beams[:, :prefix_length], greedy[:, :prefix_length].repeat_interleave(2, dim=0))

    streamer = Collect()
    question = tokenizer(QUESTIONS[0], return_tensors="pt")
    stopped = model.generate(
        **question,
        max_new_tokens=5,
        do_sample=False,
        streamer=streamer,
        stopping_criteria=StoppingCriteriaList([StopAfter(question["input_ids"].shape[1] + 4 + 2)]),
        **kwargs,
    )
    assert stopped.shape[1] == question["input_ids"].shape[1] + 4 + 2
    assert streamer.chunks[0] == [stopped[0, : question["input_ids"].shape[1] + 4].tolist()]
    assert [chunk[0] for chunk in streamer.chunks[1:]] == stopped[0, -2:].tolist()


DECODING_MODES = {
    "greedy": {"do_sample": False},
    "sampling": {"do_sample": True, "temperature": 1.0, "top_k": 0},
    "beams": {"do_sample": False, "num_beams": 3},
    "sampled_returns": {"do_sample": True, "num_return_sequences": 2},
}
FORCE = 50.0  # added to a token's logit: it then wins every step it is allowed to


def coconut_ids(model) -> dict[str, int]:
    config = model.config
    return {"start": config.start_latent_token_id, "end": config.end_latent_token_id, "latent": config.latent_token_id}


@pytest.mark.parametrize("mode", DECODING_MODES)
@pytest.mark.parametrize("forced", ["latent", "start", "end"])
def test_generated_coconut_tokens_are_ordinary_tokens_and_never_rerun_thoughts(coconut, mode, forced):
    """The LM is pushed to emit one of its Coconut tokens while answering: generation goes on to the end, batched,
    with k + 1 passes for the thoughts and one cached pass per further answer token."""
    model, tokenizer = coconut
    batch = tokenizer(QUESTIONS, return_tensors="pt", padding=True)
    token = coconut_ids(model)[forced]
    calls, handle = count_passes(model)
    torch.manual_seed(0)
    try:
        sequences = model.generate(
            **batch,
            num_latent_thoughts=2,
            max_new_tokens=MAX_NEW_TOKENS,
            min_new_tokens=MAX_NEW_TOKENS,
            suppress_tokens=[],
            sequence_bias={(token,): FORCE},
            pad_token_id=tokenizer.pad_token_id,
            **DECODING_MODES[mode],
        )
    finally:
        handle.remove()
    assert len(calls) == (2 + 1) + (MAX_NEW_TOKENS - 1)
    assert (sequences[:, -MAX_NEW_TOKENS:] == token).all()


def test_greedy_decoding_over_generated_latent_tokens_equals_uncached_reference(coconut):
    model, tokenizer = coconut
    ids = coconut_ids(model)
    bias = {ids["latent"]: 0.5}  # enough for some answer tokens (not all) to be <|latent|> on both tiny bases
    batch = tokenizer(QUESTIONS, return_tensors="pt", padding=True)
    sequences = model.generate(
        **batch,
        num_latent_thoughts=2,
        max_new_tokens=MAX_NEW_TOKENS,
        do_sample=False,
        suppress_tokens=[],
        sequence_bias={(token,): value for token, value in bias.items()},
        pad_token_id=tokenizer.pad_token_id,
    )
    emitted = sequences[:, -MAX_NEW_TOKENS:]
    assert (emitted == ids["latent"]).any()  # the bias made the LM emit some
    for i, question in enumerate(QUESTIONS):
        row = with_thoughts(model, tokenizer(question)["input_ids"], 2)
        prompt_length = len(row)
        for _ in range(MAX_NEW_TOKENS):
            with torch.no_grad():
                logits = reference_logits(model, row, prompt_length)[-1]
            for token, value in bias.items():
                logits[token] += value
            row.append(int(logits.argmax()))
            if row[-1] == tokenizer.eos_token_id:
                break
        pad = int((batch["attention_mask"][i] == 0).sum())
        assert sequences[i, pad : pad + len(row)].tolist() == row


def test_default_generation_config_never_emits_coconut_tokens(gpt2, tmp_path):
    model, tokenizer = gpt2
    ids = list(coconut_ids(model).values())
    assert set(ids) <= set(model.generation_config.suppress_tokens)
    batch = tokenizer(QUESTIONS, return_tensors="pt", padding=True)
    for mode in DECODING_MODES:
        sequences = model.generate(
            **batch,
            max_new_tokens=MAX_NEW_TOKENS,
            sequence_bias={(token,): FORCE for token in ids},
            pad_token_id=tokenizer.pad_token_id,
            **DECODING_MODES[mode],
        )
        assert not torch.isin(sequences[:, -MAX_NEW_TOKENS:], torch.tensor(ids)).any()
    model.save_pretrained(tmp_path)
    assert set(ids) <= set(AutoModelForCausalLM.from_pretrained(tmp_path).generation_config.suppress_tokens)


def test_save_and_auto_load_round_trip(llama, tmp_path):
    """Full weights in safetensors and the remote code; identical logits and generations after reload are the shared
    contract's (test_model_contract.py), here on a Llama base (rotary buffers) built from a live model."""
    model, tokenizer = llama
    model.save_pretrained(tmp_path)
    assert {"model.safetensors", "configuration_coconut.py", "modeling_coconut.py"} <= {
        path.name for path in tmp_path.iterdir()
    }
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert isinstance(loaded, CoconutForCausalLM) and loaded.config.latent_token_id == model.config.latent_token_id
    assert loaded.language_model.config._attn_implementation in ("sdpa", "eager")


def test_remote_code_loads_without_softcot_hf(gpt2, tmp_path):
    model, tokenizer = gpt2
    model.save_pretrained(tmp_path / "model")
    batch = tokenizer(QUESTIONS, return_tensors="pt", padding=True)
    kwargs = dict(num_latent_thoughts=2, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
    expected = model.generate(**batch, **kwargs, pad_token_id=tokenizer.pad_token_id).tolist()

    script = BLOCK_PACKAGE + textwrap.dedent(
        f"""
        import json, sys

        import torch
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained({str(tmp_path / "model")!r}, trust_remote_code=True)
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        assert not any(name.startswith("softcot_hf") for name in sys.modules)
        input_ids = torch.tensor({batch["input_ids"].tolist()})
        attention_mask = torch.tensor({batch["attention_mask"].tolist()})
        sequences = model.generate(
            input_ids=input_ids, attention_mask=attention_mask, pad_token_id={tokenizer.pad_token_id}, **{kwargs!r}
        )
        print(json.dumps(sequences.tolist()))
        """
    )
    environment = {"HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules"), "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-I", "-c", script], cwd=tmp_path, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


def test_lora_wrapped_model_trains_one_step_and_generates(llama):
    from peft import LoraConfig, get_peft_model

    model, tokenizer = llama
    torch.manual_seed(0)
    peft_model = get_peft_model(
        copy.deepcopy(model), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    )
    trainable = {name: p.detach().clone() for name, p in peft_model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)

    question, answer = tokenizer(QUESTIONS[0])["input_ids"], tokenizer(" 5")["input_ids"]
    row = with_thoughts(model, question, 2, answer)
    labels = torch.tensor([[-100] * (len(row) - len(answer)) + answer])
    optimizer = torch.optim.SGD([p for p in peft_model.parameters() if p.requires_grad], lr=0.1)
    peft_model.train()
    peft_model(input_ids=torch.tensor([row]), labels=labels).loss.backward()
    optimizer.step()
    peft_model.eval()
    changed = [not torch.equal(p, trainable[name]) for name, p in peft_model.named_parameters() if p.requires_grad]
    assert any(changed)

    batch = tokenizer(QUESTIONS[:2], return_tensors="pt", padding=True)
    sequences = peft_model.generate(**batch, num_latent_thoughts=2, max_new_tokens=3, do_sample=False)
    prompt_length = batch["input_ids"].shape[1]
    assert sequences.shape == (2, prompt_length + 4 + 3)
    assert sequences[0, prompt_length : prompt_length + 4].tolist() == with_thoughts(model, [], 2)


def test_wrapped_models_stay_causal(coconut):
    """A composite config must not leave the wrapped LM's attention implementation at `None` (non-causal)."""
    model, tokenizer = coconut
    assert model.config._attn_implementation in ("sdpa", "eager")
    assert model.language_model.config._attn_implementation in ("sdpa", "eager")
    row = with_thoughts(model, tokenizer(QUESTIONS[1])["input_ids"], 2, [11, 12, 13])
    changed = row[:-1] + [14]
    with torch.no_grad():
        logits = model(torch.tensor([row, changed])).logits
    torch.testing.assert_close(logits[0, :-1], logits[1, :-1], atol=ATOL, rtol=0)
    assert not torch.allclose(logits[0, -1], logits[1, -1])


def test_from_base_adds_special_tokens_and_mean_initialises_their_rows(llama):
    model, tokenizer = llama
    config = model.config
    ids = [config.start_latent_token_id, config.end_latent_token_id, config.latent_token_id]
    assert tokenizer.convert_ids_to_tokens(ids) == ["<|start-latent|>", "<|end-latent|>", "<|latent|>"]
    assert tokenizer.decode([*tokenizer("hi")["input_ids"], *ids], skip_special_tokens=True) == "hi"
    for embeddings in (model.get_input_embeddings(), model.get_output_embeddings()):
        old_rows = embeddings.weight[: min(ids)]
        torch.testing.assert_close(embeddings.weight[ids], old_rows.mean(0).expand(3, -1))
    assert model.language_model.config.vocab_size == len(tokenizer) == config.text_config.vocab_size


def test_from_base_keeps_the_base_weights():
    tokenizer = gpt2_tokenizer()
    base = tiny_base("gpt2", len(tokenizer), seed=2)
    expected = {name: tensor.clone() for name, tensor in base.state_dict().items()}
    model = CoconutForCausalLM.from_base(base, tokenizer)
    assert model.language_model is base
    for name, tensor in model.language_model.state_dict().items():
        assert torch.equal(tensor[: expected[name].shape[0]], expected[name]), name


def test_bad_inputs_raise_errors_that_say_how_to_fix_them(gpt2):
    model, tokenizer = gpt2
    question = tokenizer(QUESTIONS[0], return_tensors="pt")
    with pytest.raises(ValueError, match="questions only"):
        model.generate(torch.tensor([with_thoughts(model, [11, 12], 1)]), max_new_tokens=1)
    with pytest.raises(ValueError, match="0 or more"):
        model.generate(**question, num_latent_thoughts=-1, max_new_tokens=1)
    with pytest.raises(ValueError, match="must follow a token"):
        model(torch.tensor([[model.config.latent_token_id, 11, 12]]))

    # A model built without `from_base` knows no Coconut tokens (and neither does its tokenizer).
    untokenized = CoconutForCausalLM(CoconutConfig(text_config=model.config.text_config.to_dict()))
    for call in (lambda: untokenized.generate(**question), lambda: untokenized(**question)):
        with pytest.raises(ValueError, match=r"from_base\(model, tokenizer\)"):
            call()
