"""The Trainer of a CODI run: the curriculum pipeline's Trainer class with CODI's loss (`codi_loss`) on the
teacher-then-student batches of `collate_codi`, one forward per batch (so DDP sees one forward per step). Logs the
three terms beside the loss."""

import torch
from transformers import Trainer

from .codi_loss import CodiLossSettings, codi_loss

TERMS = ("student_ce", "teacher_ce", "distillation")


def codi_trainer_class(base: type[Trainer], settings: CodiLossSettings) -> type[Trainer]:
    """A subclass of `base` (the pipeline's Trainer class) whose loss is CODI's with `settings`."""

    class CodiTrainer(base):
        loss_is_scaled_for_ga = False  # a per-batch mean: Trainer divides it by the accumulation steps
        codi_settings = settings

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs = dict(inputs)
            labels, positions = inputs.pop("labels"), inputs.pop("distill_positions")
            outputs = model(**inputs, output_hidden_states=True)
            parts = codi_loss(outputs.logits, outputs.hidden_states, labels, positions, self.codi_settings)
            if model.training:
                sums = getattr(self, "_codi_sums", None) or {term: [] for term in TERMS}
                for term in TERMS:
                    sums[term].append(parts[term].detach())
                self._codi_sums = sums
            return (parts["loss"], outputs) if return_outputs else parts["loss"]

        def log(self, logs: dict[str, float], *args, **kwargs) -> None:
            sums = getattr(self, "_codi_sums", None)
            if "loss" in logs and sums:
                for term, values in sums.items():
                    logs[term] = round(float(torch.stack(values).mean()), 4)
                self._codi_sums = None
            super().log(logs, *args, **kwargs)

    return CodiTrainer


__all__ = ["codi_trainer_class"]
