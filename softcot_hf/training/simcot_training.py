"""SIM-CoT on the curriculum pipeline: Coconut's data with each latent group's step text, a Trainer that adds the
step loss (`step_supervision.StepSupervision`), and the artifact without the step decoder.

During training the `StepSupervision` module sits on the Coconut model as the submodule `step_supervision`, so the
optimizer, checkpoints and resuming see it as one more part of the model; `detach_step_supervision` takes it off
before the artifact is written (a plain Coconut folder), and writes it to `step_decoder/` when asked.
"""

from pathlib import Path

from safetensors.torch import save_file
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer

from .coconut_curriculum import CoconutCurriculum, collate_right_padded
from .step_supervision import StepSupervision

ATTRIBUTE = "step_supervision"  # the submodule of the Coconut model that holds the decoder while training
STEP_DECODER_DIR = "step_decoder"
PROJECTION_FILE = "step_projection.safetensors"


class SimCoTCurriculum(CoconutCurriculum):
    """`CoconutCurriculum` whose examples also carry `step_targets`: per latent group (c_thought latents each), the
    token ids of the text it must decode. Group g < max_latent_stage - 1 gets step g; the group at max_latent_stage -
    1 gets step g and all the steps after it, joined by newlines; a group past the example's steps (padded latents)
    gets the answer line ("### answer"), as the official code's "pseudo thought"."""

    def step_texts(self, example: dict, num_groups: int) -> list[str]:
        steps, last = list(example["steps"]), self.settings.max_latent_stage - 1
        texts = []
        for group in range(num_groups):
            chosen = steps[group:] if group == last else steps[group : group + 1]
            texts.append("\n".join(chosen) if chosen else "### " + str(example["answer"]))
        return texts

    def encode(self, example: dict, stage: int, epoch: int = 0, index: int = 0) -> dict:
        encoded = super().encode(example, stage, epoch, index)
        _, num_latents = self.layout(list(example["steps"]), self.scheduled_stage(stage, epoch, index))
        texts = self.step_texts(example, num_latents // self.settings.c_thought)
        encoded["step_targets"] = [self._ids(text) for text in texts]
        return encoded


def collate_with_step_targets(features: list[dict], pad_token_id: int) -> dict:
    """`collate_right_padded` plus `step_targets`: the batch's per-example lists of per-group token ids."""
    step_targets = [feature["step_targets"] for feature in features]
    rest = [{key: value for key, value in feature.items() if key != "step_targets"} for feature in features]
    return {**collate_right_padded(rest, pad_token_id), "step_targets": step_targets}


def attach_step_supervision(
    model: PreTrainedModel, decoder: PreTrainedModel, eos_token_id: int, reduction: str = "example"
) -> StepSupervision:
    """Put a `StepSupervision` over `decoder` on the Coconut `model` (as `model.step_supervision`)."""
    supervision = StepSupervision(decoder, model.config.get_text_config().hidden_size, eos_token_id, reduction)
    setattr(model, ATTRIBUTE, supervision)
    supervision.hook = model.register_forward_hook(_step_loss_in_forward)
    return supervision


def _step_loss_in_forward(model, args, outputs):
    """Forward hook of a model carrying a `StepSupervision`: when `step_targets` are pending (set by the Trainer for
    this training forward), compute the step loss from the forward's thoughts and return the outputs as a dict with
    `step_loss` added: inside the forward and reachable from its outputs, as DDP needs for the decoder's parameters."""
    supervision = getattr(model, ATTRIBUTE)
    targets, supervision.step_targets = supervision.step_targets, None
    if targets is not None:
        targets = targets if outputs.thoughts is not None else []  # no latents (stage 0): nothing to decode
        # A plain dict: a ModelOutput class takes no new field through DDP's output flattening.
        return {**outputs, "step_loss": supervision(outputs.thoughts, targets, model.config.c_thought)}
    return outputs


def detach_step_supervision(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, save_to: Path | None = None
) -> PreTrainedModel:
    """Take the step decoder off `model` (in place) and return it, a plain Coconut model; with `save_to`, write the
    decoder there (a causal LM folder with the tokenizer, plus `step_projection.safetensors` when it has one)."""
    supervision = getattr(model, ATTRIBUTE, None)
    if supervision is None:
        return model
    delattr(model, ATTRIBUTE)
    supervision.hook.remove()
    if save_to is not None:
        supervision.decoder.save_pretrained(save_to)
        tokenizer.save_pretrained(save_to)
        if supervision.projection is not None:
            weights = {name: value.detach().cpu() for name, value in supervision.projection.state_dict().items()}
            save_file(weights, str(Path(save_to) / PROJECTION_FILE))
    return model


class StepSupervisedTrainer(Trainer):
    """A mixin over the curriculum's Trainer: loss = the Coconut LM loss + `step_loss_weight` x the step loss of the
    batch's continuous thoughts. `step_loss` and `lm_loss` are logged beside `loss`."""

    step_loss_weight: float = 1.0

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        supervision = getattr(self.accelerator.unwrap_model(model), ATTRIBUTE)
        supervision.step_targets = inputs.pop("step_targets")  # the forward hook computes the step loss
        loss, outputs = super().compute_loss(
            model, {**inputs, "output_thoughts": True}, return_outputs=True, num_items_in_batch=num_items_in_batch
        )
        step_loss = outputs["step_loss"]
        scaled = getattr(self, "loss_is_scaled_for_ga", None)  # Trainer's own decision where it has one (5.x)
        if scaled is None:
            scaled = (self.model_accepts_loss_kwargs and num_items_in_batch is not None) or self.compute_loss_func
        if scaled:
            # Trainer divides no more: the LM loss is a share of the accumulated batch's token sum, and the step loss
            # (a mean over this micro-batch) must be divided by the accumulation steps here.
            step_loss = step_loss / self.current_gradient_accumulation_steps
        total = loss + self.step_loss_weight * step_loss
        return (total, outputs) if return_outputs else total


def step_supervised(trainer_class: type[Trainer], weight: float) -> type[Trainer]:
    """`trainer_class` with `StepSupervisedTrainer`'s loss at `weight`."""
    name = f"StepSupervised{trainer_class.__name__}"
    return type(name, (StepSupervisedTrainer, trainer_class), {"step_loss_weight": weight})


def copy_decoder(model: PreTrainedModel) -> PreTrainedModel:
    """A trainable copy of the Coconut model's language model (the default step decoder)."""
    import copy

    decoder = copy.deepcopy(model.language_model)
    decoder.requires_grad_(True)
    return decoder


__all__ = [
    "ATTRIBUTE",
    "PROJECTION_FILE",
    "STEP_DECODER_DIR",
    "SimCoTCurriculum",
    "StepSupervisedTrainer",
    "attach_step_supervision",
    "collate_with_step_targets",
    "copy_decoder",
    "detach_step_supervision",
    "step_supervised",
]
