"""Best-on-validation checkpoint selection for the curriculum pipeline, as the official Coconut runs do it.

After every epoch the official `run.py` generates greedily on the validation split (batch 1, the epoch's number of
continuous thoughts) and scores the answer; the CoT run keeps a checkpoint only when that accuracy improves
(`save_only_improve`), the Coconut runs keep every epoch and the README picks the one with the best validation
accuracy. Here `Trainer` does the bookkeeping (`eval_strategy="epoch"`, `load_best_model_at_end`, the accuracy as
`metric_for_best_model`: the first epoch of the best accuracy wins, as with the official `>`), `SelectionTrainer`
computes the accuracy with the scorer it is given (the evaluation harness's, from `softcot_hf.pipelines`), and
`validation.json` beside the artifact records every epoch's accuracy and the one kept.
"""

import json
from collections.abc import Callable
from pathlib import Path

import datasets
import peft
from accelerate.utils import broadcast_object_list
from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerState

from .engines import TrainablePartTrainer

VALIDATION_FILE = "validation.json"
METRIC = "eval_accuracy"  # what Trainer logs for metric_for_best_model="accuracy"


class SelectionTrainer(TrainablePartTrainer):
    """`TrainablePartTrainer` whose `evaluate` is `score(model, tokenizer, questions)` on `eval_dataset` (the
    validation questions), computed on the main process and shared with the others. `num_latent_thoughts()` gives the
    thoughts of the epoch just trained (None: not a Coconut model), which a Coconut model runs while it is scored."""

    def __init__(
        self,
        *args,
        score: Callable[[PreTrainedModel, PreTrainedTokenizerBase, datasets.Dataset], float],
        tokenizer: PreTrainedTokenizerBase,
        num_latent_thoughts: Callable[[], int | None],
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.score, self.tokenizer = score, tokenizer
        self.num_latent_thoughts = num_latent_thoughts

    def scored_with_thoughts(self, questions: datasets.Dataset, num_latent_thoughts: int | None) -> float:
        """`score` of the model on `questions`, a Coconut model running `num_latent_thoughts` thoughts (None: its
        config's)."""
        model = self.model
        coconut = model.get_base_model() if isinstance(model, peft.PeftModel) else model
        trained_thoughts = getattr(coconut.config, "num_latent_thoughts", None)
        if num_latent_thoughts is not None:
            coconut.config.num_latent_thoughts = num_latent_thoughts
        try:
            return self.score(model, self.tokenizer, questions)
        finally:
            if num_latent_thoughts is not None:
                coconut.config.num_latent_thoughts = trained_thoughts

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        thoughts = self.num_latent_thoughts()
        accuracy = None
        if self.is_world_process_zero():
            questions = eval_dataset if eval_dataset is not None else self.eval_dataset
            accuracy = self.scored_with_thoughts(questions, thoughts)
        [accuracy] = broadcast_object_list([accuracy])
        metrics = {f"{metric_key_prefix}_accuracy": accuracy}
        if thoughts is not None:
            metrics[f"{metric_key_prefix}_num_latent_thoughts"] = thoughts
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


def selection_record(state: TrainerState, num_questions: int) -> dict:
    """What `validation.json` holds: every evaluated epoch (epoch, step, accuracy, thoughts) and the one kept."""
    epochs = [
        {
            "epoch": round(entry["epoch"]),
            "step": entry["step"],
            "accuracy": entry[METRIC],
            "num_latent_thoughts": entry.get("eval_num_latent_thoughts"),
        }
        for entry in state.log_history
        if METRIC in entry
    ]
    kept = next(epoch for epoch in epochs if epoch["step"] == state.best_global_step)
    return {
        "select_checkpoint": "best_validation",
        "metric": "answer accuracy of greedy generation on the validation split",
        "num_questions": num_questions,
        "epochs": epochs,
        "kept": kept,
    }


def write_selection_record(output_dir: Path, state: TrainerState, num_questions: int) -> None:
    (output_dir / VALIDATION_FILE).write_text(json.dumps(selection_record(state, num_questions), indent=2) + "\n")


__all__ = ["VALIDATION_FILE", "SelectionTrainer", "selection_record", "write_selection_record"]
