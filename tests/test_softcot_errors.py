"""Bad input gets a clear error that names the fix."""

import pytest
import torch
from conftest import QUESTIONS, build
from transformers import AutoModelForCausalLM

from softcot_hf import SoftCoTConfig, SoftCoTForCausalLM, SoftCoTProcessor


@pytest.fixture(scope="module")
def llama_pair(pair_dirs):
    return build(pair_dirs, num_thought_tokens=3)


def test_wrong_number_of_assistant_placeholders(llama_pair):
    model, processor = llama_pair
    batch = processor(QUESTIONS[:2])
    batch["assistant_input_ids"] = batch["assistant_input_ids"][:, :-1]
    batch["assistant_attention_mask"] = batch["assistant_attention_mask"][:, :-1]
    with pytest.raises(
        ValueError, match=r"exactly num_thought_tokens=3 placeholder tokens.*\(0, 2\).*SoftCoTProcessor"
    ):
        model(**batch)


def test_wrong_number_of_backbone_slots(llama_pair):
    model, processor = llama_pair
    batch = processor(QUESTIONS[:1])
    ids = batch["input_ids"].clone()
    ids[0, (ids[0] == model.config.thought_token_id).nonzero()[0]] = 5
    with pytest.raises(ValueError, match=r"exactly num_thought_tokens=3 thought slots.*\(0, 2\)"):
        model(**{**batch, "input_ids": ids})


def test_assistant_inputs_missing_at_prefill(llama_pair):
    model, processor = llama_pair
    batch = processor(QUESTIONS[:1])
    with pytest.raises(ValueError, match="no assistant_input_ids were given.*processor's whole output"):
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    with pytest.raises(ValueError, match="no assistant_input_ids"):
        model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], max_new_tokens=2)


def test_assistant_and_backbone_batch_sizes_differ(llama_pair):
    model, processor = llama_pair
    one, two = processor(QUESTIONS[:1]), processor(QUESTIONS[:2])
    with pytest.raises(ValueError, match="assistant inputs have 2 rows but input_ids has 1"):
        model(**{**one, "assistant_input_ids": two["assistant_input_ids"], "assistant_attention_mask": None})


def test_projection_for_other_dimensions(llama_pair, pair_dirs, tmp_path):
    model, _ = llama_pair
    model.save_pretrained(tmp_path)
    wide_backbone = AutoModelForCausalLM.from_pretrained(pair_dirs["llama_backbone_wide"])
    with pytest.raises(ValueError, match=r"does not fit these models.*hidden size 48.*trained for"):
        SoftCoTForCausalLM.from_pretrained(tmp_path, backbone=wide_backbone)


def test_unknown_projection_type():
    with pytest.raises(ValueError, match=r"Unknown projection_type 'conv'.*\('linear', 'mlp'\)"):
        SoftCoTConfig(projection_type="conv")


def test_missing_model_reference(llama_pair, tmp_path):
    model, _ = llama_pair
    config = SoftCoTConfig.from_dict(model.config.to_dict())
    config.assistant_model_name_or_path = None
    config.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="does not name the assistant model.*pass `assistant=`"):
        SoftCoTForCausalLM.from_pretrained(tmp_path)


def test_model_without_a_path_needs_its_tokenizer(pair_dirs):
    from tiny import make_lm

    with pytest.raises(ValueError, match="no name_or_path.*`assistant_tokenizer=`"):
        SoftCoTForCausalLM.from_assistant_and_backbone(make_lm("llama", 64), pair_dirs["llama_backbone"])


def test_backbone_template_without_thoughts(llama_pair):
    _, processor = llama_pair
    with pytest.raises(ValueError, match=r"must contain '\{thoughts\}'"):
        SoftCoTProcessor(processor.assistant_tokenizer, processor.backbone_tokenizer, backbone_template="{question}")


def test_answers_and_questions_differ_in_number(llama_pair):
    _, processor = llama_pair
    with pytest.raises(ValueError, match="3 questions but 1 answers"):
        processor(QUESTIONS, answers=["5"])


def test_num_thought_tokens_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        SoftCoTConfig(num_thought_tokens=0)


def test_assistant_prompt_without_placeholders(llama_pair):
    model, processor = llama_pair
    batch = processor(QUESTIONS[:1])
    batch["assistant_input_ids"] = torch.where(
        batch["assistant_input_ids"] == model.config.assistant_placeholder_token_id, 5, batch["assistant_input_ids"]
    )
    with pytest.raises(ValueError, match=r"\(0, 0\)"):
        model.get_soft_thoughts(batch["assistant_input_ids"], batch["assistant_attention_mask"])
