"""Best-of-n: the exact distribution against Monte Carlo, the KL bound (exact only in the
continuous limit, an upper bound on a finite set, lower still with ties), bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import rlhf_mini as rm

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


@st.composite
def finite_sets(draw):
    k = draw(st.integers(1, 7))
    weights = draw(arrays(np.float64, (k,), elements=st.floats(0.0, 1.0)))
    weights[draw(st.integers(0, k - 1))] += 0.1  # not all zero
    rewards = draw(arrays(np.float64, (k,), elements=st.sampled_from([-1.0, 0.0, 0.5, 2.0])))
    return weights / weights.sum(), rewards


def test_bound_values():
    assert rm.best_of_n_kl_bound(1) == 0.0
    assert rm.best_of_n_kl_bound(2) == pytest.approx(math.log(2) - 0.5, rel=1e-15)
    assert rm.best_of_n_kl_bound(1000) == pytest.approx(math.log(1000) - 0.999, rel=1e-15)


def test_distinct_rewards_give_f_to_the_n_differences():
    pi = np.array([0.1, 0.2, 0.3, 0.4])
    r = np.array([3.0, 0.0, 2.0, 1.0])  # order by reward: y1 < y3 < y2 < y0
    probs, kl = rm.best_of_n_policy(pi, r, 3)
    cdf = {1: 0.2, 3: 0.6, 2: 0.9, 0: 1.0}
    below = {1: 0.0, 3: 0.2, 2: 0.6, 0: 0.9}
    expected = np.array([cdf[i] ** 3 - below[i] ** 3 for i in range(4)])
    np.testing.assert_allclose(probs, expected, rtol=1e-13)
    assert float(kl) == pytest.approx(float(np.sum(expected * np.log(expected / pi))), rel=1e-12)


def test_matches_monte_carlo_with_ties(rng):
    pi = np.array([0.05, 0.25, 0.2, 0.3, 0.2])
    r = np.array([1.0, 1.0, 0.0, -1.0, 1.0])  # three responses tie for the best
    n, draws = 3, 200_000
    samples = rng.choice(5, size=(draws, n), p=pi)
    scores = r[samples]
    best = scores.max(axis=1, keepdims=True)
    # uniform among the samples that reach the best reward
    keys = np.where(scores == best, rng.random((draws, n)), -1.0)
    winners = samples[np.arange(draws), keys.argmax(axis=1)]
    empirical = np.bincount(winners, minlength=5) / draws
    probs, _ = rm.best_of_n_policy(pi, r, n)
    np.testing.assert_allclose(probs, empirical, atol=4e-3)  # ~4 standard errors
    top = 0.5  # within the top level the choice follows pi: 0.05 : 0.25 : 0.2
    assert probs[[0, 1, 4]] / probs[[0, 1, 4]].sum() == pytest.approx(pi[[0, 1, 4]] / top)


@SETTINGS
@given(finite_sets(), st.integers(1, 64))
def test_a_distribution_whose_kl_never_exceeds_the_bound(pair, n):
    pi, r = pair
    probs, kl = rm.best_of_n_policy(pi, r, n)
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    assert (probs >= 0).all() and (probs[pi == 0] == 0).all()
    assert -1e-12 <= float(kl) <= rm.best_of_n_kl_bound(n) + 1e-12
    # best-of-n never lowers the expected reward
    assert float(probs @ r) >= float(pi @ r) - 1e-12


def test_bound_is_approached_only_as_the_set_becomes_continuous():
    for n in (2, 4, 16):
        gaps = []
        for k in (2, 20, 200, 2000):
            _, kl = rm.best_of_n_policy(np.full(k, 1 / k), np.arange(k, dtype=float), n)
            gaps.append(rm.best_of_n_kl_bound(n) - float(kl))
        assert all(g > 0 for g in gaps)  # strictly below on any finite set
        assert gaps == sorted(gaps, reverse=True)  # shrinking as responses get finer
        assert gaps[-1] < 1e-5  # ~1 / K^2


def test_ties_lower_the_kl_and_all_equal_rewards_keep_the_policy():
    pi = np.full(4, 0.25)
    _, distinct = rm.best_of_n_policy(pi, np.array([0.0, 1.0, 2.0, 3.0]), 4)
    _, tied = rm.best_of_n_policy(pi, np.array([0.0, 1.0, 3.0, 3.0]), 4)
    probs, none = rm.best_of_n_policy(pi, np.full(4, 7.0), 4)
    assert float(none) == 0.0 and (probs == pi).all()
    assert 0 < float(tied) < float(distinct) < rm.best_of_n_kl_bound(4)


def test_n_one_is_the_policy_and_batches_and_torch_agree():
    pi = np.array([[0.2, 0.8, 0.0], [0.5, 0.25, 0.25]])
    r = np.array([[1.0, 0.0, 5.0], [0.0, 2.0, 2.0]])
    probs, kl = rm.best_of_n_policy(pi, r, 1)
    np.testing.assert_allclose(probs, pi, rtol=1e-15)
    np.testing.assert_allclose(kl, 0.0, atol=1e-15)
    probs, kl = rm.best_of_n_policy(pi, r, 5)
    assert kl.shape == (2,)
    for i in range(2):
        p_i, kl_i = rm.best_of_n_policy(pi[i], r[i], 5)
        np.testing.assert_allclose(probs[i], p_i, rtol=1e-15)
        assert float(kl[i]) == pytest.approx(float(kl_i), rel=1e-15)
    t_probs, t_kl = rm.best_of_n_policy(torch.tensor(pi), torch.tensor(r), 5)
    assert isinstance(t_probs, torch.Tensor) and t_probs.dtype == torch.float64
    np.testing.assert_allclose(t_probs.numpy(), probs, rtol=1e-13)
    np.testing.assert_allclose(t_kl.numpy(), kl, rtol=1e-12)


def test_large_n_and_tiny_probabilities_stay_accurate():
    # F^n - G^n for a level of mass 1e-12 next to F ~ 1: no cancellation
    pi = np.array([1 - 1e-12, 1e-12])
    probs, kl = rm.best_of_n_policy(pi, np.array([0.0, 1.0]), 1000)
    assert probs[1] == pytest.approx(-math.expm1(1000 * math.log1p(-1e-12)), rel=1e-12)
    probs, kl = rm.best_of_n_policy(np.full(3, 1 / 3), np.array([0.0, 1.0, 2.0]), 10**6)
    assert probs[2] == pytest.approx(1.0) and math.isfinite(float(kl))


def test_bad_input_names_the_argument():
    pi, r = np.array([0.5, 0.5]), np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="n must be >= 1"):
        rm.best_of_n_policy(pi, r, 0)
    with pytest.raises(TypeError, match="n must be an int"):
        rm.best_of_n_kl_bound(2.0)
    with pytest.raises(ValueError, match="policy_probs must sum to 1"):
        rm.best_of_n_policy(np.array([0.5, 0.6]), r, 2)
    with pytest.raises(ValueError, match="policy_probs must be >= 0"):
        rm.best_of_n_policy(np.array([1.5, -0.5]), r, 2)
    with pytest.raises(ValueError, match="rewards must have the same shape as policy_probs"):
        rm.best_of_n_policy(pi, np.zeros(3), 2)
    with pytest.raises(ValueError, match="policy_probs must have shape"):
        rm.best_of_n_policy(np.full((1, 1, 2), 0.5), np.zeros((1, 1, 2)), 2)
