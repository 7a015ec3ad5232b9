"""SoftCoTProcessor: prompts, placeholders, markers, labels and padding, on tiny and on the real tokenizers."""

import pytest
import torch
from conftest import QUESTIONS
from tiny import SHARED, make_lm, make_tokenizer
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

from softcot_hf import SoftCoTForCausalLM, SoftCoTProcessor, select_thought_tokens

REAL = SHARED / "tokenizers"
needs_real_tokenizers = pytest.mark.skipif(
    not (REAL / "llama3").exists() or not (REAL / "qwen2.5").exists() or not (REAL / "gpt2").exists(),
    reason="the real tokenizers in ../shared/tokenizers are absent",
)


def real(name: str):
    return AutoTokenizer.from_pretrained(REAL / name)


def test_labels_cover_exactly_the_answer_and_eos():
    processor = SoftCoTProcessor(make_tokenizer("llama"), make_tokenizer("llama"), num_thought_tokens=2)
    batch = processor(QUESTIONS[:2], answers=["5", "3 apples"])
    tok = processor.backbone_tokenizer
    for row, answer in enumerate(["5", "3 apples"]):
        labelled = batch["labels"][row][batch["labels"][row] != -100].tolist()
        assert labelled == tok(answer, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        assert batch["input_ids"][row, -len(labelled) :].tolist() == labelled
    assert ((batch["labels"] != -100) <= (batch["attention_mask"] == 1)).all()


def test_rows_are_left_padded_and_pads_never_look_like_thoughts():
    processor = SoftCoTProcessor(make_tokenizer("qwen"), make_tokenizer("llama"), num_thought_tokens=2)
    batch = processor(QUESTIONS)
    for key in ("attention_mask", "assistant_attention_mask"):
        mask = batch[key]
        assert (mask[:, -1] == 1).all() and (mask.diff(dim=1) >= 0).all()  # zeros only on the left
    tokens = processor.thought_tokens
    # Qwen's pad token is <|endoftext|>, the paper's assistant placeholder: padding must use another id.
    assert processor.assistant_tokenizer.pad_token_id == tokens.assistant_placeholder_id
    pads = batch["assistant_input_ids"][batch["assistant_attention_mask"] == 0]
    assert pads.numel() > 0 and (pads != tokens.assistant_placeholder_id).all()
    counts = (batch["assistant_input_ids"] == tokens.assistant_placeholder_id).sum(-1)
    assert counts.tolist() == [2, 2, 2]


def test_model_and_processor_choose_the_same_ids(pair_dirs):
    model = SoftCoTForCausalLM.from_assistant_and_backbone(
        pair_dirs["qwen_assistant"], pair_dirs["gpt2_backbone"], num_thought_tokens=2
    )
    processor = SoftCoTProcessor(
        AutoTokenizer.from_pretrained(pair_dirs["qwen_assistant"]),
        AutoTokenizer.from_pretrained(pair_dirs["gpt2_backbone"]),
        num_thought_tokens=2,
    )
    for key, value in processor.thought_tokens.config_kwargs().items():
        assert getattr(model.config, key) == value, key


def test_user_templates():
    processor = SoftCoTProcessor(
        make_tokenizer("plain"),
        make_tokenizer("plain"),
        num_thought_tokens=2,
        assistant_template="Question: {question} help",
        backbone_template="{thoughts} Question: {question} answer :",
    )
    batch = processor("what is 2 plus 3 ?")
    backbone = processor.backbone_tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
    assert backbone[:4] == ["<|soft_thought|>", "<|soft_thought|>", "Question:", "what"]
    assistant = processor.assistant_tokenizer.convert_ids_to_tokens(batch["assistant_input_ids"][0])
    assert assistant[-3:] == ["help", "<|endoftext|>", "<|endoftext|>"]


@needs_real_tokenizers
def test_llama3_prompts_use_reserved_tokens_and_the_chat_template():
    processor = SoftCoTProcessor(real("llama3"), real("llama3"), num_thought_tokens=4)
    batch = processor("Natalia sold clips to 48 of her friends. How many clips did she sell?")
    tokens = processor.backbone_tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
    start = tokens.index("<|reserved_special_token_0|>")
    assert tokens[start : start + 6] == (
        ["<|reserved_special_token_0|>"] + ["<|reserved_special_token_2|>"] * 4 + ["<|reserved_special_token_1|>"]
    )
    assert tokens[0] == "<|begin_of_text|>" and tokens.count("<|begin_of_text|>") == 1
    assert tokens[-4:] == ["<|start_header_id|>", "assistant", "<|end_header_id|>", "ĊĊ"]
    assistant = processor.assistant_tokenizer.convert_ids_to_tokens(batch["assistant_input_ids"][0])
    assert assistant[-5:] == ["ĊĊ"] + ["<|end_of_text|>"] * 4
    assert processor.thought_tokens.config_kwargs() == {
        "assistant_placeholder_token_id": 128001,
        "thought_token_id": 128005,
        "thought_start_token_id": 128002,
        "thought_end_token_id": 128003,
    }


@needs_real_tokenizers
def test_qwen_prompts_use_box_markers_and_the_chat_template():
    processor = SoftCoTProcessor(real("qwen2.5"), real("qwen2.5"), num_thought_tokens=3)
    batch = processor(["What is 1+1?", "A longer question about 17 apples and 5 pears?"])
    text = processor.backbone_tokenizer.decode(batch["input_ids"][1])
    assert "<|box_start|>" + "<|vision_pad|>" * 3 + "<|box_end|>" in text
    assert text.startswith("<|im_start|>system") and text.endswith("<|im_start|>assistant\n")
    assistant = processor.assistant_tokenizer.decode(batch["assistant_input_ids"][1])
    assert assistant.endswith("<|im_start|>assistant\n" + "<|endoftext|>" * 3)
    # Qwen pads with <|endoftext|>, the placeholder: the padded row must still hold exactly 3 real placeholders.
    ids, mask = batch["assistant_input_ids"][0], batch["assistant_attention_mask"][0]
    assert ((ids == 151643) & (mask == 1)).sum() == 3 and (ids[mask == 0] != 151643).all()


@needs_real_tokenizers
def test_cross_family_real_tokenizers():
    processor = SoftCoTProcessor(real("qwen2.5"), real("llama3"), num_thought_tokens=2)
    batch = processor("What is 1+1?", answers="2")
    assert (batch["assistant_input_ids"] == 151643).sum() == 2
    assert (batch["input_ids"] == 128005).sum() == 2
    assert batch["labels"][0][batch["labels"][0] != -100].tolist() == [17, 128009]


@needs_real_tokenizers
def test_gpt2_slot_token_lies_outside_the_embedding_table():
    """GPT-2 has no reserved tokens: `<|soft_thought|>` is added as id 50257, beyond its 50257 embedding rows."""
    tokenizer = real("gpt2")
    tokens = select_thought_tokens(real("gpt2"), tokenizer)
    assert tokens.backbone_slot == "<|soft_thought|>" and tokens.backbone_slot_id == 50257
    torch.manual_seed(0)
    backbone = GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=1, n_head=2, n_positions=128)).eval()
    assistant = make_lm("plain", 50257, hidden_size=16)
    model = SoftCoTForCausalLM.from_assistant_and_backbone(
        assistant, backbone, num_thought_tokens=2, assistant_tokenizer=real("gpt2"), backbone_tokenizer=real("gpt2")
    )
    processor = SoftCoTProcessor(real("gpt2"), real("gpt2"), num_thought_tokens=2)
    batch = processor(["What is 1+1?", "What is two plus three?"])
    assert batch["input_ids"].max() == 50257 == backbone.get_input_embeddings().num_embeddings
    out = model.generate(**batch, max_new_tokens=3, do_sample=False)
    assert out.shape[0] == 2


SETTINGS = {
    "num_thought_tokens": 3,
    "assistant_template": "Think for {num_thought_tokens} tokens about: {question}",
    "backbone_template": "Q: {question}\nHints: {thoughts}",
    "use_chat_template": False,
    "assistant_response_prefix": "Sure.",
    "add_generation_prompt": False,
}


@pytest.fixture
def no_private_loaders(monkeypatch):
    """Make transformers' private processor loaders and the tokenizer's processor-class setter raise: saving and
    loading must go through public APIs only (transformers 5.25 reorganised exactly these)."""
    from transformers import PreTrainedTokenizerBase, ProcessorMixin

    def refuse(*args, **kwargs):
        raise AssertionError("a private transformers loader was called")

    for owner, name in (
        (ProcessorMixin, "_get_arguments_from_pretrained"),
        (ProcessorMixin, "_load_tokenizer_from_pretrained"),
        (ProcessorMixin, "_resolve_subprocessors"),
        (PreTrainedTokenizerBase, "_set_processor_class"),
    ):
        if hasattr(owner, name):
            monkeypatch.setattr(owner, name, refuse)


@pytest.mark.parametrize("with_assistant", [True, False], ids=["softcot", "cot_unk"])
def test_save_and_reload_keep_every_setting_through_public_apis_only(with_assistant, no_private_loaders, tmp_path):
    from transformers import AutoProcessor

    assistant = make_tokenizer("qwen") if with_assistant else None
    processor = SoftCoTProcessor(assistant, make_tokenizer("llama"), **SETTINGS)
    processor.save_pretrained(tmp_path)
    assert (tmp_path / "assistant_tokenizer").is_dir() == with_assistant
    reloaded = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(reloaded, SoftCoTProcessor)
    assert {name: getattr(reloaded, name) for name in SETTINGS} == SETTINGS
    assert (reloaded.assistant_tokenizer is None) == (not with_assistant)
    expected, again = processor(QUESTIONS, answers=["1", "2", "3"]), reloaded(QUESTIONS, answers=["1", "2", "3"])
    assert sorted(again) == sorted(expected)
    for key in expected:
        assert torch.equal(again[key], expected[key]), key


def test_reload_from_a_subfolder_with_a_setting_overridden(tmp_path):
    processor = SoftCoTProcessor(make_tokenizer("qwen"), make_tokenizer("llama"), **SETTINGS)
    processor.save_pretrained(tmp_path / "inner")
    reloaded = SoftCoTProcessor.from_pretrained(tmp_path, subfolder="inner", num_thought_tokens=5, dtype="ignored")
    assert reloaded.num_thought_tokens == 5 and reloaded.backbone_template == SETTINGS["backbone_template"]
    assert reloaded(QUESTIONS[:1])["input_ids"].tolist() == SoftCoTProcessor(
        make_tokenizer("qwen"), make_tokenizer("llama"), **{**SETTINGS, "num_thought_tokens": 5}
    )(QUESTIONS[:1])["input_ids"].tolist()


def test_a_folder_without_a_processor_says_what_is_missing(tmp_path):
    make_tokenizer("llama").save_pretrained(tmp_path)
    with pytest.raises(OSError, match="processor_config.json"):
        SoftCoTProcessor.from_pretrained(tmp_path)
