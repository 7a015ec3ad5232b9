"""Coconut (Hao et al.): an LM fine-tuned with a curriculum to reason in continuous thoughts. The artifact is a
`CoconutForCausalLM` folder (merged, plus `adapter/` with LoRA) and its tokenizer."""

from dataclasses import dataclass

from ..modeling.modeling_coconut import CoconutForCausalLM
from ..training.arguments import CurriculumTrainingArguments
from ..training.coconut_curriculum import CoconutCurriculum, CurriculumSettings
from .base import CurriculumMethod


@dataclass
class CoconutTrainingArguments(CurriculumTrainingArguments):
    """Coconut training: the paper's GPT-2 / ProsQA run by default."""


class Coconut(CurriculumMethod):
    name = "coconut"
    title = "Coconut"
    arguments = CoconutTrainingArguments
    artifact_hint = "a Coconut folder or Hub id (the fine-tuned model and its tokenizer)"
    artifact_model_type = "coconut"
    write_latents = True  # False: the "w/o thoughts" ablation (no_thoughts)

    def build(self, base, tokenizer, args):
        """`CoconutForCausalLM.from_base`: `generate` runs `c * max_latent_stage` thoughts (0 without latents)."""
        num_latent_thoughts = args.c_thought * args.max_latent_stage if self.write_latents else 0
        return CoconutForCausalLM.from_base(
            base,
            tokenizer,
            c_thought=args.c_thought,
            max_latent_stage=args.max_latent_stage,
            num_latent_thoughts=num_latent_thoughts,
        )

    def encoder(self, tokenizer, args) -> CoconutCurriculum:
        settings = CurriculumSettings(
            c_thought=args.c_thought,
            max_latent_stage=args.max_latent_stage,
            pad_latent_to_max=args.pad_latent_to_max,
            uniform_prob=args.uniform_prob,
        )
        return CoconutCurriculum(tokenizer, settings, seed=args.seed, write_latents=self.write_latents)

    def trainable_token_ids(self, model: CoconutForCausalLM) -> list[int]:
        config = model.config
        return [config.start_latent_token_id, config.end_latent_token_id, config.latent_token_id]
