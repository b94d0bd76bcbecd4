"""Exponentials of log-ratios that never overflow, with the bound taken from the dtype.

Policy-gradient losses exponentiate log-ratios of probabilities: the importance ratio
``exp(log pi - log pi_old)``, the k3 KL estimator's ``exp(log pi_ref - log pi)``. A log-ratio
is only capped where ``exp`` itself would overflow, at

    cap = log(finfo(dtype).max) + log1p(-4 eps)      about 709.78 in float64, 88.72 in float32

rounded *down* to a value the dtype holds. ``exp(cap)`` is then finite even for an ``exp``
that is a couple of ulps high (the 4-eps margin; CUDA's float32 ``exp`` may round up) and is
within a relative 1e-13 (float64) or 1e-5 (float32) of the dtype's largest number. Below the cap the
formula is computed exactly as written; far below, ``exp`` underflows to 0, which is the
correctly rounded value.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

__all__ = ["exp_log_ratio", "log_ratio_cap", "saturate_log_ratio"]


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
    >>> from array_api_compat import array_namespace
    >>> xp = array_namespace(np.zeros(1))
    >>> round(log_ratio_cap(xp, np.float64), 6), round(log_ratio_cap(xp, np.float32), 4)
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


def exp_log_ratio(xp: Any, x: Any) -> Any:
    """``exp(x)`` for a log-ratio ``x``: exact where the result fits the dtype, else saturated.

    Examples
    --------
    >>> import numpy as np
    >>> from array_api_compat import array_namespace
    >>> xp = array_namespace(np.zeros(1))
    >>> r = exp_log_ratio(xp, np.array([-500.0, 0.0, 500.0, 1e4]))
    >>> bool(r[2] == np.exp(500.0)), bool(np.isfinite(r[3])), float(r[1])
    (True, True, 1.0)
    >>> bool(np.isfinite(exp_log_ratio(xp, np.array([500.0], dtype=np.float32))[0]))
    True
    """
    return xp.exp(saturate_log_ratio(xp, x))
