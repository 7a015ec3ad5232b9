"""SoftCoT prompt presets rendered with the real LLaMA-3 and Qwen2.5 tokenizers: where placeholders, markers and slots
land (the placeholders inside the assistant's reply after its lead-in; the slots between the markers in the
backbone's user turn), generation prompt on and off, presets from a file, and a save/load round trip."""

from functools import cache
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from softcot_hf import SoftCoTProcessor
from softcot_hf.data import get_task
from softcot_hf.data.prompts import OFFICIAL_PRESETS, PromptPreset, prompt_preset

TOKENIZERS = Path(__file__).resolve().parents[2] / "shared" / "tokenizers"
pytestmark = pytest.mark.skipif(not TOKENIZERS.is_dir(), reason=f"real tokenizers not found at {TOKENIZERS}")

# family: the assistant's reply header, placeholder, backbone start marker, slot, end marker, end of the user turn
IDS = {
    "llama3": {
        "reply": "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "placeholder": 128001,  # <|end_of_text|>
        "markers": (128002, 128005, 128003),  # <|reserved_special_token_0|>, _2 (slot), _1
        "end_of_turn": [128009],  # <|eot_id|>
    },
    "qwen2.5": {
        "reply": "<|im_start|>assistant\n",
        "placeholder": 151643,  # <|endoftext|>
        "markers": (151648, 151654, 151649),  # <|box_start|>, <|vision_pad|> (slot), <|box_end|>
        "end_of_turn": [151645, 198],  # <|im_end|>\n
    },
}
N = 4
QUESTION = "Tom has 3 apples and buys 4 more. How many apples does he have?"


@cache
def tokenizer(family: str):
    return AutoTokenizer.from_pretrained(str(TOKENIZERS / family))


def _ids(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("family", IDS)
@pytest.mark.parametrize("preset", OFFICIAL_PRESETS)
def test_official_presets_place_thoughts_as_the_official_code_does(family, preset):
    tok, expected = tokenizer(family), IDS[family]
    processor = SoftCoTProcessor(tok, tok, num_thought_tokens=N, **OFFICIAL_PRESETS[preset].processor_kwargs())

    assistant = processor.assistant_prompt_ids(QUESTION)
    reply = _ids(tok, expected["reply"]) + _ids(tok, "Hints for the solver:")
    # the N placeholders end the prompt, right after the reply header and the lead-in: inside the assistant's reply
    assert assistant[-N:] == [expected["placeholder"]] * N and assistant.count(expected["placeholder"]) == N
    assert assistant[-N - len(reply) : -N] == reply
    assert "Do not solve it yourself" in tok.decode(assistant) and QUESTION in tok.decode(assistant)

    backbone = processor.backbone_prompt_ids(QUESTION)
    start, slot, end = expected["markers"]
    at = backbone.index(start)
    assert backbone[at : at + N + 2] == [start, *[slot] * N, end] and backbone.count(slot) == N
    # no generation prompt: the user turn (question, then the hints) is the end of the prompt
    assert backbone[-len(expected["end_of_turn"]) :] == expected["end_of_turn"]
    assert backbone[at + N + 2 :] == expected["end_of_turn"]
    assert "\\boxed{" in tok.decode(backbone) and not tok.decode(backbone).rstrip().endswith("assistant")


@pytest.mark.parametrize("family", IDS)
def test_default_prompts_keep_placeholders_after_the_generation_prompt(family):
    tok, expected = tokenizer(family), IDS[family]
    processor = SoftCoTProcessor(tok, tok, num_thought_tokens=N)
    assistant = processor.assistant_prompt_ids(QUESTION)
    reply = _ids(tok, expected["reply"])
    assert assistant[-N:] == [expected["placeholder"]] * N and assistant[-N - len(reply) : -N] == reply
    backbone = processor.backbone_prompt_ids(QUESTION)
    assert backbone[-len(reply) :] == reply  # the generation prompt ends the backbone's prompt
    start, slot, end = expected["markers"]
    at = backbone.index(start)
    assert backbone[at : at + N + 2] == [start, *[slot] * N, end]
    assert backbone[at + N + 2 : -len(reply)] == expected["end_of_turn"]


def test_presets_by_task_family_and_from_a_file(tmp_path):
    assert prompt_preset("official", get_task("gsm8k").answer.family) is OFFICIAL_PRESETS["math"]
    assert prompt_preset("official", get_task("date_understanding").answer.family) is OFFICIAL_PRESETS["choice"]
    assert prompt_preset("official", get_task("strategyqa").answer.family) is OFFICIAL_PRESETS["yes_no"]
    with pytest.raises(ValueError, match="No official prompt preset for 'text'"):
        prompt_preset("official", get_task("prosqa").answer.family)
    exact = tmp_path / "prompts.yaml"
    exact.write_text(
        "assistant_template: 'Q: {question} ({num_thought_tokens} hints)'\n"
        "backbone_template: 'Q: {question} H: {thoughts}'\n"
        "assistant_response_prefix: 'Sure:'\n"
        "add_generation_prompt: false\n"
    )
    preset = prompt_preset(str(exact), "math")
    assert preset == PromptPreset(
        "Q: {question} ({num_thought_tokens} hints)", "Q: {question} H: {thoughts}", "Sure:", False
    )
    with pytest.raises(FileNotFoundError, match="neither 'official'"):
        prompt_preset(str(tmp_path / "missing.yaml"), "math")


def test_preset_settings_survive_save_and_load(tmp_path):
    tok = tokenizer("qwen2.5")
    processor = SoftCoTProcessor(tok, tok, num_thought_tokens=N, **OFFICIAL_PRESETS["choice"].processor_kwargs())
    processor.save_pretrained(tmp_path)
    loaded = SoftCoTProcessor.from_pretrained(tmp_path)
    assert loaded.assistant_response_prefix == "Hints for the solver:" and loaded.add_generation_prompt is False
    assert loaded.assistant_prompt_ids(QUESTION) == processor.assistant_prompt_ids(QUESTION)
    assert loaded.backbone_prompt_ids(QUESTION) == processor.backbone_prompt_ids(QUESTION)


def test_official_presets_train_towards_a_boxed_answer():
    from softcot_hf.training import training_target

    for name, family, answer in (("gsm8k", "math", "18"), ("aqua", "choice", "B"), ("strategyqa", "yes_no", "no")):
        template = OFFICIAL_PRESETS[family].answer_template
        target = training_target(get_task(name), ["Step 1: think."], answer, template)
        assert target == f"Step 1: think.\nThe answer is \\boxed{{{answer}}}."
