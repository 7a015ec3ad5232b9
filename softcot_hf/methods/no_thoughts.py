"""Coconut "w/o thought" (the Coconut paper's ablation): the same curriculum removes the steps stage by stage, but no
continuous thoughts replace them; the model answers right after `<|start-latent|><|end-latent|>`."""

from dataclasses import dataclass

from .coconut import Coconut, CoconutTrainingArguments


@dataclass
class NoThoughtsTrainingArguments(CoconutTrainingArguments):
    """Coconut's curriculum and optimisation, without latent tokens."""


class NoThoughts(Coconut):
    name = "no_thoughts"
    title = "Coconut w/o thoughts"
    arguments = NoThoughtsTrainingArguments
    write_latents = False
