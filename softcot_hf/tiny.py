"""Tiny seeded causal LMs and whitespace word-level tokenizers with each model family's special-token layout.

Used by the quickstart and the tests: small enough for a laptop CPU, yet with the real placeholder and marker
tokens (LLaMA-3's reserved tokens, Qwen2.5's box tokens, GPT-2's lone `<|endoftext|>`) and chat templates.
"""

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

WORDS = (
    "what is the sum of and plus minus times a an how many apples does tom has have if he buys eats more less "
    "question answer so total left each there are was were step first then it yes no true false because "
    "please generate tokens to help another language model solve following solve give final at end here prompts "
    "assistant user Question: Here Please step. "
    "0 1 2 3 4 5 6 7 8 9 10 11 12 . , ? : + - = # ###"
).split()

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
FAMILY_ROLES = {
    "llama": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "qwen": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "plain": {"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>"},
}
CHAT_TEMPLATES = {
    "llama": (
        "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|> "
        "{{ m['content'] }} <|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|> {% endif %}"
    ),
    "qwen": (
        "{% for m in messages %}<|im_start|>{{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant {% endif %}"
    ),
}


def make_tokenizer(family: str, words: list[str] = WORDS) -> PreTrainedTokenizerFast:
    """A whitespace word-level tokenizer over `words` with the special tokens and chat template of `family`
    ("llama", "qwen" or "plain", the last GPT-2-like with no chat template)."""
    vocab = {"[UNK]": 0}
    for word in words:
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", **FAMILY_ROLES[family])
    tokenizer.add_special_tokens({"additional_special_tokens": FAMILY_SPECIALS[family]})
    if family in CHAT_TEMPLATES:
        tokenizer.chat_template = CHAT_TEMPLATES[family]
    return tokenizer


def make_lm(
    family: str, vocab_size: int, hidden_size: int = 32, num_layers: int = 2, seed: int = 0
) -> PreTrainedModel:
    """A random causal LM, seeded: Llama ("llama"), Qwen2 with tied embeddings ("qwen") or GPT-2 ("plain")."""
    torch.manual_seed(seed)
    if family == "plain":
        config = GPT2Config(vocab_size=vocab_size, n_embd=hidden_size, n_layer=num_layers, n_head=4, n_positions=512)
        return GPT2LMHeadModel(config).eval()
    shape = dict(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
    )
    if family == "qwen":
        return Qwen2ForCausalLM(Qwen2Config(**shape, tie_word_embeddings=True)).eval()
    return LlamaForCausalLM(LlamaConfig(**shape)).eval()


__all__ = ["WORDS", "make_lm", "make_tokenizer"]
