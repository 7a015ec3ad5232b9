"""The shared model contract (`model_contract.ModelContract`) on SoftCoT, CoT-Unk and Coconut, tiny models on CPU.

SoftCoT runs on three pairs: GPT-2 has absolute positions, so left padding without the right position ids would change
its states, and its tokenizer has no reserved token (the slot token lies beyond the embedding table).
"""

import torch
from conftest import build
from model_contract import CoconutContract, ModelContract
from transformers import AutoTokenizer

from softcot_hf import CoconutForCausalLM, CoTUnkForCausalLM, SoftCoTProcessor


class SoftCoTContract(ModelContract):
    assistant = "llama_assistant"
    backbone = "llama_backbone"

    def build(self, pair_dirs):
        return build(pair_dirs, self.assistant, self.backbone, seed=7, num_thought_tokens=3)

    def encode(self, processor, questions):
        return processor(questions)


class TestSoftCoTLlama(SoftCoTContract):
    pass


class TestSoftCoTGPT2Assistant(SoftCoTContract):
    assistant = "gpt2_assistant"


class TestSoftCoTGPT2Backbone(SoftCoTContract):
    assistant, backbone = "qwen_assistant", "gpt2_backbone"


class TestCoTUnk(ModelContract):
    def build(self, pair_dirs):
        torch.manual_seed(5)
        backbone = pair_dirs["gpt2_backbone"]  # slot token added beyond the embedding table
        model = CoTUnkForCausalLM.from_backbone(backbone, num_thought_tokens=3)
        return model, SoftCoTProcessor(None, AutoTokenizer.from_pretrained(backbone), num_thought_tokens=3)

    def encode(self, processor, questions):
        return processor(questions)


class TestCoconut(CoconutContract):
    def build(self, pair_dirs):
        tokenizer = AutoTokenizer.from_pretrained(pair_dirs["llama_backbone"], padding_side="left")
        model = CoconutForCausalLM.from_base(pair_dirs["llama_backbone"], tokenizer, c_thought=1, max_latent_stage=2)
        return model, tokenizer
