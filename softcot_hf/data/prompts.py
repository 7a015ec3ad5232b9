"""The prompt templates the methods give the backbone; each method module names the one it uses.

SoftCoT-paper methods prompt an instruction-tuned backbone: an instruction that names the task's answer format, the
question, and for the latent/hinted methods a `{thoughts}` slot (the SoftCoT processor fills it with the thought
slots; Assist-CoT with the assistant's generated hints). Coconut-paper methods (`cot`, `no_cot`, `coconut`) are
fine-tuned on `question + "\\n"` followed by steps and `### answer`, so their prompt is the bare question.
"""

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
