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


# The official structure (xuyige/SoftCoT@fa7f537 utils.py, pre_process_gsm8k: 230-253 backbone user turn, 263-274
# target, 295-301 chat rendering, 366-378 assistant turns, 603-621 slot offsets and labels), rebuilt here with stand-in
# wording: the official ids are `apply_chat_template(messages)`, i.e. the rendered text encoded without special tokens.
OFFICIAL_TOKENS = {  # placeholder / slot, start marker, end marker (train_softcot.py:64-79)
    "llama3": ("<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>"),
    "qwen2.5": ("<|endoftext|>", "<|box_start|>", "<|box_end|>"),
}
INSTRUCTION, NOTE, LEAD_IN = "Stand-in instruction.", "Stand-in note about the hints.", "Stand-in lead-in:"
ASSISTANT_INSTRUCTION = "Stand-in request for {num_thought_tokens} tokens."
STEPS, FINAL = ["a + b = 7", "so 7 apples"], "Stand-in final \\boxed{7}."


def _official_ids(tok, messages: list[dict]) -> list[int]:
    return _ids(tok, tok.apply_chat_template(messages, tokenize=False))


def _stand_in_preset() -> PromptPreset:
    return PromptPreset(
        assistant_template=ASSISTANT_INSTRUCTION + "\n\nThe problem: {question}",
        backbone_template=INSTRUCTION + "\n\nProblem: {question}\n\n" + NOTE + "\nHere are prompts: {thoughts}",
        assistant_response_prefix=LEAD_IN + " ",
        add_generation_prompt=False,
        close_assistant_turn=True,
        answer_template="Stand-in final \\boxed{{{answer}}}.",
        step_template="## Step {k}: {step}",
    )


@pytest.mark.parametrize("family", IDS)
@pytest.mark.parametrize("n", [4, 32])
def test_ids_equal_the_official_structure(family, n):
    tok = tokenizer(family)
    unk, bot, eot = OFFICIAL_TOKENS[family]
    unk_id = tok.convert_tokens_to_ids(unk)
    processor = SoftCoTProcessor(tok, tok, num_thought_tokens=n, **_stand_in_preset().processor_kwargs())
    user = f"{INSTRUCTION}\n\nProblem: {QUESTION}\n\n{NOTE}\nHere are prompts: {bot}{unk * n}{eot}"

    # the slots hold our slot token where the official code writes its placeholder (both are overwritten by the
    # projected thoughts, so only the id differs); everything else is the same token for token
    def ours_as_official(ids: list[int]) -> list[int]:
        return [unk_id if i == processor.thought_tokens.backbone_slot_id else i for i in ids]

    prompt = _official_ids(tok, [{"role": "user", "content": user}])  # evaluation: no generation prompt
    assert ours_as_official(processor.backbone_prompt_ids(QUESTION)) == prompt

    target = "".join(f"## Step {k}: {step}\n" for k, step in enumerate(STEPS, 1)) + FINAL
    whole = _official_ids(tok, [{"role": "user", "content": user}, {"role": "assistant", "content": target}])
    thought_end = len(prompt) - 1 - n - 1 - (family == "qwen2.5") + n  # utils.py:603-617
    official_labels = [-100] * (thought_end + 2) + whole[thought_end + 2 :]  # utils.py:620-621
    row = processor([QUESTION], answers=[target], return_tensors=None)
    assert ours_as_official(row["input_ids"][0]) == whole
    labels = row["labels"][0]
    if family == "qwen2.5":  # the official offsets also label the newline after the user turn's <|im_end|>
        assert official_labels[len(prompt) - 1] == whole[len(prompt) - 1] == 198 and labels[len(prompt) - 1] == -100
        official_labels[len(prompt) - 1] = -100
    assert labels == official_labels

    assistant_turns = [
        {
            "role": "user",
            "content": ASSISTANT_INSTRUCTION.format(num_thought_tokens=n) + f"\n\nThe problem: {QUESTION}",
        },
        {"role": "assistant", "content": f"{LEAD_IN} {unk * n}"},
    ]
    assert processor.assistant_prompt_ids(QUESTION) == _official_ids(tok, assistant_turns)


@pytest.mark.parametrize("family", IDS)
@pytest.mark.parametrize("preset", OFFICIAL_PRESETS)
def test_official_presets_have_the_official_structure(family, preset):
    tok, expected = tokenizer(family), IDS[family]
    processor = SoftCoTProcessor(tok, tok, num_thought_tokens=N, **OFFICIAL_PRESETS[preset].processor_kwargs())

    assistant = processor.assistant_prompt_ids(QUESTION)
    reply = _ids(tok, expected["reply"]) + _ids(tok, OFFICIAL_PRESETS[preset].assistant_response_prefix)
    # the N placeholders sit inside the assistant's reply, after the header and the lead-in, before its end of turn
    at = assistant.index(expected["placeholder"])
    assert assistant[at : at + N] == [expected["placeholder"]] * N and assistant.count(expected["placeholder"]) == N
    assert assistant[at - len(reply) : at] == reply
    assert assistant[at + N :] == expected["end_of_turn"] and QUESTION in tok.decode(assistant)

    backbone = processor.backbone_prompt_ids(QUESTION)
    start, slot, end = expected["markers"]
    at = backbone.index(start)
    assert backbone[at : at + N + 2] == [start, *[slot] * N, end] and backbone.count(slot) == N
    # no generation prompt: the user turn ends the prompt
    assert backbone[-len(expected["end_of_turn"]) :] == expected["end_of_turn"]
    assert not tok.decode(backbone).rstrip().endswith("assistant")


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
    settings = ("assistant_response_prefix", "add_generation_prompt", "close_assistant_turn", "backbone_template")
    assert [getattr(loaded, name) for name in settings] == [getattr(processor, name) for name in settings]
    assert loaded.close_assistant_turn is True
    assert loaded.assistant_prompt_ids(QUESTION) == processor.assistant_prompt_ids(QUESTION)
    assert loaded.backbone_prompt_ids(QUESTION) == processor.backbone_prompt_ids(QUESTION)


def test_official_presets_train_towards_numbered_steps_and_the_final_answer():
    from softcot_hf.training.softcot_data import training_target

    for name, family, answer, final in (
        ("gsm8k", "math", "18", "The answer is \\boxed{18}."),
        ("aqua", "choice", "B", "The answer is \\boxed{B}."),
        ("strategyqa", "yes_no", "no", "So the answer is no."),
    ):
        preset = OFFICIAL_PRESETS[family]
        target = training_target(
            get_task(name), ["think", "check"], answer, preset.answer_template, preset.step_template
        )
        assert target == f"## Step 1: think\n## Step 2: check\n{final}"
