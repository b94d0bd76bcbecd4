"""KTO loss: the equations, the detached clamped reference point, gradients, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import rlhf_mini as rm

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


def _sig(x):
    return 1 / (1 + np.exp(-x))


@st.composite
def examples(draw, scale=20.0):
    n_c, n_r, m = draw(st.integers(0, 4)), draw(st.integers(0, 4)), draw(st.integers(1, 4))
    if n_c + n_r == 0:
        n_c = 1
    logps = lambda n: draw(arrays(np.float64, (n,), elements=st.floats(-scale, 0)))  # noqa: E731
    return logps(n_c), logps(n_r), logps(m), logps(n_c), logps(n_r), logps(m)


OPTIONS = st.fixed_dictionaries(
    {
        "beta": st.sampled_from([0.1, 0.5, 2.0]),
        "desirable_weight": st.sampled_from([1.0, 1.33]),
        "undesirable_weight": st.sampled_from([1.0, 0.7]),
    }
)


@SETTINGS
@given(examples(), OPTIONS)
def test_matches_equation_7(args, kw):
    pc, pr, pkl, rc, rr, rkl = args
    losses, cr, rr_, kl = rm.kto_loss(*args, **kw)
    z0 = max(0.0, float(np.mean(pkl - rkl)))
    beta = kw["beta"]
    expected = np.concatenate(
        [
            kw["desirable_weight"] * (1 - _sig(beta * ((pc - rc) - z0))),
            kw["undesirable_weight"] * (1 - _sig(beta * (z0 - (pr - rr)))),
        ]
    )
    assert float(kl) == pytest.approx(z0, abs=1e-12)
    np.testing.assert_allclose(losses, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(cr, beta * (pc - rc), rtol=1e-15)
    np.testing.assert_allclose(rr_, beta * (pr - rr), rtol=1e-15)


def test_the_reference_point_is_clamped_at_zero():
    x = np.array([-3.0])
    _, _, _, kl = rm.kto_loss(x, x, np.array([-5.0, -1.0]), x, x, np.array([-2.0, -2.0]))
    assert float(kl) == 0.0  # mean(-3, 1) = -1 < 0
    losses, _, _, kl = rm.kto_loss(x, x, np.array([-1.0]), x, x, np.array([-3.0]), beta=1.0)
    assert float(kl) == 2.0
    np.testing.assert_allclose(losses, [1 - _sig(-2.0), 1 - _sig(2.0)], rtol=1e-14)


@SETTINGS
@given(examples(), OPTIONS)
def test_gradient_matches_autograd_and_the_reference_point_is_detached(args, kw):
    t = [torch.tensor(a, requires_grad=True) for a in args]
    losses, _, _, kl = rm.kto_loss(*t, **kw)
    losses.sum().backward()
    grad_c, grad_r = rm.kto_loss_grad(*args, **kw)
    np.testing.assert_allclose(grad_c, t[0].grad.numpy(), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(grad_r, t[1].grad.numpy(), rtol=1e-10, atol=1e-15)
    assert t[2].grad is None and t[5].grad is None  # no gradient through z0
    assert not kl.requires_grad


@SETTINGS
@given(examples(scale=5.0), OPTIONS)
def test_gradient_matches_finite_differences(args, kw):
    grads = rm.kto_loss_grad(*args, **kw)
    h = 1e-6
    for which in (0, 1):
        for i in range(args[which].shape[0]):
            up = [a.copy() for a in args]
            down = [a.copy() for a in args]
            up[which][i] += h
            down[which][i] -= h
            j = i if which == 0 else args[0].shape[0] + i  # position in the concatenation
            fd = (rm.kto_loss(*up, **kw)[0][j] - rm.kto_loss(*down, **kw)[0][j]) / (2 * h)
            assert grads[which][i] == pytest.approx(fd, rel=1e-5, abs=1e-9)


def test_extreme_log_ratios_saturate_cleanly():
    big = np.array([5000.0, -5000.0])
    zero = np.zeros(2)
    losses, _, _, _ = rm.kto_loss(big, big, zero, zero, zero, zero, beta=1.0)
    np.testing.assert_allclose(losses, [0.0, 1.0, 1.0, 0.0], atol=1e-300)
    g_c, g_r = rm.kto_loss_grad(big, big, zero, zero, zero, zero, beta=1.0)
    assert np.isfinite(g_c).all() and np.isfinite(g_r).all()
    t = rm.kto_loss(
        *(torch.tensor(a, dtype=torch.float32) for a in (big, big, zero, zero, zero, zero))
    )
    assert all(bool(torch.isfinite(x).all()) and x.dtype == torch.float32 for x in t)


def test_bad_input_names_the_argument():
    x = np.zeros(2)
    with pytest.raises(ValueError, match="beta must be > 0"):
        rm.kto_loss(x, x, x, x, x, x, beta=0.0)
    with pytest.raises(ValueError, match="desirable_weight must be > 0"):
        rm.kto_loss(x, x, x, x, x, x, desirable_weight=-1.0)
    with pytest.raises(
        ValueError, match="ref_rejected must have the same shape as policy_rejected"
    ):
        rm.kto_loss(x, x, x, x, np.zeros(3), x)
    with pytest.raises(ValueError, match="policy_kl must not be empty"):
        rm.kto_loss(x, x, np.zeros(0), x, x, np.zeros(0))
    with pytest.raises(ValueError, match="must not both be empty"):
        rm.kto_loss(np.zeros(0), np.zeros(0), x, np.zeros(0), np.zeros(0), x)
    with pytest.raises(ValueError, match="ref_kl must be finite"):
        rm.kto_loss(x, x, x, x, x, np.array([0.0, np.inf]))
    with pytest.raises(ValueError, match="policy_chosen must be a 1-d array"):
        rm.kto_loss(np.zeros((2, 2)), x, x, np.zeros((2, 2)), x, x)
    with pytest.raises(TypeError, match="must all be arrays of the same library"):
        rm.kto_loss(torch.zeros(2), x, x, x, x, x)
