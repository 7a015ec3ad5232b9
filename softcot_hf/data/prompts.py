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
    Both prompts of a SoftCoT model, as `SoftCoTProcessor` takes them.

    Args:
        assistant_template: the assistant's user turn, with `{question}` and `{num_thought_tokens}`.
        backbone_template: the backbone's user turn, with `{question}` and `{thoughts}` (markers and slots).
        assistant_response_prefix: text that opens the assistant's reply, before its N placeholders ("" puts them
            right after the generation prompt).
        add_generation_prompt: end the backbone's prompt with the chat template's generation prompt.
        answer_template: how training targets write the final answer, with `{answer}` (None: the task's own
            "The answer is ..." sentence).
    """

    assistant_template: str
    backbone_template: str
    assistant_response_prefix: str = ""
    add_generation_prompt: bool = True
    answer_template: str | None = None

    def processor_kwargs(self) -> dict:
        """The fields `SoftCoTProcessor` takes."""
        return {key: value for key, value in asdict(self).items() if key != "answer_template"}


# The official SoftCoT prompts' structure in our words: a task-family instruction on each side, the assistant's
# placeholders inside its reply after a lead-in, the backbone asked for numbered steps and a boxed answer (training
# targets end with one too), and no generation prompt after the backbone's turn (the official test prompt has none).
# Templates are filled with `str.format`: literal braces are doubled.
_OFFICIAL_FAMILIES = {  # family: (what the assistant is told the problem is, what the backbone is asked to box)
    "math": ("a math word problem", 'the final number as "The answer is \\boxed{{N}}."'),
    "choice": ("a multiple-choice problem", 'the letter of the right option as "The answer is \\boxed{{X}}."'),
    "yes_no": ("a yes-or-no question", '"The answer is \\boxed{{yes}}." or "The answer is \\boxed{{no}}."'),
}
OFFICIAL_PRESETS = {
    family: PromptPreset(
        assistant_template=(
            f"You help a larger language model with {problem}. Do not solve it yourself: write "
            "{num_thought_tokens} tokens of hints it can use.\n\nProblem: {question}"
        ),
        backbone_template=(
            f'Work through the problem step by step, one step per line as "Step k: ...", and end with {answer}'
            "\n\nProblem: {question}\n\nHints from a helper model: {thoughts}"
        ),
        assistant_response_prefix="Hints for the solver:",
        add_generation_prompt=False,
        answer_template="The answer is \\boxed{{{answer}}}.",
    )
    for family, (problem, answer) in _OFFICIAL_FAMILIES.items()
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
