"""Coconut "w/o thought" (the Coconut paper's ablation): the same curriculum removes the steps stage by stage, but no
continuous thoughts replace them; the model answers right after `<|start-latent|><|end-latent|>`. It takes Coconut's
arguments with method="no_thoughts"."""

from .coconut import Coconut


class NoThoughts(Coconut):
    name = "no_thoughts"
    title = "Coconut w/o thoughts"
    write_latents = False
