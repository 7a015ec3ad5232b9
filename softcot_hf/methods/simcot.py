"""SIM-CoT (Wei et al., arXiv 2509.20317; InternLM/SIM-CoT): Coconut whose continuous thoughts are supervised step by
step. While training, an auxiliary decoder must write each latent group's reasoning step from its thoughts
(`softcot_hf.training.step_supervision`); it is dropped from the artifact, which is a plain Coconut folder that
`eval`, `generate` and remote code load as Coconut's (with `save_step_decoder`, the decoder is also written to
`step_decoder/`, for `inspect_thoughts(..., step_decoder=...)`)."""

from pathlib import Path

from ..loading import load_lm
from ..training.method_arguments import SimCoTTrainingArguments
from ..training.simcot_training import (
    STEP_DECODER_DIR,
    SimCoTCurriculum,
    attach_step_supervision,
    collate_with_step_targets,
    copy_decoder,
    detach_step_supervision,
    step_supervised,
)
from .coconut import Coconut


class SimCoT(Coconut):
    name = "simcot"
    title = "Coconut + SIM-CoT"
    arguments = SimCoTTrainingArguments
    shardable = False  # the step decoder sits on the model while training; the artifact drops it

    def build(self, base, tokenizer, args):
        """Coconut's model with the step decoder attached (a copy of the base LM, or `args.step_decoder` loaded)."""
        model = super().build(base, tokenizer, args)
        if args.step_decoder == "copy":
            decoder = copy_decoder(model)
        else:
            decoder, _ = load_lm(args.step_decoder, "step decoder")
            if decoder.get_input_embeddings().weight.shape[0] < len(tokenizer):
                decoder.resize_token_embeddings(len(tokenizer))
        attach_step_supervision(model, decoder, tokenizer.eos_token_id, args.step_loss_reduction)
        return model

    def encoder(self, tokenizer, args) -> SimCoTCurriculum:
        coconut = super().encoder(tokenizer, args)
        return SimCoTCurriculum(tokenizer, coconut.settings, seed=args.seed)

    def collate(self, features: list[dict], pad_token_id: int) -> dict:
        """Coconut's batches, also carrying each example's step targets."""
        return collate_with_step_targets(features, pad_token_id)

    def trainer_class(self, base, args):
        return step_supervised(base, args.step_loss_weight)

    def artifact_model(self, model, tokenizer, output_dir: Path, args):
        """The Coconut model without its step decoder (written to `step_decoder/` with `save_step_decoder`)."""
        save_to = Path(output_dir) / STEP_DECODER_DIR if args.save_step_decoder else None
        return detach_step_supervision(model, tokenizer, save_to)
