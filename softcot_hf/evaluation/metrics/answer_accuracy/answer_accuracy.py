"""Answer accuracy: the share of model outputs whose extracted answer matches the gold answer, by a task's rules."""

import datasets
import evaluate

from softcot_hf.data import get_task, list_tasks

_DESCRIPTION = """
Accuracy of generated answers for one task of the SoftCoT / Coconut papers. Each prediction is a model's raw output
(or an already extracted answer); the task extracts its final answer (`\\boxed{}`, `####`, `### `, "The answer is",
option letters, yes/no...) and scores it against the reference as the papers do: numbers to two decimal places,
option letters, truth values, or the exact ProsQA sentence. An output with no answer counts as wrong.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`): generated texts.
    references (`list[str]`): gold answers, as in the task's `answer` column.
Returns:
    accuracy (`float`): the fraction of correct predictions, in [0, 1].
Examples:
    >>> metric = load_metric("answer_accuracy", "gsm8k")
    >>> metric.compute(predictions=["9 * 2 = 18, so the answer is $18."], references=["18"])
    {'accuracy': 1.0}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class AnswerAccuracy(evaluate.Metric):
    """Task-aware answer accuracy; the task is the config name."""

    def _info(self) -> evaluate.MetricInfo:
        if self.config_name not in list_tasks():
            raise KeyError(
                f"answer_accuracy needs the task as its config name, e.g. load_metric('answer_accuracy', 'gsm8k'); "
                f"got {self.config_name!r}, expected one of {', '.join(list_tasks())}."
            )
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions: list[str], references: list[str]) -> dict[str, float]:
        task = get_task(self.config_name)
        correct = [task.score(prediction, gold) for prediction, gold in zip(predictions, references, strict=True)]
        return {"accuracy": sum(correct) / len(correct)}
