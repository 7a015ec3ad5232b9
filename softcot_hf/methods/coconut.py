"""Coconut (Hao et al.): an LM fine-tuned with a curriculum to reason in continuous thoughts. The artifact is a
`CoconutForCausalLM` folder (merged, plus `adapter/` with LoRA) and its tokenizer."""

from ..modeling.modeling_coconut import CoconutForCausalLM
from ..training.coconut_curriculum import CoconutCurriculum, CurriculumSettings
from ..training.method_arguments import CoconutTrainingArguments
from .base import CurriculumMethod


class Coconut(CurriculumMethod):
    name = "coconut"
    title = "Coconut"
    arguments = CoconutTrainingArguments
    artifact_hint = "a Coconut folder or Hub id (the fine-tuned model and its tokenizer)"
    artifact_model_type = "coconut"
    write_latents = True  # False: the "w/o thoughts" ablation (no_thoughts)

    def build(self, base, tokenizer, args):
        """`CoconutForCausalLM.from_base`: `generate` runs the thoughts of the last stage (0 without latents)."""
        return CoconutForCausalLM.from_base(
            base,
            tokenizer,
            new_token_init=args.new_token_init,
            c_thought=args.c_thought,
            max_latent_stage=args.max_latent_stage,
            num_latent_thoughts=self.thoughts_at_stage(args, args.max_latent_stage),
        )

    def thoughts_at_stage(self, args, stage: int) -> int:
        """Continuous thoughts a question gets at `stage` of the curriculum (`pad_latent_to_max`'s count; 0 without
        latents): what `generate` runs when the model is evaluated at that stage."""
        return args.c_thought * min(stage, args.max_latent_stage) if self.write_latents else 0

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
