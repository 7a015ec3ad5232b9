"""No-CoT (the Coconut paper's baseline): the LM fine-tuned to answer right after the question (CoT's arguments with
method="no_cot")."""

from .cot import CoT


class NoCoT(CoT):
    name = "no_cot"
    title = "No-CoT"
    with_steps = False
