"""CODI (Shen et al., EMNLP 2025, arXiv 2502.21074): continuous thoughts learned by self-distillation. One model is
the teacher (cross-entropy on question, written steps and answer) and the student (question, K continuous thoughts,
answer); the student's hidden states at the token before the answer are pulled towards the teacher's, stop-gradient,
across layers. The student at inference is Coconut with `latent_projection="mlp"` (an MLP + LayerNorm between the
fed-back state and the next input embedding), so the artifact is a `CoconutForCausalLM` folder (merged, plus
`adapter/` with LoRA) and its tokenizer, evaluated as Coconut's.

Implemented from the paper's text alone: the official repository has no licence and its code was not read. Where the
text we could read leaves a choice open, ours is said where it is made: the projection's layer order
(`modeling/latent_projection.py`), the mean over distilled layers and the per-layer std (`training/codi_loss.py`),
the answer marker `###` as the distilled token and no curriculum (`training/codi_data.py`).
"""

from ..modeling.modeling_coconut import CoconutForCausalLM
from ..training.codi_data import CodiExamples, collate_codi
from ..training.codi_loss import CodiLossSettings
from ..training.codi_training import codi_trainer_class
from ..training.method_arguments import CodiTrainingArguments
from .base import CurriculumMethod
from .coconut import Coconut


class Codi(CurriculumMethod):
    name = "codi"
    title = "CODI"
    arguments = CodiTrainingArguments
    artifact_hint = "a CODI folder or Hub id (a Coconut model with its latent projection, and its tokenizer)"
    artifact_model_type = "coconut"
    staged = False  # teacher and student train together from the first step

    def build(self, base, tokenizer, args):
        """`CoconutForCausalLM.from_base` with the latent projection; `generate` runs K thoughts."""
        return CoconutForCausalLM.from_base(
            base,
            tokenizer,
            new_token_init=args.new_token_init,
            max_latent_stage=args.num_latent_thoughts,
            num_latent_thoughts=args.num_latent_thoughts,
            latent_projection=None if args.latent_projection == "none" else args.latent_projection,
        )

    def encoder(self, tokenizer, args) -> CodiExamples:
        return CodiExamples(tokenizer, args.num_latent_thoughts)

    def collate(self, features: list[dict], pad_token_id: int) -> dict:
        return collate_codi(features, pad_token_id)

    def trainer_class(self, base, args):
        layers = None if args.distill_layers is None else tuple(args.distill_layers)
        return codi_trainer_class(base, CodiLossSettings(args.distill_weight, args.teacher_weight, layers))

    trainable_token_ids = Coconut.trainable_token_ids  # the three latent-marker rows
