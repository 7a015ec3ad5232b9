"""The tiny models' tokenizers come back from a saved folder as the same tokenizer (the Qwen2 AutoTokenizer trap)."""

import pytest
from transformers import AutoTokenizer

from softcot_hf.tiny import make_lm, make_tokenizer

TEXT = "tom has 4 apples and eats 1 . how many apples does tom have left ?"


@pytest.mark.parametrize("family", ["llama", "qwen", "plain"])
def test_saved_tokenizer_reloads_with_the_same_ids_and_text(family, tmp_path):
    tokenizer = make_tokenizer(family)
    make_lm(family, len(tokenizer), hidden_size=16).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    ids = tokenizer(TEXT)["input_ids"]
    assert reloaded(TEXT)["input_ids"] == ids
    assert reloaded.decode(ids) == tokenizer.decode(ids)
    assert "[UNK]" not in tokenizer.convert_ids_to_tokens(ids)
    assert reloaded.chat_template == tokenizer.chat_template and len(reloaded) == len(tokenizer)
