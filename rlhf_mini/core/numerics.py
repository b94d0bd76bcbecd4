"""Numerically careful building blocks shared by the losses, models and trainers.

    log_sigmoid(x) = -log(1 + exp(-x))          as -logaddexp(0, -x): no overflow
    sigmoid(x)     = exp(log_sigmoid(x))
    log_softmax(z) = z - max z - log sum exp(z - max z)   over the last axis
    one_hot(i, n)  rows of an identity matrix: the one way the library gathers
                   log pi(y) out of a table, as sum(one_hot * log_probs, axis=-1)

The one rule for exponentials of log-ratios (a PPO ratio ``exp(log p_new - log p_old)``, the
k3 KL estimator ``exp(log r) - 1 - log r``): compute the formula exactly wherever its value is
representable in the array's dtype, and saturate only where ``exp`` would overflow. The cap
comes from the dtype,

    cap = log(finfo(dtype).max) + log1p(-4 eps)      about 709.78 in float64, 88.72 in float32

rounded *down* to a value the dtype holds, so ``exp(cap)`` is finite even for an ``exp`` that
is a couple of ulps high (CUDA's float32 ``exp`` may round up) and within a relative 1e-13
(float64) or 1e-5 (float32) of the dtype's largest number. No clip at an arbitrary smaller
bound: a log-ratio of 500 gives exp(500) ~ 1.4e217 in float64, as the formula (and TRL,
CleanRL) do; far below, ``exp`` underflows to 0, the correctly rounded value.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

__all__ = [
    "clip",
    "exp_log_ratio",
    "log_ratio_cap",
    "log_sigmoid",
    "log_softmax",
    "one_hot",
    "saturate_log_ratio",
    "sigmoid",
]


def _round_down(value: float, eps: float) -> float:
    """The largest number <= ``value`` > 0 with the precision of a dtype whose epsilon is
    ``eps`` (2 ** -(p - 1) for p significant bits), for dtypes numpy may not know
    (torch's bfloat16)."""
    bits = round(-math.log2(eps)) + 1
    mantissa, exponent = math.frexp(value)  # value = mantissa * 2**exponent, 0.5 <= mantissa < 1
    return math.ldexp(math.floor(math.ldexp(mantissa, bits)), exponent - bits)


@functools.cache
def _cap(max_value: float, eps: float) -> float:
    return _round_down(math.log(max_value) + math.log1p(-4 * eps), eps)


def log_ratio_cap(xp: Any, dtype: Any) -> float:
    """The largest log-ratio :func:`exp_log_ratio` exponentiates as is, for ``dtype``.

    Examples
    --------
    >>> import numpy as np
    >>> round(log_ratio_cap(np, np.float64), 6), round(log_ratio_cap(np, np.float32), 4)
    (709.782713, 88.7228)
    """
    info = xp.finfo(dtype)
    return _cap(float(info.max), float(info.eps))


def saturate_log_ratio(xp: Any, x: Any) -> Any:
    """``min(x, cap)`` with the cap of ``x``'s dtype (see the module docstring)."""
    cap = log_ratio_cap(xp, x.dtype)
    if isinstance(x, np.ndarray):
        return np.minimum(x, cap)
    return xp.clip(x, max=cap)


def exp_log_ratio(xp: Any, log_ratio: Any, log_scale: Any = None) -> Any:
    """``exp(log_ratio)``, exact where representable, saturated where ``exp`` would overflow.

    With ``log_scale`` (an array of ``log |A| >= 0`` for a factor ``A`` the result will be
    multiplied by, broadcasting), the exponent is capped at ``cap - log_scale`` instead, so
    that ``exp(log_ratio) * |A|`` stays finite too: the product is then exact wherever it is
    representable and saturates at the dtype's largest value otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> float(exp_log_ratio(np, np.array(500.0)))            # exp(500), not exp(50)
    1.4035922178528375e+217
    >>> float(exp_log_ratio(np, np.array(1000.0)))           # exp(1000) overflows: saturated
    1.797693134862...e+308
    >>> float(exp_log_ratio(np, np.array(1000.0, dtype=np.float32)))
    3.4027985...e+38
    """
    if log_scale is None:
        return xp.exp(saturate_log_ratio(xp, log_ratio))
    # a margin of a few ulps in log space: the rounded product must not pass the maximum
    bound = log_ratio_cap(xp, log_ratio.dtype)
    upper = bound * (1 - 16 * float(xp.finfo(log_ratio.dtype).eps)) - log_scale
    return xp.exp(xp.minimum(log_ratio, xp.asarray(upper, dtype=log_ratio.dtype)))


def log_sigmoid(xp: Any, x: Any) -> Any:
    """log sigmoid(x) = -log(1 + exp(-x)), stable for any finite x."""
    return -xp.logaddexp(xp.zeros_like(x), -x)


def sigmoid(xp: Any, x: Any) -> Any:
    """sigmoid(x) = 1 / (1 + exp(-x)), computed as exp(log sigmoid(x)): no overflow."""
    return xp.exp(log_sigmoid(xp, x))


def clip(xp: Any, x: Any, low: float, high: float) -> Any:
    """``clip(x, low, high)``; numpy's own ufunc for numpy arrays (the wrapper is ~10x slower)."""
    if isinstance(x, np.ndarray):
        return np.clip(x, low, high)
    return xp.clip(x, low, high)


def log_softmax(xp: Any, logits: Any) -> Any:
    """log softmax over the last axis: z - max z - log sum exp(z - max z).

    Examples
    --------
    >>> import numpy as np
    >>> np.exp(log_softmax(np, np.array([[0.0, np.log(3.0)]])))
    array([[0.25, 0.75]])
    """
    z = logits - xp.max(logits, axis=-1, keepdims=True)
    return z - xp.log(xp.sum(xp.exp(z), axis=-1, keepdims=True))


def one_hot(index: Any, n: int) -> np.ndarray:
    """Numpy rows of the n x n identity picked by the int array ``index``: shape (..., n).

    ``sum(one_hot(y, n) * log_probs, axis=-1)`` gathers log pi(y) on any backend (the array
    API has no portable gather), and its transpose scatters gradients back.
    """
    return np.eye(n)[np.asarray(index)]
