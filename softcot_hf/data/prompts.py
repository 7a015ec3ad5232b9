"""The prompt each evaluated method gives the backbone, in one place.

SoftCoT-paper methods prompt an instruction-tuned backbone: an instruction that names the task's answer format, the
question, and for the latent/hinted methods a `{thoughts}` slot (the SoftCoT processor fills it with the thought
slots; Assist-CoT with the assistant's generated hints). Coconut-paper methods (`cot`, `no_cot`, `coconut`) are
fine-tuned on `question + "\\n"` followed by steps and `### answer`, so their prompt is the bare question.
"""

GENERIC_ANSWER_INSTRUCTION = "give the final answer at the end."
INSTRUCTION = "Solve the following question step by step, and {answer_instruction}"

_ZERO_SHOT = "{instruction}\n\nQuestion: {question}"
_WITH_THOUGHTS = "{instruction}\n\nQuestion: {question}\n\nHere are prompts: {thoughts}"
_FINE_TUNED = "{question}\n"

TEMPLATES = {
    "zero_shot_cot": _ZERO_SHOT,  # the frozen backbone, prompted to reason step by step
    "lora": _ZERO_SHOT,  # the same prompt, LoRA-tuned backbone
    "cot_unk": _WITH_THOUGHTS,  # thought slots hold trainable embeddings (prompt tuning), no assistant
    "assist_cot": _WITH_THOUGHTS,  # thought slots hold the assistant's generated hard-token hints
    "softcot": _WITH_THOUGHTS,  # thought slots hold projected soft thoughts
    "cot": _FINE_TUNED,
    "no_cot": _FINE_TUNED,
    "coconut": _FINE_TUNED,  # the model appends <bot> latents <eot> itself
}


def build_prompt(
    question: str,
    method: str = "zero_shot_cot",
    answer_instruction: str = GENERIC_ANSWER_INSTRUCTION,
    thoughts: str = "{thoughts}",
) -> str:
    """
    The backbone prompt of `method` for `question`. `thoughts` fills the slot of the methods that have one; its default
    keeps the literal `{thoughts}`, so `build_prompt("{question}", "softcot", ...)` is a `SoftCoTProcessor`
    `backbone_template`.
    """
    if method not in TEMPLATES:
        raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(TEMPLATES)}.")
    instruction = INSTRUCTION.format(answer_instruction=answer_instruction)
    return TEMPLATES[method].format(instruction=instruction, question=question, thoughts=thoughts)
