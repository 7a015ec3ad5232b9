"""Coconut, SoftCoT and CoT-Unk `generate` over every decoder-only cache kind transformers offers gives the dynamic
cache's tokens: greedy and seeded sampling, left-padded batches, a sliding-window LM included.

Tiny seeded models, fp32 on CPU. The caches hold the same keys and values, so logits agree to float noise (~1e-6) and
the generated tokens (greedy, or sampled with the same seed) must match exactly.
"""

import copy

import pytest
import torch
from conftest import QUESTIONS, build
from transformers import AutoTokenizer, MistralConfig, MistralForCausalLM

from softcot_hf import CoconutForCausalLM, CoTUnkForCausalLM, SoftCoTProcessor
from softcot_hf.generation import encode_prompts
from softcot_hf.tiny import make_lm, make_tokenizer

# "sliding_window" is the deprecated name of "static" (whose layers follow the config's sliding windows), kept for
# older code; "quantized" needs an optional quantization backend (quanto / hqq); the offloaded kinds move layers
# between a CUDA device and the CPU, so they run only where there is one.
NEEDS_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="offloaded caches need a CUDA device")
OFFLOADED = [pytest.param(kind, marks=NEEDS_CUDA) for kind in ("offloaded_static", "offloaded")]
CACHE_KINDS = ["static", "sliding_window", *OFFLOADED]
MAX_NEW_TOKENS = 6
SAMPLING = {"greedy": {"do_sample": False}, "sampled": {"do_sample": True, "temperature": 1.5, "top_k": 0}}


def sliding_window_lm(vocab_size: int) -> MistralForCausalLM:
    """A tiny Mistral whose 5-token attention window is shorter than the prompts, so the window matters."""
    torch.manual_seed(3)
    config = MistralConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        sliding_window=5,
    )
    return MistralForCausalLM(config).eval()


def coconut_model(family: str) -> tuple[CoconutForCausalLM, object]:
    tokenizer = make_tokenizer("plain")
    base = sliding_window_lm(len(tokenizer)) if family == "mistral" else make_lm(family, len(tokenizer), seed=1)
    return CoconutForCausalLM.from_base(base, tokenizer, num_latent_thoughts=3).eval(), tokenizer


@pytest.fixture(scope="module", params=["plain", "llama", "mistral"])
def coconut(request):
    return coconut_model(request.param)


def generate(model, inputs: dict, sampling: str, **kwargs) -> list[list[int]]:
    torch.manual_seed(0)
    inputs = {name: value.to(model.device) for name, value in inputs.items()}
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, **SAMPLING[sampling], **kwargs)
    return output.tolist()


def on_device_for(model, cache_kind: str):
    """The model itself, or for an offloaded cache a copy on the CUDA device (offloading moves layers to the CPU)."""
    return copy.deepcopy(model).cuda() if cache_kind.startswith("offloaded") else model


@pytest.mark.parametrize("sampling", SAMPLING)
@pytest.mark.parametrize("cache_kind", CACHE_KINDS)
def test_coconut_generates_the_same_tokens_with_every_cache_kind(coconut, cache_kind, sampling):
    model, tokenizer = coconut
    model = on_device_for(model, cache_kind)
    inputs = encode_prompts(tokenizer, QUESTIONS, chat=False)
    assert inputs["attention_mask"][:, 0].eq(0).any(), "the batch must be left-padded"
    dynamic = generate(model, inputs, sampling)
    assert generate(model, inputs, sampling, cache_implementation=cache_kind) == dynamic


def test_coconut_static_cache_equals_one_by_one_generation(coconut):
    """The static cache's extra (empty) slots and the batch's padding change nothing: each row as generated alone."""
    model, tokenizer = coconut
    inputs = encode_prompts(tokenizer, QUESTIONS, chat=False)
    batched = generate(model, inputs, "greedy", cache_implementation="static")
    for row, question in enumerate(QUESTIONS):
        alone = generate(model, encode_prompts(tokenizer, [question], chat=False), "greedy")[0]
        padding = len(batched[row]) - len(alone)
        assert batched[row][padding:] == alone


def test_coconut_refuses_latents_with_a_prepared_4d_mask(coconut):
    model, tokenizer = coconut
    ids = tokenizer("what is 2 plus 3 ?", add_special_tokens=False)["input_ids"]
    thought_ids = [model.config.start_latent_token_id, model.config.latent_token_id, model.config.end_latent_token_id]
    input_ids = torch.tensor([ids + thought_ids])
    mask_4d = torch.ones(1, 1, input_ids.shape[1], input_ids.shape[1], dtype=torch.bool).tril()
    with pytest.raises(ValueError, match="padding mask"):
        model(input_ids=input_ids, attention_mask=mask_4d)


def cot_unk(pair_dirs, backbone: str):
    torch.manual_seed(0)
    model = CoTUnkForCausalLM.from_backbone(pair_dirs[backbone], num_thought_tokens=3)
    processor = SoftCoTProcessor(None, AutoTokenizer.from_pretrained(pair_dirs[backbone]), num_thought_tokens=3)
    return model, processor


@pytest.fixture(scope="module", params=["softcot-llama", "softcot-gpt2", "cot_unk-llama"])
def softcot(request, pair_dirs):
    """SoftCoT pairs, and CoT-Unk (SoftCoT's prompt-tuning baseline, the same slots without an assistant)."""
    if request.param == "cot_unk-llama":
        return cot_unk(pair_dirs, "llama_backbone")
    family = request.param.removeprefix("softcot-")
    return build(pair_dirs, f"{family}_assistant", f"{family}_backbone", num_thought_tokens=3)


@pytest.mark.parametrize("sampling", SAMPLING)
@pytest.mark.parametrize("cache_kind", CACHE_KINDS)
def test_softcot_generates_the_same_tokens_with_every_cache_kind(softcot, cache_kind, sampling):
    model, processor = softcot
    model = on_device_for(model, cache_kind)
    inputs = processor(QUESTIONS)
    assert inputs["attention_mask"][:, 0].eq(0).any(), "the batch must be left-padded"
    dynamic = generate(model, inputs, sampling)
    assert generate(model, inputs, sampling, cache_implementation=cache_kind) == dynamic


def test_softcot_static_cache_equals_one_by_one_generation(softcot):
    model, processor = softcot
    batched = generate(model, processor(QUESTIONS), "greedy", cache_implementation="static")
    for row, question in enumerate(QUESTIONS):
        alone = generate(model, processor([question]), "greedy")[0]
        padding = len(batched[row]) - len(alone)
        assert batched[row][padding:] == alone
