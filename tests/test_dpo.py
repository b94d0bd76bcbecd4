"""DPO losses: closed forms per variant, gradients, extremes, bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from hypothesis_profiles import examples

import rlhf_mini as rm


def _logsig(x):
    return -np.logaddexp(0, -x)


def _inputs(h, n=1):
    """Policy/reference log-probs whose log-ratio difference is h."""
    pc = np.full(n, -2.0) + h
    return pc, np.full(n, -3.0), np.full(n, -2.0), np.full(n, -3.0)


def test_policy_equal_to_reference_gives_log_2():
    x = np.array([-1.0, -50.0, -3.5])
    losses, cr, rr = rm.dpo_loss(x, x - 1, x, x - 1, beta=0.3)
    np.testing.assert_allclose(losses, math.log(2))
    np.testing.assert_allclose(cr, 0.0)
    np.testing.assert_allclose(rr, 0.0)


@pytest.mark.parametrize("h", [-4.0, -0.5, 0.0, 0.3, 7.0])
@pytest.mark.parametrize("beta", [0.05, 0.1, 1.0])
def test_each_variant_matches_its_equation(h, beta):
    args = _inputs(h)
    eps = 0.2
    bh = beta * h
    expected = {
        ("sigmoid", 0.0): -_logsig(bh),
        ("sigmoid", eps): -(1 - eps) * _logsig(bh) - eps * _logsig(-bh),
        ("ipo", 0.0): (h - 1 / (2 * beta)) ** 2,
        ("hinge", 0.0): max(0.0, 1 - bh),
        ("robust", eps): ((1 - eps) * -_logsig(bh) + eps * _logsig(-bh)) / (1 - 2 * eps),
    }
    for (loss_type, ls), value in expected.items():
        losses, _, _ = rm.dpo_loss(*args, beta=beta, loss_type=loss_type, label_smoothing=ls)
        assert float(losses[0]) == pytest.approx(float(value), rel=1e-12, abs=1e-12), loss_type


def test_implicit_rewards_are_beta_times_log_ratios():
    pc, pr, rc, rr = np.array([-1.0]), np.array([-4.0]), np.array([-2.0]), np.array([-3.0])
    _, chosen, rejected = rm.dpo_loss(pc, pr, rc, rr, beta=0.5)
    assert float(chosen[0]) == pytest.approx(0.5 * (-1 + 2))
    assert float(rejected[0]) == pytest.approx(0.5 * (-4 + 3))


def test_reference_model_matters():
    # same policy log-probs, different reference: the loss changes (DPO is not "just" the
    # policy's preference margin)
    pc, pr = np.array([-1.0]), np.array([-2.0])
    a, _, _ = rm.dpo_loss(pc, pr, np.array([-1.0]), np.array([-2.0]))
    b, _, _ = rm.dpo_loss(pc, pr, np.array([-3.0]), np.array([-1.0]))
    assert float(a[0]) == pytest.approx(math.log(2))
    assert float(b[0]) < float(a[0])


def test_robust_is_unbiased_for_flipped_labels():
    # robust DPO: expectation over label noise eps of the robust loss equals the clean loss
    h, beta, eps = 1.7, 0.4, 0.3
    clean = -_logsig(beta * h)
    l_keep, _, _ = rm.dpo_loss(*_inputs(h), beta=beta, loss_type="robust", label_smoothing=eps)
    l_flip, _, _ = rm.dpo_loss(*_inputs(-h), beta=beta, loss_type="robust", label_smoothing=eps)
    assert (1 - eps) * float(l_keep[0]) + eps * float(l_flip[0]) == pytest.approx(clean)


@pytest.mark.parametrize("loss_type", rm.DPO_LOSS_TYPES)
def test_extreme_log_ratio_differences_stay_finite_and_correct(loss_type):
    ls = 0.1 if loss_type in ("sigmoid", "robust") else 0.0
    for h in (5000.0, -5000.0, 1e4, -1e4):
        losses, cr, rr = rm.dpo_loss(*_inputs(h), beta=0.1, loss_type=loss_type, label_smoothing=ls)
        assert np.all(np.isfinite(losses)) and np.all(np.isfinite(cr)) and np.all(np.isfinite(rr))
        g_c, g_r = rm.dpo_loss_grad(*_inputs(h), beta=0.1, loss_type=loss_type, label_smoothing=ls)
        assert np.all(np.isfinite(g_c)) and np.all(np.isfinite(g_r))
    # sigmoid, h = 5000, beta = 0.1: -log sigmoid(500) = log1p(e^-500) ~ 7e-218
    losses, _, _ = rm.dpo_loss(*_inputs(5000.0), beta=0.1)
    assert 0 <= float(losses[0]) < 1e-200
    losses, _, _ = rm.dpo_loss(*_inputs(-5000.0), beta=0.1)
    assert float(losses[0]) == pytest.approx(500.0)


@settings(max_examples=examples(40))
@given(
    arrays(np.float64, 4, elements=st.floats(-20, 0)),
    arrays(np.float64, 4, elements=st.floats(-20, 0)),
    arrays(np.float64, 4, elements=st.floats(-20, 0)),
    arrays(np.float64, 4, elements=st.floats(-20, 0)),
    st.floats(0.01, 2.0),
    st.sampled_from(
        [("sigmoid", 0.0), ("sigmoid", 0.2), ("ipo", 0.0), ("hinge", 0.0), ("robust", 0.1)]
    ),
)
def test_gradients_match_finite_differences(pc, pr, rc, rr, beta, variant):
    loss_type, ls = variant
    kw = dict(beta=beta, loss_type=loss_type, label_smoothing=ls)
    g_c, g_r = rm.dpo_loss_grad(pc, pr, rc, rr, **kw)
    eps = 1e-6
    h = (pc - rc) - (pr - rr)
    for i in range(4):
        if loss_type == "hinge" and abs(1 - beta * h[i]) < 1e-4:
            continue  # kink
        e = np.zeros(4)
        e[i] = eps
        fd_c = (
            rm.dpo_loss(pc + e, pr, rc, rr, **kw)[0] - rm.dpo_loss(pc - e, pr, rc, rr, **kw)[0]
        ) / (2 * eps)
        fd_r = (
            rm.dpo_loss(pc, pr + e, rc, rr, **kw)[0] - rm.dpo_loss(pc, pr - e, rc, rr, **kw)[0]
        ) / (2 * eps)
        assert g_c[i] == pytest.approx(fd_c[i], rel=1e-5, abs=1e-6)
        assert g_r[i] == pytest.approx(fd_r[i], rel=1e-5, abs=1e-6)
        # each example's loss depends only on its own log-probs
        np.testing.assert_allclose(np.delete(fd_c, i), 0.0, atol=1e-9)


@given(st.floats(-50, 50), st.floats(0.01, 5))
def test_sigmoid_loss_decreases_as_chosen_log_ratio_grows(h, beta):
    a, _, _ = rm.dpo_loss(*_inputs(h), beta=beta)
    b, _, _ = rm.dpo_loss(*_inputs(h + 1.0), beta=beta)
    assert float(b[0]) <= float(a[0])


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"beta": 0.0}, ValueError, "beta must be > 0"),
        ({"beta": -1.0}, ValueError, "beta must be > 0"),
        ({"beta": "x"}, TypeError, "beta"),
        ({"loss_type": "kto"}, ValueError, "loss_type must be one of"),
        ({"label_smoothing": 0.5}, ValueError, "label_smoothing must be in"),
        ({"label_smoothing": -0.1}, ValueError, "label_smoothing must be in"),
        ({"loss_type": "ipo", "label_smoothing": 0.1}, ValueError, "label_smoothing applies"),
    ],
)
def test_bad_hyperparameters(kwargs, exc, match):
    args = _inputs(0.5)
    with pytest.raises(exc, match=match):
        rm.dpo_loss(*args, **kwargs)
    with pytest.raises(exc, match=match):
        rm.dpo_loss_grad(*args, **kwargs)


def test_bad_arrays():
    good = np.zeros(3)
    with pytest.raises(ValueError, match="policy_rejected_logps must have the same shape"):
        rm.dpo_loss(good, np.zeros(2), good, good)
    with pytest.raises(ValueError, match="reference_chosen_logps must be finite"):
        rm.dpo_loss(good, good, np.array([0.0, np.nan, 0.0]), good)
    with pytest.raises(ValueError, match="must not be empty"):
        rm.dpo_loss(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    with pytest.raises(TypeError, match="reference_rejected_logps"):
        rm.dpo_loss(good, good, good, "abc")
