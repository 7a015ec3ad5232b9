"""Self-consistency: the majority vote over extracted answers, and the sampling settings it needs."""

import pytest
import torch
from transformers import GenerationConfig

from softcot_hf.data import get_task
from softcot_hf.evaluation import majority_vote
from softcot_hf.evaluation.voting import official_vote
from softcot_hf.generation import PerRowSampler, resolve_sampling, sampling_settings


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


def test_official_vote_follows_the_official_loop():
    """evaluate_softcot.py:266-278 at xuyige/SoftCoT@fa7f537: a missing answer resets its count to 1, strict > keeps
    the first answer to reach the top count, so a leading None wins ties that our vote gives to an answer."""
    assert official_vote(["3", "5", "5"]) == majority_vote(["3", "5", "5"]) == "5"
    assert official_vote([None, "3"]) is None and majority_vote([None, "3"]) == "3"
    assert official_vote([None, None, None, "3"]) is None  # three Nones still count 1
    assert official_vote(["3", None, None, "5"]) == "3"
    assert official_vote([None]) is None and official_vote(["4", "2"]) == "4"


def test_official_seeding_draws_each_question_from_a_fresh_stream_of_the_seed():
    """With `rows_per_seed`, a question's paths are drawn together from a generator seeded with the run's seed, as
    the official evaluation's torch.manual_seed(seed) before each question's generate."""
    scores = torch.randn(6, 11, generator=torch.Generator().manual_seed(0))  # 3 questions x 2 paths
    drawn = PerRowSampler([7, 7, 7], rows_per_seed=2)(None, scores).argmax(-1)
    expected = [
        torch.multinomial(scores[i : i + 2].softmax(-1), 1, generator=torch.Generator().manual_seed(7)).squeeze(1)
        for i in (0, 2, 4)
    ]
    assert torch.equal(drawn, torch.cat(expected))
    with pytest.raises(ValueError, match="3 seeds of 2 rows each for 4 rows"):
        PerRowSampler([7, 7, 7], rows_per_seed=2)(None, scores[:4])


def test_values_left_to_the_model_come_from_its_generation_config():
    qwen = GenerationConfig(top_k=20, repetition_penalty=1.05, temperature=0.7, top_p=0.8)
    official = sampling_settings(1, True, 1.0, 1.0, top_k=None, repetition_penalty=None)
    assert resolve_sampling(official, qwen) == {
        "do_sample": True,
        "num_return_sequences": 1,
        "temperature": 1.0,
        "top_p": 1.0,
        "top_k": 20,
        "repetition_penalty": 1.05,
    }
    llama = resolve_sampling(official, GenerationConfig(temperature=0.6, top_p=0.9))  # sets no top-k: generate's 50
    assert (llama["top_k"], llama["repetition_penalty"]) == (50, 1.0)
    forced = resolve_sampling(sampling_settings(1, True, 1.0, 1.0, top_k=0, repetition_penalty=1.0), qwen)
    assert (forced["top_k"], forced["repetition_penalty"]) == (0, 1.0)
    assert resolve_sampling(sampling_settings(1, None, 0.7, 0.95), qwen)["repetition_penalty"] == 1.05  # greedy too
