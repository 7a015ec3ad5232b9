"""iCoT-SI (Deng et al. 2024, "From Explicit CoT to Implicit CoT: Learning to Internalize CoT Step by Step"): full
fine-tuning on question, written rationale and answer while the first rationale tokens are removed, a few more at a
time (`softcot_hf.training.token_removal`). The artifact is the plain fine-tuned LM, prompted and decoded as No-CoT's:
it answers right after the question."""

from ..training.method_arguments import IcotSiTrainingArguments
from ..training.token_removal import TokenRemovalExamples, TokenRemovalSchedule, removal_training
from .base import CurriculumMethod


class IcotSi(CurriculumMethod):
    name = "icot_si"
    title = "iCoT-SI"
    arguments = IcotSiTrainingArguments
    staged = True  # it needs rationale steps to remove

    def encoder(self, tokenizer, args) -> TokenRemovalExamples:
        return TokenRemovalExamples(tokenizer)

    def schedule(self, dataset, tokenizer, args):
        """The collator that cuts each batch's rationales at its optimizer step, and the callback that clears the
        optimizer state whenever the removal grows."""
        schedule = TokenRemovalSchedule(
            tokens_removed_per_epoch=args.tokens_removed_per_epoch,
            smoothing_lambda=args.removal_smoothing_lambda,
            remove_all_beyond=args.remove_all_beyond,
            seed=args.seed,
        )
        return removal_training(tokenizer, dataset.examples, schedule, args)
