"""GAE: closed forms for lam = 0 and gamma = lam = 1, the recursion, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from hypothesis_profiles import examples

import rlhf_mini as rm

shape = st.tuples(st.integers(1, 4), st.integers(1, 7))
#: (rewards, values) of one (batch, T) shape, entries in [-10, 10]
rewards_and_values = shape.flatmap(
    lambda s: st.tuples(
        arrays(np.float64, s, elements=st.floats(-10, 10)),
        arrays(np.float64, s, elements=st.floats(-10, 10)),
    )
)


@settings(max_examples=examples(50))
@given(
    rewards_and_values,
    st.floats(0, 1),
)
def test_lam_zero_is_the_td_residual(rv, gamma):
    r, v = rv
    adv, ret = rm.gae(r, v, gamma=gamma, lam=0.0)
    next_v = np.concatenate([v[:, 1:], np.zeros((v.shape[0], 1))], axis=1)
    np.testing.assert_allclose(adv, r + gamma * next_v - v, atol=1e-12)
    np.testing.assert_allclose(ret, adv + v, atol=1e-12)


@settings(max_examples=examples(50))
@given(rewards_and_values)
def test_gamma_lam_one_is_reward_to_go_minus_value(rv):
    r, v = rv
    adv, ret = rm.gae(r, v, gamma=1.0, lam=1.0)
    reward_to_go = np.cumsum(r[:, ::-1], axis=1)[:, ::-1]
    np.testing.assert_allclose(adv, reward_to_go - v, atol=1e-9)
    np.testing.assert_allclose(ret, reward_to_go, atol=1e-9)


def test_matches_the_explicit_sum():
    rng = np.random.default_rng(0)
    r, v = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    gamma, lam = 0.9, 0.8
    adv, _ = rm.gae(r, v, gamma=gamma, lam=lam)
    v_next = np.concatenate([v[:, 1:], np.zeros((3, 1))], axis=1)
    delta = r + gamma * v_next - v
    expected = np.zeros_like(r)
    for t in range(6):
        for k in range(t, 6):
            expected[:, t] += (gamma * lam) ** (k - t) * delta[:, k]
    np.testing.assert_allclose(adv, expected, atol=1e-12)


def test_one_dimensional_input():
    adv, ret = rm.gae(np.array([0.0, 0.0, 1.0]), np.zeros(3), gamma=0.5, lam=1.0)
    np.testing.assert_allclose(adv, [0.25, 0.5, 1.0])
    assert adv.shape == (3,) and ret.shape == (3,)


def test_extreme_inputs_stay_finite():
    adv, ret = rm.gae(np.full((2, 50), 1e4), np.full((2, 50), -1e4), gamma=1.0, lam=1.0)
    assert np.isfinite(adv).all() and np.isfinite(ret).all()


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"gamma": 1.5}, r"gamma must be in \[0.0, 1.0\]"),
        ({"gamma": -0.1}, "gamma"),
        ({"lam": 2.0}, "lam"),
        ({"lam": float("nan")}, "lam"),
    ],
)
def test_bad_gamma_lam(kw, match):
    with pytest.raises(ValueError, match=match):
        rm.gae(np.zeros((1, 3)), np.zeros((1, 3)), **kw)


def test_bad_arrays():
    with pytest.raises(ValueError, match="values must have the same shape as rewards"):
        rm.gae(np.zeros((1, 3)), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="rewards must have shape"):
        rm.gae(np.zeros((1, 3, 2)), np.zeros((1, 3, 2)))
    with pytest.raises(ValueError, match="rewards must be finite"):
        rm.gae(np.array([[np.nan]]), np.zeros((1, 1)))
    with pytest.raises(ValueError, match="must not be empty"):
        rm.gae(np.zeros((1, 0)), np.zeros((1, 0)))
