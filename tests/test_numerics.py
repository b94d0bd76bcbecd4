"""core.numerics: exp of a log-ratio, exact where it fits the dtype, saturated only beyond."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from array_api_compat import array_namespace
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rlhf_mini.core.numerics import exp_log_ratio, log_ratio_cap, saturate_log_ratio

NP = array_namespace(np.zeros(1))
TORCH = array_namespace(torch.zeros(1))
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


@pytest.mark.parametrize(
    ("dtype", "approx"), [(np.float64, 709.7827), (np.float32, 88.7228), (np.float16, 11.0859)]
)
def test_cap_is_the_last_log_ratio_whose_exp_is_finite(dtype, approx):
    cap = log_ratio_cap(NP, dtype)
    assert cap == pytest.approx(approx, abs=1e-4)
    c = dtype(cap)
    assert float(c) == cap  # the dtype holds the cap exactly
    assert np.isfinite(np.exp(c))
    # a few steps of the dtype above it, exp overflows: the cap gives away almost nothing
    above = c
    for _ in range(3):
        above = np.nextafter(above, dtype(np.inf))
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.exp(above))
    # within the granularity of exp there: one step of x moves exp(x) by a factor 1 + x eps
    info = np.finfo(dtype)
    assert float(np.exp(c)) >= float(info.max) * (1 - 2 * (cap + 4) * float(info.eps))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_cap_of_every_torch_float_dtype(dtype):
    cap = log_ratio_cap(TORCH, dtype)
    t = torch.tensor(cap, dtype=dtype)
    assert float(t) == cap
    assert math.isclose(cap, math.log(torch.finfo(dtype).max), abs_tol=1.0)
    assert bool(torch.isfinite(torch.exp(t)))
    assert bool(torch.isfinite(exp_log_ratio(TORCH, torch.tensor([1e4], dtype=dtype)))[0])


@SETTINGS
@given(st.floats(-700.0, 709.0))
@example(500.0)
@example(-500.0)
@example(0.0)
def test_float64_is_exact_below_the_cap(x):
    got = exp_log_ratio(NP, np.array([x]))[0]
    assert got == np.exp(x)  # bit for bit: no clipping below the cap
    assert got == pytest.approx(math.exp(x), rel=1e-15)


@SETTINGS
@given(st.floats(-80.0, 88.0))
@example(88.0)
def test_float32_is_exp_of_the_float32_input_below_the_cap(x):
    a = np.array([x], dtype=np.float32)
    got = exp_log_ratio(NP, a)
    assert got.dtype == np.float32
    assert got[0] == np.exp(a)[0]
    t = exp_log_ratio(TORCH, torch.tensor(a))
    assert t.dtype == torch.float32
    assert float(t[0]) == pytest.approx(float(np.exp(a.astype(np.float64))[0]), rel=1e-6)


@pytest.mark.parametrize(
    ("dtype", "xp", "make"),
    [
        (np.float64, NP, np.array),
        (np.float32, NP, np.array),
        (torch.float64, TORCH, torch.tensor),
        (torch.float32, TORCH, torch.tensor),
    ],
)
def test_saturates_only_beyond_the_cap(dtype, xp, make):
    cap = log_ratio_cap(xp, dtype)
    x = make(
        [cap - 1.0, cap, cap + 1.0, 1e4, 1e300 if dtype in (np.float64, torch.float64) else 1e30],
        dtype=dtype,
    )
    s = saturate_log_ratio(xp, x)
    assert [float(v) for v in s] == [float(x[0]), cap, cap, cap, cap]
    r = exp_log_ratio(xp, x)
    assert all(math.isfinite(float(v)) for v in r)
    assert float(r[1]) == float(r[4])  # flat beyond the cap


def test_large_negative_log_ratios_underflow_to_zero_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert exp_log_ratio(NP, np.array([-1e4]))[0] == 0.0
        assert float(exp_log_ratio(TORCH, torch.tensor([-1e4]))[0]) == 0.0
