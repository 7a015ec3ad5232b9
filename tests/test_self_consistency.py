"""Self-consistency: the majority vote over extracted answers, and the sampling settings it needs."""

import pytest

from softcot_hf.data import get_task
from softcot_hf.evaluation import majority_vote
from softcot_hf.generation import sampling_settings


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["5"], "5"),
        (["3", "5", "5"], "5"),  # plain majority
        (["5", "3", "3", "5"], "5"),  # tie: the answer seen first wins
        (["3", "5", "5", "3"], "3"),
        ([None, "7", "2", "2", "7"], "7"),  # tie after a None: first *answer* seen
        ([None, None, None, "4"], "4"),  # None never wins, even as the most frequent
        ([None, None, "4", "9", "9"], "9"),
        ([None, None], None),  # all paths without an answer
        ([], None),
    ],
)
def test_majority_vote(answers, expected):
    assert majority_vote(answers) == expected


def test_vote_on_extracted_samples():
    """Real-looking sampled paths: extraction normalises "1,250" and "$1250.00" to the same answer before voting."""
    task = get_task("gsm8k")
    paths = [
        "So the total is 1,250 dollars. The answer is 1,250.",
        "He pays 1200 + 50 = 1250. #### $1250.00",
        "I am not sure how to solve this.",
        "The answer is 1200.",
        "The answer is 1200",
    ]
    extracted = [task.extract_answer(path) for path in paths]
    assert extracted == ["1250", "1250", None, "1200", "1200"]
    assert majority_vote(extracted) == "1250"  # 2-2 tie, 1250 appears first


def test_sampling_settings():
    assert sampling_settings(1, None, 0.7, 0.95) == {"do_sample": False, "num_return_sequences": 1}
    assert sampling_settings(5, None, 0.6, 0.9) == {
        "do_sample": True,
        "num_return_sequences": 5,
        "temperature": 0.6,
        "top_p": 0.9,
        "top_k": 0,
    }
    assert sampling_settings(1, True, 1.0, 1.0)["do_sample"]
    with pytest.raises(ValueError, match="needs sampled paths"):
        sampling_settings(3, False, 0.7, 0.95)
    with pytest.raises(ValueError, match="at least 1"):
        sampling_settings(0, None, 0.7, 0.95)
