"""PPO clipped surrogate: closed forms, gradient, clipping behaviour, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from hypothesis_profiles import examples

import rlhf_mini as rm


def test_closed_forms():
    logp_old = np.zeros(6)
    ratio = np.array([1.5, 1.5, 0.5, 0.5, 1.1, 0.9])
    adv = np.array([1.0, -1.0, 1.0, -1.0, 2.0, -2.0])
    loss = rm.ppo_clip_loss(np.log(ratio), logp_old, adv, clip_eps=0.2)
    # A > 0 caps the gain at (1 + eps) A; A < 0 keeps the full penalty r A when r is large
    expected = [-1.2, 1.5, -0.5, 0.8, -2.2, 1.8]
    np.testing.assert_allclose(loss, expected, rtol=1e-12)


def test_ratio_one_gives_minus_advantage():
    adv = np.array([0.3, -2.0, 5.0])
    np.testing.assert_allclose(rm.ppo_clip_loss(np.full(3, -1.0), np.full(3, -1.0), adv), -adv)


@settings(max_examples=examples(60))
@given(
    arrays(np.float64, 6, elements=st.floats(-1.0, 1.0)),
    arrays(np.float64, 6, elements=st.floats(-5, 5)),
    st.floats(0.05, 0.5),
)
def test_gradient_matches_finite_differences(log_ratio, adv, eps_clip):
    logp_old = np.full(6, -2.0)
    logp_new = logp_old + log_ratio
    ratio = np.exp(log_ratio)
    g = rm.ppo_clip_loss_grad(logp_new, logp_old, adv, clip_eps=eps_clip)
    h = 1e-7
    fd = (
        rm.ppo_clip_loss(logp_new + h, logp_old, adv, eps_clip)
        - rm.ppo_clip_loss(logp_new - h, logp_old, adv, eps_clip)
    ) / (2 * h)
    away_from_kinks = (np.abs(ratio - (1 + eps_clip)) > 1e-4) & (
        np.abs(ratio - (1 - eps_clip)) > 1e-4
    )
    np.testing.assert_allclose(g[away_from_kinks], fd[away_from_kinks], rtol=1e-5, atol=1e-6)


@given(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(-1e4, 1e4))
def test_finite_for_extreme_inputs(new, old, adv):
    loss = rm.ppo_clip_loss(np.array([new]), np.array([old]), np.array([adv]))
    grad = rm.ppo_clip_loss_grad(np.array([new]), np.array([old]), np.array([adv]))
    assert np.isfinite(loss).all() and np.isfinite(grad).all()


@given(st.floats(-3, 3), st.floats(-5, 5), st.floats(0.05, 0.5))
def test_clipped_loss_is_an_upper_bound_of_the_unclipped(log_ratio, adv, clip_eps):
    # -min(rA, clip(r)A) >= -rA: the surrogate is pessimistic
    loss = rm.ppo_clip_loss(np.array([log_ratio]), np.zeros(1), np.array([adv]), clip_eps)
    assert float(loss[0]) >= -np.exp(log_ratio) * adv - 1e-9


@pytest.mark.parametrize("clip_eps", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_bad_clip_eps(clip_eps):
    with pytest.raises(ValueError, match="clip_eps"):
        rm.ppo_clip_loss(np.zeros(2), np.zeros(2), np.ones(2), clip_eps=clip_eps)


def test_bad_arrays():
    with pytest.raises(ValueError, match="advantages must have the same shape as logp_new"):
        rm.ppo_clip_loss(np.zeros(2), np.zeros(2), np.ones(3))
    with pytest.raises(ValueError, match="logp_old must be finite"):
        rm.ppo_clip_loss(np.zeros(2), np.array([0.0, np.inf]), np.ones(2))
    with pytest.raises(ValueError, match="logp_new must not be empty"):
        rm.ppo_clip_loss(np.zeros(0), np.zeros(0), np.zeros(0))


@pytest.mark.parametrize(
    ("dtype", "exact", "saturated"), [(np.float64, 700.0, 710.0), (np.float32, 85.0, 89.0)]
)
def test_large_log_ratios_follow_the_formula_until_exp_overflows(dtype, exact, saturated):
    """The loss is -r A exactly wherever r and r A are representable in the dtype, and r
    saturates at the dtype's largest value only beyond (a clip at +-50 gave 3.6e21 for the
    formula's 9.8e216)."""
    adv = np.array([-0.7, -0.7], dtype=dtype)
    logp_new = np.array([500.0 if dtype == np.float64 else 60.0, exact], dtype=dtype)
    loss = rm.ppo_clip_loss(logp_new, np.zeros(2, dtype), adv)
    assert loss.dtype == dtype
    np.testing.assert_allclose(loss, -np.exp(logp_new.astype(np.float64)) * adv, rtol=1e-6)
    if dtype == np.float64:
        assert float(loss[0]) == pytest.approx(9.825145524969862e216, rel=1e-12)
    big = rm.ppo_clip_loss(np.array([saturated], dtype), np.zeros(1, dtype), adv[:1])
    grad = rm.ppo_clip_loss_grad(np.array([saturated], dtype), np.zeros(1, dtype), adv[:1])
    assert np.isfinite(big).all() and np.isfinite(grad).all()
    # r saturates at the dtype's largest value (r |A| <= it too)
    assert float(big[0]) == pytest.approx(0.7 * float(np.finfo(dtype).max), rel=1e-3)
    # a large advantage moves the saturation point down by log |A|, never to inf
    huge = rm.ppo_clip_loss(np.array([exact], dtype), np.zeros(1, dtype), np.array([-1e30], dtype))
    assert np.isfinite(huge).all()
