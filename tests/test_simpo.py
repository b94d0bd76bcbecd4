"""SimPO loss: the equation, the margin, label smoothing, gradients, extremes, bad input."""

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
PAIRS = st.integers(1, 6).flatmap(
    lambda n: st.tuples(
        arrays(np.float64, (n,), elements=st.floats(-10, 0)),
        arrays(np.float64, (n,), elements=st.floats(-10, 0)),
    )
)
OPTIONS = st.fixed_dictionaries(
    {
        "beta": st.sampled_from([0.1, 2.0, 2.5]),
        "gamma": st.sampled_from([0.0, 0.5, 1.4]),
        "label_smoothing": st.sampled_from([0.0, 0.1]),
    }
)


def _logsig(x):
    return -np.logaddexp(0, -x)


@SETTINGS
@given(PAIRS, OPTIONS)
def test_matches_the_equation(pair, kw):
    c, r = pair
    losses, cr, rr = rm.simpo_loss(c, r, **kw)
    beta, gamma, ls = kw["beta"], kw["gamma"], kw["label_smoothing"]
    h = c - r - gamma / beta
    np.testing.assert_allclose(
        losses, -(1 - ls) * _logsig(beta * h) - ls * _logsig(-beta * h), rtol=1e-12
    )
    np.testing.assert_allclose(cr, beta * c, rtol=1e-15)
    np.testing.assert_allclose(rr, beta * r, rtol=1e-15)


def test_margin_is_the_dpo_sigmoid_loss_shifted():
    # gamma moves the decision point: the loss is log 2 where the reward margin equals gamma
    c, r = np.array([-1.0]), np.array([-1.0 - 0.25])
    losses, cr, rr = rm.simpo_loss(c, r, beta=2.0, gamma=0.5)
    assert float(cr[0] - rr[0]) == pytest.approx(0.5)
    assert float(losses[0]) == pytest.approx(math.log(2), rel=1e-15)


@SETTINGS
@given(PAIRS, OPTIONS)
def test_gradients_match_autograd_and_finite_differences(pair, kw):
    c, r = pair
    g_c, g_r = rm.simpo_loss_grad(c, r, **kw)
    tc, tr = torch.tensor(c, requires_grad=True), torch.tensor(r, requires_grad=True)
    rm.simpo_loss(tc, tr, **kw)[0].sum().backward()
    np.testing.assert_allclose(g_c, tc.grad.numpy(), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(g_r, tr.grad.numpy(), rtol=1e-10, atol=1e-15)
    h = 1e-6
    fd = (rm.simpo_loss(c + h, r, **kw)[0] - rm.simpo_loss(c - h, r, **kw)[0]) / (2 * h)
    np.testing.assert_allclose(g_c, fd, rtol=1e-5, atol=1e-8)


def test_extremes_stay_finite_and_correct():
    c, r = np.array([0.0, -1e4]), np.array([-1e4, 0.0])
    losses, _, _ = rm.simpo_loss(c, r, beta=2.0, gamma=0.5)
    assert losses[0] == 0.0 and losses[1] == pytest.approx(2.0 * (1e4 + 0.25), rel=1e-15)
    g_c, g_r = rm.simpo_loss_grad(c, r)
    np.testing.assert_allclose(g_c, [0.0, -2.0], atol=1e-300)
    np.testing.assert_allclose(g_r, [0.0, 2.0], atol=1e-300)
    out = rm.simpo_loss(torch.tensor(c, dtype=torch.float32), torch.tensor(r, dtype=torch.float32))
    assert all(x.dtype == torch.float32 and bool(torch.isfinite(x).all()) for x in out)


def test_bad_input_names_the_argument():
    x = np.zeros(2)
    with pytest.raises(ValueError, match="beta must be > 0"):
        rm.simpo_loss(x, x, beta=0.0)
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        rm.simpo_loss(x, x, gamma=-0.1)
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        rm.simpo_loss(x, x, label_smoothing=0.5)
    with pytest.raises(
        ValueError, match="rejected_avg_logps must have the same shape as chosen_avg_logps"
    ):
        rm.simpo_loss(x, np.zeros(3))
    with pytest.raises(ValueError, match="chosen_avg_logps must be finite"):
        rm.simpo_loss(np.array([np.nan]), np.zeros(1))
