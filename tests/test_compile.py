"""Coconut, SoftCoT and CoT-Unk decode under `torch.compile` (`generate(..., cache_implementation="static",
compile_config=...)`) with the tokens of eager decoding over a dynamic cache, and compile the decoding step into one
graph (no graph break), once, not once per step.

The fast tests compile through a counting `aot_eager` backend: dynamo's tracing and AOT autograd's functionalization,
without inductor's code generation (~1 min per model on a shared 2-core CPU). The inductor test runs with
SOFTCOT_HF_SLOW_TESTS=1. Equal tokens means exactly equal (tiny fp32 models; logits differ by float noise, ~1e-6).
"""

import os

import pytest
import torch
from conftest import QUESTIONS, build
from test_static_cache import cot_unk
from torch._dynamo.backends.registry import lookup_backend

from softcot_hf import CoconutForCausalLM
from softcot_hf.generation import decoding_compile_config, encode_prompts
from softcot_hf.tiny import make_lm, make_tokenizer

MAX_NEW_TOKENS = 6
SLOW = pytest.mark.skipif(not os.environ.get("SOFTCOT_HF_SLOW_TESTS"), reason="set SOFTCOT_HF_SLOW_TESTS=1")


def counting_backend() -> tuple[list, object]:
    """A torch.compile backend that runs the traced graphs as they are (aot_eager), and the list of graphs it got.
    (A function, not an object with a counter: `CompileConfig` deep-copies its backend, and a copied object would
    count in its copy.)"""
    graphs, aot_eager = [], lookup_backend("aot_eager")

    def backend(graph_module, example_inputs, **_options):
        graphs.append(graph_module)
        return aot_eager(graph_module, example_inputs)

    return graphs, backend


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def coconut_and_inputs():
    tokenizer = make_tokenizer("plain")
    model = CoconutForCausalLM.from_base(make_lm("llama", len(tokenizer), seed=1), tokenizer, num_latent_thoughts=2)
    return model.eval(), encode_prompts(tokenizer, QUESTIONS, chat=False)


def softcot_and_inputs(pair_dirs):
    model, processor = build(pair_dirs, num_thought_tokens=3)
    return model, processor(QUESTIONS)


def cot_unk_and_inputs(pair_dirs):
    model, processor = cot_unk(pair_dirs, "llama_backbone")
    return model, processor(QUESTIONS)


def generate(model, inputs, do_sample: bool = False, **kwargs) -> list[list[int]]:
    torch.manual_seed(0)
    with torch.no_grad():
        return model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=do_sample, **kwargs).tolist()


@pytest.mark.parametrize("name", ["coconut", "softcot", "cot_unk"])
def test_compiled_decoding_gives_the_eager_tokens_and_compiles_once(name, pair_dirs):
    if name == "coconut":
        model, inputs = coconut_and_inputs()
    else:
        model, inputs = (softcot_and_inputs if name == "softcot" else cot_unk_and_inputs)(pair_dirs)
    graphs, backend = counting_backend()
    compiled = {"cache_implementation": "static", "compile_config": decoding_compile_config(backend=backend)}

    assert generate(model, inputs, **compiled) == generate(model, inputs)
    assert len(graphs) == 1, f"the decoding step compiled into {len(graphs)} graphs, not 1: a graph break"
    # Same shapes again, sampled this time: the graph is reused, nothing is traced anew.
    assert generate(model, inputs, do_sample=True, **compiled) == generate(model, inputs, do_sample=True)
    assert len(graphs) == 1


@SLOW
def test_inductor_compiled_decoding_gives_the_eager_tokens(pair_dirs):
    for model, inputs in (coconut_and_inputs(), softcot_and_inputs(pair_dirs)):
        compiled = {"cache_implementation": "static", "compile_config": decoding_compile_config(mode="default")}
        assert generate(model, inputs, **compiled) == generate(model, inputs)
