"""Mean generated tokens: the average number of new tokens per example (the Coconut paper's efficiency measure)."""

import datasets
import evaluate

_DESCRIPTION = """
The mean number of tokens a method generates per example, counting the answer and any reasoning tokens (and, for
Coconut, its continuous thoughts, as the paper does) but not the prompt or padding.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[int]`): the number of generated tokens of each example.
Returns:
    mean_generated_tokens (`float`): their mean.
Examples:
    >>> metric = load_metric("mean_generated_tokens")
    >>> metric.compute(predictions=[25, 8, 3])
    {'mean_generated_tokens': 12.0}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MeanGeneratedTokens(evaluate.Metric):
    """Average generated length in tokens."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64")}),
        )

    def _compute(self, predictions: list[int]) -> dict[str, float]:
        return {"mean_generated_tokens": sum(predictions) / len(predictions)}
