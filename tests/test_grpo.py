"""GRPO loss: each aggregation against a literal transcription, gradients against finite
differences and torch autograd, log-ratios of +-500, padding, bad input."""

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


def reference(lp, old, ref, adv, mask, beta=0.0, lo=0.2, hi=None, loss_type="grpo", L=None):
    """The equations of the module docstring, written out with numpy in float64."""
    hi = lo if hi is None else hi
    adv = adv[:, None] if adv.ndim == 1 else adv
    rho = np.exp(lp - old)
    per = -np.minimum(rho * adv, np.clip(rho, 1 - lo, 1 + hi) * adv)
    if beta:
        per = per + beta * (np.exp(ref - lp) - (ref - lp) - 1)
    per = np.where(mask > 0, per, 0.0)
    n, T = lp.shape
    if loss_type == "grpo":
        return float(np.mean(per.sum(-1) / np.maximum(mask.sum(-1), 1)))
    if loss_type in ("bnpo", "dapo"):
        return float(per.sum() / max(mask.sum(), 1))
    return float(per.sum() / (n * (T if L is None else L)))


@st.composite
def batches(draw, max_log_ratio=3.0, per_token_adv=None):
    n, T = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    lp = draw(arrays(np.float64, (n, T), elements=st.floats(-8, -0.05)))
    old = lp - draw(arrays(np.float64, (n, T), elements=st.floats(-max_log_ratio, max_log_ratio)))
    ref = lp + draw(arrays(np.float64, (n, T), elements=st.floats(-max_log_ratio, max_log_ratio)))
    tokenwise = draw(st.booleans()) if per_token_adv is None else per_token_adv
    adv = draw(arrays(np.float64, (n, T) if tokenwise else (n,), elements=st.floats(-3, 3)))
    lengths = draw(arrays(np.int64, (n,), elements=st.integers(0, T)))
    lengths[0] = max(lengths[0], 1)  # at least one token in the batch
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.float64)
    return lp, old, ref, adv, mask


OPTIONS = st.fixed_dictionaries(
    {
        "beta": st.sampled_from([0.0, 0.04, 1.0]),
        "clip_eps": st.sampled_from([0.1, 0.2]),
        "clip_eps_high": st.sampled_from([None, 0.28]),
        "loss_type": st.sampled_from(rm.GRPO_LOSS_TYPES),
    }
)


def _kw(options, T):
    kw = dict(options)
    if kw["loss_type"] == "dr_grpo":
        kw["max_completion_length"] = T + 2
    return kw


def _ref_kw(kw):
    return {
        "beta": kw["beta"],
        "lo": kw["clip_eps"],
        "hi": kw["clip_eps_high"],
        "loss_type": kw["loss_type"],
        "L": kw.get("max_completion_length"),
    }


def test_closed_forms_of_the_four_aggregations():
    # rho = 1 everywhere, beta = 0: each token's loss is -A of its completion.
    lp = np.full((2, 4), -1.0)
    mask = np.array([[1, 1, 1, 1], [1, 0, 0, 0]])
    adv = np.array([1.0, 3.0])
    expected = {
        "grpo": -(1.0 + 3.0) / 2,  # each completion weighs the same
        "bnpo": -(4 * 1.0 + 3.0) / 5,  # each token weighs the same
        "dapo": -(4 * 1.0 + 3.0) / 5,
        "dr_grpo": -(4 * 1.0 + 3.0) / (2 * 8),  # n * max_completion_length
    }
    for loss_type, value in expected.items():
        got = rm.grpo_loss(lp, lp, None, adv, mask, loss_type=loss_type, max_completion_length=8)
        assert float(got) == pytest.approx(value, rel=1e-15), loss_type


def test_clipping_and_clip_higher():
    # One token each: rho = 1.5 with A = +1 (capped at 1 + eps_high), rho = 0.5 with A = -1
    # (capped at 1 - eps), rho = 1.5 with A = -1 (not capped: the pessimistic term).
    lp = np.log(np.array([[1.5], [0.5], [1.5]]))
    adv = np.array([1.0, -1.0, -1.0])
    mask = np.ones((3, 1))
    assert float(rm.grpo_loss(lp[:1], np.zeros((1, 1)), None, adv[:1], mask[:1])) == pytest.approx(
        -1.2
    )
    assert float(
        rm.grpo_loss(lp[:1], np.zeros((1, 1)), None, adv[:1], mask[:1], clip_eps_high=0.28)
    ) == pytest.approx(-1.28)
    assert float(
        rm.grpo_loss(lp[1:2], np.zeros((1, 1)), None, adv[1:2], mask[1:2])
    ) == pytest.approx(0.8)
    assert float(rm.grpo_loss(lp[2:], np.zeros((1, 1)), None, adv[2:], mask[2:])) == pytest.approx(
        1.5
    )
    grad = rm.grpo_loss_grad(lp, np.zeros((3, 1)), None, adv, mask, loss_type="dapo")
    np.testing.assert_allclose(grad, [[0.0], [0.0], [1.5 / 3]], rtol=1e-15)


def test_kl_term_is_k3_in_the_loss():
    lp, ref = np.array([[-1.0, -2.0]]), np.array([[-1.5, -1.0]])
    zero_adv = np.zeros(1)
    got = rm.grpo_loss(lp, lp, ref, zero_adv, np.ones((1, 2)), beta=0.5)
    log_r = ref - lp
    assert float(got) == pytest.approx(0.5 * np.mean(np.exp(log_r) - log_r - 1), rel=1e-14)
    # k3 is the KL's unbiased estimator: its mean over samples of pi is KL(pi || pi_ref)
    pi, pi_ref = np.array([0.7, 0.2, 0.1]), np.array([0.2, 0.5, 0.3])
    logp = np.log(pi)[None, :]
    k3 = rm.grpo_loss(
        logp,
        logp,
        np.log(pi_ref)[None, :],
        zero_adv,
        np.ones((1, 3)),
        beta=1.0,
        loss_type="dr_grpo",
    )
    kl_weighted = float(np.sum(pi * (pi_ref / pi - np.log(pi_ref / pi) - 1)))
    assert kl_weighted == pytest.approx(float(np.sum(pi * np.log(pi / pi_ref))), rel=1e-12)
    assert float(k3) * 3 == pytest.approx(
        float(np.sum(pi_ref / pi - np.log(pi_ref / pi) - 1)), rel=1e-12
    )


@SETTINGS
@given(batches(), OPTIONS)
def test_matches_the_literal_equations(batch, options):
    lp, old, ref, adv, mask = batch
    kw = _kw(options, lp.shape[1])
    got = rm.grpo_loss(lp, old, ref, adv, mask, **kw)
    assert float(got) == pytest.approx(
        reference(lp, old, ref, adv, mask, **_ref_kw(kw)), rel=1e-12, abs=1e-12
    )


@SETTINGS
@given(batches(), OPTIONS)
def test_gradient_matches_finite_differences(batch, options):
    lp, old, ref, adv, mask = batch
    kw = _kw(options, lp.shape[1])
    grad = rm.grpo_loss_grad(lp, old, ref, adv, mask, **kw)
    assert grad.shape == lp.shape
    hi = kw["clip_eps_high"] or kw["clip_eps"]
    rho = np.exp(lp - old)
    h = 1e-6
    for idx in np.ndindex(*lp.shape):
        if min(abs(rho[idx] - (1 + hi)), abs(rho[idx] - (1 - kw["clip_eps"]))) < 1e-4:
            continue  # a kink of the clip
        up, down = lp.copy(), lp.copy()
        up[idx] += h
        down[idx] -= h
        fd = (
            float(rm.grpo_loss(up, old, ref, adv, mask, **kw))
            - float(rm.grpo_loss(down, old, ref, adv, mask, **kw))
        ) / (2 * h)
        assert grad[idx] == pytest.approx(fd, rel=1e-5, abs=1e-7), idx
    assert (grad[mask == 0] == 0).all()


@SETTINGS
@given(batches(max_log_ratio=500.0), OPTIONS)
@example(
    (
        np.array([[-1.0, -1.0]]),
        np.array([[-501.0, 499.0]]),
        np.array([[499.0, -501.0]]),
        np.array([0.5]),
        np.ones((1, 2)),
    ),
    {"beta": 1.0, "clip_eps": 0.2, "clip_eps_high": None, "loss_type": "grpo"},
)
@example(  # a reference 4e-14 away: autograd's exp(x) - 1 cancels, the hand-written expm1 not
    (
        np.array([[-1.0]]),
        np.array([[-1.0]]),
        np.array([[-1.0 + 4e-14]]),
        np.zeros(1),
        np.ones((1, 1)),
    ),
    {"beta": 0.04, "clip_eps": 0.1, "clip_eps_high": None, "loss_type": "grpo"},
)
def test_gradient_matches_torch_autograd_even_at_log_ratios_of_500(batch, options):
    lp, old, ref, adv, mask = batch
    kw = _kw(options, lp.shape[1])
    t_lp = torch.tensor(lp, requires_grad=True)
    loss = rm.grpo_loss(
        t_lp, torch.tensor(old), torch.tensor(ref), torch.tensor(adv), torch.tensor(mask), **kw
    )
    loss.backward()
    grad = rm.grpo_loss_grad(lp, old, ref, adv, mask, **kw)
    assert np.isfinite(grad).all() and math.isfinite(loss.item())
    # autograd differentiates expm1(x) - x as exp(x) - 1 (cancelling near x = 0): absolute 1e-12
    np.testing.assert_allclose(grad, t_lp.grad.numpy(), rtol=1e-10, atol=1e-12)
    # numpy and torch agree on the loss too
    assert loss.item() == pytest.approx(
        float(rm.grpo_loss(lp, old, ref, adv, mask, **kw)), rel=1e-12, abs=1e-300
    )


@pytest.mark.parametrize("loss_type", rm.GRPO_LOSS_TYPES)
def test_log_ratios_of_500_are_exact_in_float64(loss_type):
    # exp(500) ~ 1.4e217 fits in float64: nothing is saturated, the value is the formula's.
    lp = np.array([[-1.0, -1.0, -1.0]])
    old = lp - np.array([[500.0, -500.0, 0.3]])
    ref = lp + np.array([[-500.0, 500.0, 0.1]])
    adv = np.array([[-0.5, 0.5, 2.0]])
    mask = np.ones((1, 3))
    got = rm.grpo_loss(lp, old, ref, adv, mask, beta=0.1, loss_type=loss_type)
    expected = reference(lp, old, ref, adv, mask, beta=0.1, loss_type=loss_type)
    assert math.isfinite(expected) and expected > 1e215
    assert float(got) == pytest.approx(expected, rel=1e-14)
    g = rm.grpo_loss_grad(lp, old, ref, adv, mask, beta=0.1, loss_type=loss_type)
    assert np.isfinite(g).all()


def test_float32_saturates_only_beyond_its_range_and_never_gives_nan():
    lp = np.array([[-1.0, -1.0, -1.0, -1.0]], dtype=np.float32)
    old = lp - np.array([[500.0, -500.0, 80.0, 0.0]], dtype=np.float32)
    adv = np.array([[-0.5, 0.5, -0.5, 1.0]], dtype=np.float32)
    mask = np.ones((1, 4), dtype=np.float32)
    for xp_lp, xp_old, xp_adv, xp_mask in (
        (lp, old, adv, mask),
        (torch.tensor(lp), torch.tensor(old), torch.tensor(adv), torch.tensor(mask)),
    ):
        loss = rm.grpo_loss(xp_lp, xp_old, None, xp_adv, xp_mask, loss_type="dapo")
        grad = rm.grpo_loss_grad(xp_lp, xp_old, None, xp_adv, xp_mask, loss_type="dapo")
        assert loss.dtype in (np.float32, torch.float32)
        assert math.isfinite(float(loss)) and bool(np.isfinite(np.asarray(grad)).all())
        # the token at log-ratio 80 is exact: exp(80) fits float32
        assert float(grad[0, 2]) == pytest.approx(0.5 * math.exp(80.0) / 4, rel=1e-6)
        # the one at 500 is saturated at the largest float32 exp (~3.4e38)
        assert float(grad[0, 0]) == pytest.approx(
            0.5 * float(np.finfo(np.float32).max) / 4, rel=1e-4
        )


@pytest.mark.parametrize("loss_type", rm.GRPO_LOSS_TYPES)
def test_padding_is_ignored_whatever_it_holds(loss_type):
    lp = np.array([[-1.0, -2.0, -3.0], [-1.0, -1.0, -1.0]])
    old, ref = lp - 0.1, lp + 0.2
    adv = np.array([1.0, -2.0])
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    wild_lp, wild_old = lp.copy(), old.copy()
    wild_lp[mask == 0], wild_old[mask == 0] = 2000.0, -2000.0  # exp overflows in the padding
    kw = {"beta": 0.1, "loss_type": loss_type}
    assert float(rm.grpo_loss(wild_lp, wild_old, ref, adv, mask, **kw)) == pytest.approx(
        float(rm.grpo_loss(lp, old, ref, adv, mask, **kw)), rel=1e-14
    )
    g = rm.grpo_loss_grad(wild_lp, wild_old, ref, adv, mask, **kw)
    assert np.isfinite(g).all() and (g[mask == 0] == 0).all()


def test_a_completion_without_tokens_counts_as_zero_in_grpo():
    lp = np.zeros((2, 2))
    mask = np.array([[1, 1], [0, 0]])
    assert float(rm.grpo_loss(lp, lp, None, np.array([1.0, 5.0]), mask)) == pytest.approx(-0.5)


@SETTINGS
@given(batches(per_token_adv=False), OPTIONS)
def test_grpo_and_bnpo_agree_when_completions_have_equal_lengths(batch, options):
    lp, old, ref, adv, _ = batch
    mask = np.ones_like(lp)
    kw = {**options, "loss_type": "grpo"}
    a = rm.grpo_loss(lp, old, ref, adv, mask, **kw)
    b = rm.grpo_loss(lp, old, ref, adv, mask, **{**kw, "loss_type": "bnpo"})
    c = rm.grpo_loss(lp, old, ref, adv, mask, **{**kw, "loss_type": "dr_grpo"})
    assert float(a) == pytest.approx(float(b), rel=1e-12, abs=1e-12)
    assert float(c) == pytest.approx(float(b), rel=1e-12, abs=1e-12)  # max length = T


def test_bool_and_integer_masks_and_torch_float32():
    lp = torch.full((2, 3), -1.0)
    adv = torch.tensor([1.0, -1.0])
    mask_bool = torch.tensor([[True, True, False], [True, False, False]])
    a = rm.grpo_loss(lp, lp, None, adv, mask_bool)
    b = rm.grpo_loss(lp, lp, None, adv, mask_bool.long())
    assert a.dtype == torch.float32 and float(a) == float(b) == 0.0
    assert float(rm.grpo_loss(lp.numpy(), lp.numpy(), None, adv.numpy(), mask_bool.numpy())) == 0.0


def test_bad_input_names_the_argument():
    lp, mask, adv = np.zeros((2, 3)), np.ones((2, 3)), np.ones(2)
    with pytest.raises(ValueError, match="loss_type must be one of"):
        rm.grpo_loss(lp, lp, None, adv, mask, loss_type="ppo")
    with pytest.raises(ValueError, match="logp_ref is needed for the KL term"):
        rm.grpo_loss(lp, lp, None, adv, mask, beta=0.1)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        rm.grpo_loss(lp, lp, lp, adv, mask, beta=-0.1)
    with pytest.raises(ValueError, match="clip_eps must be in"):
        rm.grpo_loss(lp, lp, None, adv, mask, clip_eps=1.0)
    with pytest.raises(ValueError, match="clip_eps_high must be > 0"):
        rm.grpo_loss(lp, lp, None, adv, mask, clip_eps_high=0.0)
    with pytest.raises(ValueError, match="logp must have shape \\(n, T\\)"):
        rm.grpo_loss(np.zeros(3), np.zeros(3), None, adv, np.ones(3))
    with pytest.raises(ValueError, match="logp_old must have the same shape as logp"):
        rm.grpo_loss(lp, np.zeros((2, 4)), None, adv, mask)
    with pytest.raises(ValueError, match="advantages must have shape \\(n,\\)"):
        rm.grpo_loss(lp, lp, None, np.ones(3), mask)
    with pytest.raises(ValueError, match="mask must have the shape of logp"):
        rm.grpo_loss(lp, lp, None, adv, np.ones((2, 2)))
    with pytest.raises(ValueError, match="mask must hold only 0 and 1"):
        rm.grpo_loss(lp, lp, None, adv, 0.5 * mask)
    with pytest.raises(ValueError, match="mask must mark at least one token"):
        rm.grpo_loss(lp, lp, None, adv, 0 * mask)
    with pytest.raises(
        ValueError, match="max_completion_length must be >= the number of token positions"
    ):
        rm.grpo_loss(lp, lp, None, adv, mask, loss_type="dr_grpo", max_completion_length=2)
    with pytest.raises(TypeError, match="max_completion_length must be an int"):
        rm.grpo_loss(lp, lp, None, adv, mask, loss_type="dr_grpo", max_completion_length=4.0)
    with pytest.raises(ValueError, match="logp_old must be finite"):
        rm.grpo_loss(lp, np.full((2, 3), np.nan), None, adv, mask)
    with pytest.raises(TypeError, match="advantages must be an array of the same library as logp"):
        rm.grpo_loss(torch.zeros(2, 3), torch.zeros(2, 3), None, adv, torch.ones(2, 3))
    with pytest.raises(TypeError, match="mask must be an array of the same library as logp"):
        rm.grpo_loss(torch.zeros(2, 3), torch.zeros(2, 3), None, torch.ones(2), mask)
