"""ORPO odds-ratio term: the equation, logps near 0, gradients in log space, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import rlhf_mini as rm

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)
LOGPS = st.one_of(st.floats(-30, -1e-3), st.floats(-1e-3, -1e-300), st.floats(-1e-300, -5e-324))
PAIRS = st.integers(1, 5).flatmap(
    lambda n: st.tuples(
        arrays(np.float64, (n,), elements=LOGPS), arrays(np.float64, (n,), elements=LOGPS)
    )
)


def log1mexp(x: float) -> float:
    """log(1 - e^x) in double precision with the math module (expm1 is accurate near 0)."""
    return math.log(-math.expm1(x))


def exact(c: float, r: float, beta: float) -> tuple[float, float, float, float]:
    """(loss, log_odds, log|dL/dc|, log|dL/dr|) from the equations, one pair at a time."""
    log_odds = (c - r) - (log1mexp(c) - log1mexp(r))
    log_sig_neg = -math.log1p(math.exp(log_odds)) if log_odds < 700 else -log_odds
    loss = beta * (math.log1p(math.exp(-log_odds)) if log_odds > -700 else -log_odds)
    log_size = math.log(beta) + log_sig_neg
    return loss, log_odds, log_size - log1mexp(c), log_size - log1mexp(r)


LOG_MAX = math.log(np.finfo(np.float64).max)


@SETTINGS
@given(PAIRS, st.sampled_from([0.1, 0.25, 1.0]))
@example((np.array([-1e-300]), np.array([-1e-300])), 0.1)
@example((np.array([-5e-324]), np.array([-30.0])), 0.1)
@example((np.array([-1.0]), np.array([-2.22507386e-309])), 0.1)  # a gradient of ~4.5e307
def test_matches_the_equation_even_for_logps_near_zero(pair, beta):
    c, r = pair
    losses, log_odds = rm.orpo_loss(c, r, beta=beta)
    assert np.isfinite(losses).all() and np.isfinite(log_odds).all()
    for i in range(c.shape[0]):
        loss, lo, log_dc, log_dr = exact(float(c[i]), float(r[i]), beta)
        assert float(log_odds[i]) == pytest.approx(lo, rel=1e-12, abs=1e-12)
        assert float(losses[i]) == pytest.approx(loss, rel=1e-12, abs=1e-300)
        if max(log_dc, log_dr) < LOG_MAX:  # the gradient itself fits in float64
            g_c, g_r = rm.orpo_loss_grad(c[i : i + 1], r[i : i + 1], beta=beta)
            assert -float(g_c[0]) == pytest.approx(math.exp(log_dc), rel=1e-10, abs=1e-300)
            assert float(g_r[0]) == pytest.approx(math.exp(log_dr), rel=1e-10, abs=1e-300)


def test_log_odds_of_known_probabilities():
    # P = 0.9 (odds 9) against P = 0.5 (odds 1): log 9
    losses, log_odds = rm.orpo_loss(np.log([0.9]), np.log([0.5]), beta=0.2)
    assert float(log_odds[0]) == pytest.approx(math.log(9.0), rel=1e-14)
    assert float(losses[0]) == pytest.approx(
        -0.2 * math.log(0.9), rel=1e-14
    )  # sigmoid(log 9) = 0.9
    # near certainty: P = 1 - 1e-12 has odds ~1e12 (1 - e^c must not round to 0)
    _, log_odds = rm.orpo_loss(np.array([math.log1p(-1e-12)]), np.log([0.5]))
    assert float(log_odds[0]) == pytest.approx(math.log((1 - 1e-12) / 1e-12), rel=1e-9)


@SETTINGS
@given(
    PAIRS.filter(lambda p: bool((p[0] < -1e-6).all() and (p[1] < -1e-6).all())),
    st.sampled_from([0.1, 1.0]),
)
def test_gradients_match_autograd_and_finite_differences(pair, beta):
    c, r = pair
    g_c, g_r = rm.orpo_loss_grad(c, r, beta=beta)
    tc, tr = torch.tensor(c, requires_grad=True), torch.tensor(r, requires_grad=True)
    rm.orpo_loss(tc, tr, beta=beta)[0].sum().backward()
    np.testing.assert_allclose(g_c, tc.grad.numpy(), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(g_r, tr.grad.numpy(), rtol=1e-9, atol=1e-15)
    h = 1e-4 * np.minimum(1.0, np.abs(c))  # stay inside (-inf, 0)
    fd = (rm.orpo_loss(c + h, r, beta=beta)[0] - rm.orpo_loss(c - h, r, beta=beta)[0]) / (2 * h)
    np.testing.assert_allclose(g_c, fd, rtol=1e-4, atol=1e-8)


def test_float32_near_zero_stays_finite():
    c = torch.tensor([-1e-30, -1e-3], dtype=torch.float32)
    r = torch.tensor([-2.0, -1e-30], dtype=torch.float32)
    for out in (*rm.orpo_loss(c, r), *rm.orpo_loss_grad(c, r)):
        assert out.dtype == torch.float32 and bool(torch.isfinite(out).all())


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="chosen_avg_logps must be < 0"):
        rm.orpo_loss(np.array([0.0]), np.array([-1.0]))
    with pytest.raises(ValueError, match="rejected_avg_logps must be < 0"):
        rm.orpo_loss_grad(np.array([-1.0]), np.array([0.5]))
    with pytest.raises(ValueError, match="beta must be > 0"):
        rm.orpo_loss(np.array([-1.0]), np.array([-1.0]), beta=0.0)
    with pytest.raises(ValueError, match="rejected_avg_logps must have the same shape"):
        rm.orpo_loss(np.array([-1.0]), np.array([-1.0, -2.0]))
