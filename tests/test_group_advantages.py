"""GRPO and RLOO advantages: closed forms, torch.std as the peer, invariants, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import rlhf_mini as rm

SETTINGS = settings(max_examples=50, deadline=None, derandomize=True)
REWARDS = st.integers(1, 4).flatmap(
    lambda n: st.integers(2, 6).flatmap(
        lambda g: arrays(np.float64, (n, g), elements=st.floats(-1e3, 1e3))
    )
)


def test_closed_forms():
    r = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 6.0]])
    centred = np.array([[-1.0, 0.0, 1.0], [-2.0, -2.0, 4.0]])
    np.testing.assert_allclose(rm.grpo_advantages(r, scale="none"), centred, rtol=1e-15)
    group_std = np.array([[1.0], [np.sqrt(12.0)]])  # sqrt(sum d^2 / (G - 1))
    np.testing.assert_allclose(
        rm.grpo_advantages(r, scale="group"), centred / (group_std + 1e-4), rtol=1e-14
    )
    batch_std = np.std(r, ddof=1)
    np.testing.assert_allclose(
        rm.grpo_advantages(r, scale="batch"), centred / (batch_std + 1e-4), rtol=1e-14
    )
    # leave-one-out: 1 - (2 + 3) / 2, ...
    np.testing.assert_allclose(
        rm.rloo_advantages(r), [[-1.5, 0.0, 1.5], [-3.0, -3.0, 6.0]], rtol=1e-15
    )


@SETTINGS
@given(REWARDS, st.sampled_from(rm.GRPO_SCALES))
@example(np.full((1, 5), 410.470861), "group")  # equal rewards: torch's mean is an ulp off
def test_grpo_matches_torch_std_with_bessel_correction(r, scale):
    t = torch.tensor(r)
    centred = t - t.mean(dim=1, keepdim=True)
    if scale == "group":
        expected = centred / (t.std(dim=1, keepdim=True) + 1e-4)
    elif scale == "batch":
        expected = centred / (t.std() + 1e-4)
    else:
        expected = centred
    got = rm.grpo_advantages(t, scale=scale)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    # torch's plain mean is off by a few ulps of |r| (ours centres equal rewards exactly),
    # and dividing by std + 1e-4 can magnify that by 1e4
    atol = 1e-10 + 1e4 * 8 * np.finfo(np.float64).eps * float(np.abs(r).max())
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-10, atol=atol)
    np.testing.assert_allclose(
        rm.grpo_advantages(r, scale=scale), got.numpy(), rtol=1e-12, atol=1e-12
    )


@SETTINGS
@given(REWARDS)
@example(np.full((2, 4), 7.0))
def test_rloo_is_the_leave_one_out_baseline(r):
    a = rm.rloo_advantages(r)
    n, k = r.shape
    for i in range(n):
        for j in range(k):
            others = np.delete(r[i], j)
            assert a[i, j] == pytest.approx(
                r[i, j] - others.mean(), abs=1e-9 * (1 + np.abs(r).max())
            )
    # k / (k - 1) times GRPO's unscaled advantage
    np.testing.assert_allclose(
        a, k / (k - 1) * rm.grpo_advantages(r, scale="none"), atol=1e-9 * (1 + np.abs(r).max())
    )
    np.testing.assert_allclose(
        rm.rloo_advantages(torch.tensor(r)).numpy(), a, rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("scale", rm.GRPO_SCALES)
def test_all_equal_rewards_in_a_group_give_exactly_zero_advantage(scale):
    r = np.array([[5.0, 5.0, 5.0, 5.0], [0.0, 1.0, 0.0, 1.0], [0.1, 0.1, 0.1, 0.1]])
    a = rm.grpo_advantages(r, scale=scale)
    assert (a[0] == 0).all() and (a[2] == 0).all() and np.isfinite(a).all()
    assert (rm.rloo_advantages(r)[[0, 2]] == 0).all()
    # a float mean of eight 0.1s is off by an ulp; the 1e-4 would turn that into ~1e-4
    t = torch.full((3, 8), 0.1, dtype=torch.float32)
    for a32 in (rm.grpo_advantages(t, scale=scale), rm.rloo_advantages(t)):
        assert a32.dtype == torch.float32 and bool((a32 == 0).all())
    if scale != "batch":  # each group on its own: any magnitude
        huge = rm.grpo_advantages(np.full((1, 4), -1e300), scale=scale)
        assert (huge == 0).all()


@SETTINGS
@given(REWARDS, st.floats(-100, 100), st.floats(0.5, 20))
def test_group_scaled_advantages_ignore_shift_and_almost_scale(r, shift, factor):
    # shift invariance is exact up to rounding; scale invariance holds up to the 1e-4
    a = rm.grpo_advantages(r)
    np.testing.assert_allclose(
        rm.grpo_advantages(r + shift), a, atol=1e-6 * (1 + np.abs(r).max() + abs(shift)) / 1e-4
    )
    spread = r.std(axis=1, ddof=1, keepdims=True)
    wide = spread > 1e-2
    if wide.all():
        np.testing.assert_allclose(rm.grpo_advantages(factor * r), a, rtol=2e-2, atol=1e-6)
    # each group's advantages sum to 0
    np.testing.assert_allclose(a.sum(axis=1), 0.0, atol=1e-6 * r.shape[1] * (1 + np.abs(a).max()))


def test_float32_stays_float32():
    r = torch.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=torch.float32)
    for a in (rm.grpo_advantages(r), rm.rloo_advantages(r)):
        assert a.dtype == torch.float32


def test_bad_input():
    with pytest.raises(ValueError, match="rewards must have shape \\(n_prompts, group_size\\)"):
        rm.grpo_advantages(np.zeros(4))
    with pytest.raises(ValueError, match="group_size >= 2"):
        rm.rloo_advantages(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="scale must be one of"):
        rm.grpo_advantages(np.zeros((2, 2)), scale="std")
    with pytest.raises(ValueError, match="rewards must be finite"):
        rm.grpo_advantages(np.array([[0.0, np.nan]]))
    with pytest.raises(TypeError, match="rewards must hold real numbers"):
        rm.rloo_advantages(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="rewards must not be empty"):
        rm.rloo_advantages(np.zeros((0, 2)))
