"""The prompt templates the methods give the backbone (each method module names the one it uses), and SoftCoT's prompt
presets (both sides: `PromptPreset`, `prompt_preset`).

SoftCoT-paper methods prompt an instruction-tuned backbone: an instruction that names the task's answer format, the
question, and for the latent/hinted methods a `{thoughts}` slot (the SoftCoT processor fills it with the thought
slots; Assist-CoT with the assistant's generated hints). Coconut-paper methods (`cot`, `no_cot`, `coconut`) are
fine-tuned on `question + "\\n"` followed by steps and `### answer`, so their prompt is the bare question.
"""

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..settings_files import check_keys, read_config

GENERIC_ANSWER_INSTRUCTION = "give the final answer at the end."
INSTRUCTION = "Solve the following question step by step, and {answer_instruction}"

ZERO_SHOT = "{instruction}\n\nQuestion: {question}"
WITH_THOUGHTS = "{instruction}\n\nQuestion: {question}\n\nHere are prompts: {thoughts}"
FINE_TUNED = "{question}\n"


def build_prompt(
    question: str,
    template: str = ZERO_SHOT,
    answer_instruction: str = GENERIC_ANSWER_INSTRUCTION,
    thoughts: str = "{thoughts}",
) -> str:
    """
    `template` (one of the templates above, or your own with `{instruction}`, `{question}` and optionally
    `{thoughts}`) filled for `question`. `thoughts` fills the slot of the templates that have one; its default keeps
    the literal `{thoughts}`, so `build_prompt("{question}", WITH_THOUGHTS, ...)` is a `SoftCoTProcessor`
    `backbone_template`.
    """
    if "{question}" not in template:
        raise ValueError(
            f"{template!r} is not a prompt template (it has no {{question}}). Pass one of softcot_hf.data.prompts' "
            "templates or your own; for a method's prompt use `get_method(name).build_prompt(task, question)`."
        )
    instruction = INSTRUCTION.format(answer_instruction=answer_instruction)
    return template.format(instruction=instruction, question=question, thoughts=thoughts)


@dataclass(frozen=True)
class PromptPreset:
    """
    Both prompts of a SoftCoT model, as `SoftCoTProcessor` takes them, and how its training targets are written.

    Args:
        assistant_template: the assistant's user turn, with `{question}` and `{num_thought_tokens}`.
        backbone_template: the backbone's user turn, with `{question}` and `{thoughts}` (markers and slots).
        assistant_response_prefix: text that opens the assistant's reply, before its N placeholders ("" puts them
            right after the generation prompt).
        add_generation_prompt: end the backbone's prompt with the chat template's generation prompt (False: the user
            turn ends it, and training targets are the assistant's whole turn).
        close_assistant_turn: close the assistant's reply with its end of turn after the placeholders.
        answer_template: how training targets write the final answer, with `{answer}` (None: the task's own
            "The answer is ..." sentence).
        step_template: how training targets write rationale step `k`, with `{k}` and `{step}` (None: as it is).
    """

    assistant_template: str
    backbone_template: str
    assistant_response_prefix: str = ""
    add_generation_prompt: bool = True
    close_assistant_turn: bool = False
    answer_template: str | None = None
    step_template: str | None = None

    def processor_kwargs(self) -> dict:
        """The fields `SoftCoTProcessor` takes."""
        targets = ("answer_template", "step_template")
        return {key: value for key, value in asdict(self).items() if key not in targets}


# The official SoftCoT prompts' structure (xuyige/SoftCoT@fa7f537 utils.py: pre_process_gsm8k: math; pre_process_aqua
# and pre_process_du: multiple choice; pre_process_strategy_qa: yes/no), in our own words: a task-family
# instruction on each side; the assistant's placeholders inside a whole reply turn, after a lead-in and before its end
# of turn; the backbone's user turn ends the prompt (no generation prompt), so training targets are the assistant's
# whole turn: "## Step k: ..." lines, then the final answer (boxed for math and choice). The official wording is not
# reproduced here (its licence is non-commercial): a user who has it can pass it as a preset file (`prompt_preset`).
# Templates are filled with `str.format`: literal braces are doubled.
_STEPS = 'Keep a short problem short; for a longer one write one step per line, as "## Step 1: ...", "## Step 2: ...".'
_HELPER_NOTE = "A smaller helper model left some hints below; use them if they help and ignore them if they do not."
_BOXED_ANSWER = "The answer is \\boxed{{{answer}}}."


def _official(problem: str, backbone_template: str, answer_template: str) -> PromptPreset:
    return PromptPreset(
        assistant_template=(
            f"Another language model will solve {problem}. Do not solve it yourself: give it {{num_thought_tokens}} "
            "tokens of the most useful facts, quantities and operations, most important first, without full "
            "sentences.\n\nThe problem: {question}"
        ),
        backbone_template=backbone_template,
        assistant_response_prefix="Useful tokens for the solver: ",
        add_generation_prompt=False,
        close_assistant_turn=True,
        answer_template=answer_template,
        step_template="## Step {k}: {step}",
    )


OFFICIAL_PRESETS = {
    "math": _official(
        "a math word problem",
        f"Work out the math problem below. {_STEPS} Close with the sentence "
        '"The answer is \\boxed{{N}}." where N is only the final number.\n\n'
        f"Problem: {{question}}\n\n{_HELPER_NOTE}\nHints: {{thoughts}}",
        _BOXED_ANSWER,
    ),
    "choice": _official(
        "a multiple-choice problem",
        "Work out the multiple-choice problem below; exactly one of its lettered options is right. "
        f"{_STEPS} "
        'Close with the sentence "The answer is \\boxed{{X}}." where X is only the letter of that option.'
        f"\n\nProblem: {{question}}\n\n{_HELPER_NOTE}\nHints: {{thoughts}}",
        _BOXED_ANSWER,
    ),
    "yes_no": _official(
        "a yes-or-no question",
        "Answer this question with yes or no: {question}\n\nHints that may help: {thoughts}\n\nSo, yes or no?",
        "So the answer is {answer}.",
    ),
}


def prompt_preset(name_or_path: str, family: str) -> PromptPreset:
    """`"official"`: the preset of the task `family` ("math", "choice", "yes_no"); else a YAML or JSON file with the
    fields of `PromptPreset`, to supply any exact text."""
    if name_or_path == "official":
        if family not in OFFICIAL_PRESETS:
            raise ValueError(
                f"No official prompt preset for {family!r} tasks; there are {', '.join(OFFICIAL_PRESETS)}."
            )
        return OFFICIAL_PRESETS[family]
    if not Path(name_or_path).is_file():
        raise FileNotFoundError(f"prompt preset {name_or_path!r} is neither 'official' nor a YAML/JSON file.")
    values = read_config(name_or_path, "prompt preset")
    check_keys(f"The prompt preset {name_or_path}", values, (field.name for field in fields(PromptPreset)))
    return PromptPreset(**values)
