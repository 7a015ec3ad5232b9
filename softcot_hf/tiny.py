"""Tiny seeded causal LMs and small tokenizers with each model family's special-token layout.

Used by the quickstart and the tests: small enough for a laptop CPU, yet with the real placeholder and marker
tokens (LLaMA-3's reserved tokens, Qwen2.5's box tokens, GPT-2's lone `<|endoftext|>`) and chat templates.

Tokenizers are whitespace word-level, except Qwen's: transformers 5.x `AutoTokenizer` loads any folder whose config
is `qwen2` as a `Qwen2Tokenizer` (whatever `tokenizer_config.json` says), which rebuilds a byte-level BPE from the
saved vocabulary, so a word-level tokenizer saved there would come back silently retokenizing text byte by byte. The
tiny Qwen tokenizer is therefore a real `Qwen2Tokenizer` over a small byte-level BPE learned from `words`.
"""

import json

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen2Tokenizer,
)
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

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
    """A tokenizer over `words` with the special tokens and chat template of `family` ("llama", "qwen" or "plain",
    the last GPT-2-like with no chat template): whitespace word-level, or for "qwen" a byte-level BPE (see above)."""
    if family == "qwen":
        tokenizer = _qwen_byte_level_tokenizer(words)
    else:
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


def _qwen_byte_level_tokenizer(words: list[str], vocab_size: int = 400) -> Qwen2Tokenizer:
    """A `Qwen2Tokenizer` (Qwen's pre-tokenizer regex + byte-level BPE) whose merges are learned from `words`."""
    learner = Tokenizer(models.BPE())
    learner.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    learner.train_from_iterator([" ".join(words)] + [" " + word for word in words], trainer)
    bpe = json.loads(learner.to_str())["model"]
    merges = [tuple(merge) if isinstance(merge, list) else tuple(merge.split()) for merge in bpe["merges"]]
    return Qwen2Tokenizer(vocab=bpe["vocab"], merges=merges, unk_token=None, **FAMILY_ROLES["qwen"])


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
