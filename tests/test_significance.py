"""The paired tests the quickstart reports (evaluation/significance.py), against values worked out by hand."""

import pytest

from softcot_hf.evaluation.significance import in_words, mcnemar_exact, paired_bootstrap


def test_mcnemar_exact_matches_the_binomial_tail_by_hand():
    # 5 questions only a got right, 1 only b got right, 2 concordant: n = 6 discordant,
    # P(X <= 1) = (C(6,0) + C(6,1)) / 2^6 = 7/64, two-sided p = 14/64.
    result = mcnemar_exact([1, 1, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 1, 1, 0])
    assert (result.only_a, result.only_b) == (5, 1)
    assert result.p_value == pytest.approx(14 / 64, abs=1e-12)
    # 6 to 0: p = 2 / 64, below 0.05; the same with the methods swapped.
    assert mcnemar_exact([True] * 6, [False] * 6).p_value == pytest.approx(2 / 64, abs=1e-12)
    assert mcnemar_exact([False] * 6, [True] * 6).p_value == pytest.approx(2 / 64, abs=1e-12)
    # 3 to 3: 2 * 42/64 > 1, capped; nothing discordant: 1.
    assert mcnemar_exact([1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]).p_value == 1.0
    assert mcnemar_exact([1, 0, 1], [1, 0, 1]) == mcnemar_exact([1, 0, 1], [1, 0, 1])
    assert mcnemar_exact([1, 0, 1], [1, 0, 1]).p_value == 1.0


def test_paired_bootstrap_matches_the_exact_resampling_distribution():
    # Differences (1, 0): a resample's mean is 0 with probability 1/4, 1/2 w.p. 1/2, 1 w.p. 1/4, so
    # P(mean <= 0) = 1/4 and p = 2 * 1/4; the 95% interval runs from 0 to 1.
    result = paired_bootstrap([1, 1], [0, 1], num_resamples=40_000, seed=3)
    assert result.difference == 0.5 and (result.low, result.high) == (0.0, 1.0)
    assert result.p_value == pytest.approx(0.5, abs=0.015)  # binomial noise of 40,000 draws: std 0.0043
    # Differences (1, 1, -1): the mean is <= 0 when two or three of the three draws are -1,
    # 3 * (1/3)^2 * (2/3) + (1/3)^3 = 7/27, so p = 14/27.
    result = paired_bootstrap([1, 1, 0], [0, 0, 1], num_resamples=40_000, seed=4)
    assert result.difference == pytest.approx(1 / 3)
    assert result.p_value == pytest.approx(14 / 27, abs=0.015)
    # Fractional scores (fraction of seeds right); a constant difference is never resampled to 0 or below.
    result = paired_bootstrap([2 / 3, 1, 1 / 3], [1 / 3, 2 / 3, 0], num_resamples=500)
    assert result.p_value == 0.0 and result.low == pytest.approx(1 / 3) and result.high == pytest.approx(1 / 3)
    assert paired_bootstrap([1, 0, 1], [0, 0, 1], seed=7) == paired_bootstrap([1, 0, 1], [0, 0, 1], seed=7)


def test_significance_in_words_and_bad_input():
    assert in_words(0.03) == "significant" and in_words(0.05) == "not significant"
    with pytest.raises(ValueError, match="same questions"):
        mcnemar_exact([1, 0], [1, 0, 1])
    with pytest.raises(ValueError, match="right/wrong"):
        mcnemar_exact([0.5, 1], [1, 0])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        paired_bootstrap([2, 0], [1, 0])
    with pytest.raises(ValueError, match="non-empty"):
        paired_bootstrap([], [])
