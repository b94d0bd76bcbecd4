"""KL estimators, the KL-penalised reward, the adaptive KL controller."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples

import rlhf_mini as rm


def test_estimators_closed_forms():
    lp, lr = np.array([-1.0]), np.array([-3.0])  # log r = -2
    assert float(rm.kl_k1(lp, lr)[0]) == 2.0
    assert float(rm.kl_k2(lp, lr)[0]) == 2.0
    assert float(rm.kl_k3(lp, lr)[0]) == pytest.approx(math.exp(-2) - 1 + 2)


def test_k3_is_accurate_for_tiny_log_ratios():
    # (r - 1) - log r ~ (log r)^2 / 2 for tiny log r; naive exp(x) - 1 - x cancels to 0
    lp = np.array([0.0])
    lr = np.array([1e-9])
    assert float(rm.kl_k3(lp, lr)[0]) == pytest.approx(0.5e-18, rel=1e-6)


@given(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4))
def test_estimators_are_finite_and_k2_k3_nonnegative(lp, lr):
    for f in (rm.kl_k1, rm.kl_k2, rm.kl_k3):
        assert np.isfinite(f(np.array([lp]), np.array([lr]))).all()
    assert float(rm.kl_k2(lp, lr)) >= 0
    assert float(rm.kl_k3(lp, lr)) >= 0


def test_k1_and_k3_are_unbiased_estimators_of_the_true_kl():
    # exact expectation over a categorical: E_pi[k] = KL(pi || ref)
    pi = np.array([0.5, 0.3, 0.2])
    ref = np.array([0.2, 0.2, 0.6])
    true_kl = float(np.sum(pi * np.log(pi / ref)))
    for f in (rm.kl_k1, rm.kl_k3):
        assert float(np.sum(pi * f(np.log(pi), np.log(ref)))) == pytest.approx(true_kl)
    # k2 is biased
    assert float(np.sum(pi * rm.kl_k2(np.log(pi), np.log(ref)))) != pytest.approx(true_kl)


@settings(max_examples=examples(50))
@given(st.floats(-20, 20), st.floats(-20, 20), st.sampled_from(rm.KL_ESTIMATORS))
def test_estimator_gradients_match_finite_differences(lp, lr, est):
    f = {"k1": rm.kl_k1, "k2": rm.kl_k2, "k3": rm.kl_k3}[est]
    h = 1e-6
    fd = (f(lp + h, lr) - f(lp - h, lr)) / (2 * h)
    g = rm.kl_estimator_grad(lp, lr, est)
    assert float(g) == pytest.approx(float(fd), rel=1e-5, abs=1e-5)


def test_penalized_rewards_closed_form():
    scores = np.array([1.0, -2.0])
    lp = np.log(np.array([[0.5, 0.4, 0.9], [0.1, 0.1, 0.1]]))
    lr = np.log(np.array([[0.25, 0.4, 0.3], [0.1, 0.2, 0.05]]))
    beta = 0.2
    rewards = rm.kl_penalized_rewards(scores, lp, lr, beta)
    expected = -beta * (lp - lr)
    expected[:, -1] += scores
    np.testing.assert_allclose(rewards, expected)
    # the penalty's sum is -beta * k1 of the whole sequence
    np.testing.assert_allclose(rewards.sum(1) - scores, -beta * (lp.sum(1) - lr.sum(1)))


def test_penalized_rewards_with_mask_puts_score_on_last_real_token():
    scores = np.array([1.0, 5.0])
    lp = np.log(np.full((2, 4), 0.5))
    lr = np.log(np.full((2, 4), 0.25))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]])
    rewards = rm.kl_penalized_rewards(scores, lp, lr, 1.0, response_mask=mask)
    k = -math.log(2)
    np.testing.assert_allclose(rewards, [[k, k + 1.0, 0, 0], [k, k, k, k + 5.0]])


def test_penalized_rewards_beta_zero_is_score_only():
    r = rm.kl_penalized_rewards(
        np.array([3.0]), np.array([[-1.0, -9.0]]), np.array([[-5.0, -2.0]]), 0.0
    )
    np.testing.assert_allclose(r, [[0.0, 3.0]])


def test_penalized_rewards_bad_input():
    lp = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"scores must have shape \(batch,\)"):
        rm.kl_penalized_rewards(np.zeros(3), lp, lp, 0.1)
    with pytest.raises(ValueError, match="logp_ref must have the same shape as logp_policy"):
        rm.kl_penalized_rewards(np.zeros(2), lp, np.zeros((2, 4)), 0.1)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        rm.kl_penalized_rewards(np.zeros(2), lp, lp, -0.1)
    with pytest.raises(ValueError, match=r"logp_policy must have shape \(batch, T\)"):
        rm.kl_penalized_rewards(np.zeros(2), np.zeros(2), np.zeros(2), 0.1)
    with pytest.raises(ValueError, match="response_mask must hold only 0 and 1"):
        rm.kl_penalized_rewards(np.zeros(2), lp, lp, 0.1, response_mask=np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="at least one token"):
        rm.kl_penalized_rewards(
            np.zeros(2), lp, lp, 0.1, response_mask=np.array([[1, 0, 0], [0, 0, 0]])
        )
    with pytest.raises(ValueError, match="scores must be finite"):
        rm.kl_penalized_rewards(np.array([0.0, np.nan]), lp, lp, 0.1)


def test_adaptive_controller_follows_ziegler():
    ctl = rm.AdaptiveKLController(init_kl_coef=0.2, target=6.0, horizon=10_000)
    ctl.update(current_kl=7.0, n_steps=100)  # error = 1/6, not clipped
    assert ctl.value == pytest.approx(0.2 * (1 + (7 / 6 - 1) * 100 / 10_000))
    v = ctl.value
    ctl.update(current_kl=100.0, n_steps=100)  # clipped at +0.2
    assert ctl.value == pytest.approx(v * (1 + 0.2 * 0.01))
    v = ctl.value
    ctl.update(current_kl=0.0, n_steps=100)  # clipped at -0.2
    assert ctl.value == pytest.approx(v * (1 - 0.2 * 0.01))


def test_adaptive_controller_converges_toward_target_direction():
    ctl = rm.AdaptiveKLController(0.1, target=1.0, horizon=100)
    for _ in range(50):
        ctl.update(current_kl=3.0, n_steps=10)
    assert ctl.value > 0.1
    ctl2 = rm.AdaptiveKLController(0.1, target=1.0, horizon=100)
    for _ in range(50):
        ctl2.update(current_kl=0.2, n_steps=10)
    assert 0 < ctl2.value < 0.1


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0.0, 6.0, 100), "init_kl_coef must be > 0"),
        ((0.1, 0.0, 100), "target must be > 0"),
        ((0.1, -1.0, 100), "target must be > 0"),
        ((0.1, 6.0, 0), "horizon must be > 0"),
        ((0.1, 6.0, -5), "horizon must be > 0"),
    ],
)
def test_adaptive_controller_bad_args(args, match):
    with pytest.raises(ValueError, match=match):
        rm.AdaptiveKLController(*args)


def test_adaptive_controller_bad_update():
    ctl = rm.AdaptiveKLController(0.1, 6.0, 100)
    with pytest.raises(ValueError, match="current_kl must be finite"):
        ctl.update(float("nan"), 10)
    with pytest.raises(ValueError, match="n_steps must be >= 0"):
        ctl.update(1.0, -1)


def test_unknown_estimator():
    with pytest.raises(ValueError, match="estimator must be one of"):
        rm.kl_estimator_grad(0.0, 0.0, "k4")


@pytest.mark.parametrize(
    ("dtype", "exact", "saturated"), [(np.float64, 700.0, 710.0), (np.float32, 85.0, 89.0)]
)
def test_k3_follows_the_formula_until_expm1_overflows(dtype, exact, saturated):
    policy = np.zeros(1, dtype)
    ref = np.array([exact], dtype)
    k3 = rm.kl_k3(policy, ref)
    assert k3.dtype == dtype
    np.testing.assert_allclose(k3, np.expm1(np.float64(exact)) - exact, rtol=1e-6)
    big = rm.kl_k3(policy, np.array([saturated], dtype))
    grad = rm.kl_estimator_grad(policy, np.array([saturated], dtype), "k3")
    assert np.isfinite(big).all() and np.isfinite(grad).all()
    assert float(big[0]) == pytest.approx(float(np.finfo(dtype).max), rel=1e-4)
