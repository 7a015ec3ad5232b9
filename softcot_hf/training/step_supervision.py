"""SIM-CoT's step-level supervision of continuous thoughts (Wei et al., arXiv 2509.20317), as a loss any latent model
can attach.

The thoughts of one example come in groups of `c_thought` (one group per latent reasoning step). Each group is the
prefix of an auxiliary decoder that must write that step's text: decoder input `[g_1 .. g_c, s_1 .. s_m]`, where
`g_i` are the group's thoughts (projected to the decoder's width when it differs) and `s_j` the step's tokens followed
by EOS, with cross-entropy on `s_1 .. s_m, EOS`. Which text each group gets is the data side's choice
(`SimCoTCurriculum`: one rationale step per group, the last possible group takes all remaining steps).

Reduction ("example", the official default): per group index g, the mean over the examples that have a group g of
their summed token cross-entropy; then the mean over group indices. "token": the mean over every labelled token.
The decoder trains jointly and is not part of the saved artifact (`softcot_hf.methods.simcot`).
"""

from typing import Literal

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel

Reduction = Literal["example", "token"]


class StepSupervision(torch.nn.Module):
    """The auxiliary step decoder and, where its width differs from the thoughts', a linear projection into it.

    `decoder`: a causal LM whose input embeddings embed the step tokens (the model's tokenizer); `thought_size`: the
    thoughts' width; `eos_token_id`: the token that ends every step text."""

    def __init__(
        self, decoder: PreTrainedModel, thought_size: int, eos_token_id: int, reduction: Reduction = "example"
    ):
        super().__init__()
        if reduction not in ("example", "token"):
            raise ValueError(f"step loss reduction must be 'example' or 'token', got {reduction!r}.")
        self.decoder = decoder
        width = decoder.get_input_embeddings().weight.shape[1]
        self.projection = torch.nn.Linear(thought_size, width) if width != thought_size else None
        self.reduction = reduction
        self.eos_token_id = eos_token_id
        # The batch's targets, from a trainer to the model's forward hook (simcot_training), for one forward.
        self.step_targets: list[list[list[int]]] | None = None

    def project(self, thoughts: torch.Tensor) -> torch.Tensor:
        """(..., thought_size) -> (..., decoder width)."""
        return thoughts if self.projection is None else self.projection(thoughts)

    def forward(
        self, thoughts: torch.Tensor | None, step_targets: list[list[list[int]]], c_thought: int
    ) -> torch.Tensor:
        """
        The mean step cross-entropy of a batch.

        thoughts: (batch, num_latents, thought_size), row b's first `len(step_targets[b]) * c_thought` entries used
            (None when the batch has no latents: `step_targets` must then hold no group).
        step_targets: per example, per group, the token ids of that group's step text (without EOS).
        Returns a scalar; with no group in the batch, 0 that still reaches every decoder parameter (so that
        distributed training finds a gradient for each).
        """
        rows = [(b, g) for b, groups in enumerate(step_targets) for g in range(len(groups))]
        if not rows:
            return sum(parameter.sum() for parameter in self.parameters()) * 0.0
        for b, groups in enumerate(step_targets):
            if thoughts is None or len(groups) * c_thought > thoughts.shape[1]:
                raise ValueError(
                    f"Example {b} has {len(groups)} step targets of {c_thought} thoughts each, but only "
                    f"{0 if thoughts is None else thoughts.shape[1]} thoughts: the step targets must come from the "
                    "layout of the latents."
                )
        eos_token_id = self.eos_token_id
        texts = [step_targets[b][g] + [eos_token_id] for b, g in rows]
        width = c_thought + max(map(len, texts))
        device = thoughts.device
        ids = torch.full((len(rows), width - c_thought), eos_token_id, dtype=torch.long, device=device)
        labels = torch.full((len(rows), width), -100, dtype=torch.long, device=device)
        mask = torch.zeros(len(rows), width, dtype=torch.long, device=device)
        for row, text in enumerate(texts):
            ids[row, : len(text)] = torch.tensor(text, device=device)
            labels[row, c_thought : c_thought + len(text)] = torch.tensor(text, device=device)
            mask[row, : c_thought + len(text)] = 1
        batch_index = torch.tensor([b for b, _ in rows], device=device)
        latent_index = torch.tensor([[g * c_thought + i for i in range(c_thought)] for _, g in rows], device=device)
        prefix = self.project(thoughts[batch_index[:, None], latent_index])  # (rows, c_thought, width)
        embeddings = self.decoder.get_input_embeddings()(ids)
        inputs = torch.cat([prefix.to(embeddings.dtype), embeddings], dim=1)
        logits = self.decoder(inputs_embeds=inputs, attention_mask=mask).logits
        token_loss = F.cross_entropy(
            logits[:, :-1].float().transpose(1, 2), labels[:, 1:], ignore_index=-100, reduction="none"
        )  # (rows, width - 1)
        if self.reduction == "token":
            return token_loss.sum() / (labels != -100).sum()
        per_row = token_loss.sum(-1)
        group_index = torch.tensor([g for _, g in rows], device=device)
        num_groups = int(group_index.max()) + 1
        sums = per_row.new_zeros(num_groups).index_add(0, group_index, per_row)
        counts = per_row.new_zeros(num_groups).index_add(0, group_index, torch.ones_like(per_row))
        return (sums / counts).mean()


__all__ = ["Reduction", "StepSupervision"]
