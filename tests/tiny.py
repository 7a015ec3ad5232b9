"""Tiny seeded models and word-level tokenizers for tests: small vocabularies, real special-token layouts."""

from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

WORDS = (
    "what is the sum of and plus minus times a an how many apples does tom have if he buys eats more less "
    "question answer so total left each there are was were step first then it yes no true false because "
    "please generate tokens to help another language model solve following solve give final at end here prompts "
    "0 1 2 3 4 5 6 7 8 9 10 11 12 . , ? : + - = # \n"
).split(" ")
SHARED = Path(__file__).resolve().parents[2] / "shared"

# Special tokens of each family, in the order they get ids after the words (ids as in the real vocabularies' roles).
FAMILY_SPECIALS = {
    "llama": [
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|reserved_special_token_0|>",
        "<|reserved_special_token_1|>",
        "<|reserved_special_token_2|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eot_id|>",
    ],
    "qwen": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|box_start|>", "<|box_end|>", "<|vision_pad|>"],
    "plain": ["<|endoftext|>"],
}
CHAT_TEMPLATES = {
    "llama": (
        "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
        "{{ m['content'] }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
    ),
    "qwen": (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    ),
}
FAMILY_TOKENS = {
    "llama": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "qwen": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "plain": {"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>"},
}


def make_tokenizer(family: str) -> PreTrainedTokenizerFast:
    """A whitespace word-level tokenizer with the special tokens and chat template of `family`."""
    vocab = {"[UNK]": 0}
    for word in [*WORDS, "assistant", "user", "Question:", "Here", "Please", "step."]:
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", **FAMILY_TOKENS[family])
    tokenizer.add_special_tokens({"additional_special_tokens": FAMILY_SPECIALS[family]})
    if family in CHAT_TEMPLATES:
        tokenizer.chat_template = CHAT_TEMPLATES[family]
    return tokenizer


def make_lm(family: str, vocab_size: int, hidden_size: int = 32, seed: int = 0):
    """A 2-layer random causal LM of `family` ("llama" or "qwen"; "plain" uses Llama), seeded."""
    torch.manual_seed(seed)
    shape = dict(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    if family == "qwen":
        return Qwen2ForCausalLM(Qwen2Config(**shape, tie_word_embeddings=True)).eval()
    return LlamaForCausalLM(LlamaConfig(**shape)).eval()


def save_pair(tmp_path: Path, family: str, hidden_size: int, seed: int, name: str) -> str:
    """Save a tiny model and its tokenizer under tmp_path/name; returns the path (usable as a model id)."""
    tokenizer = make_tokenizer(family)
    model = make_lm(family, len(tokenizer), hidden_size, seed)
    path = tmp_path / name
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)
