"""Numerically careful building blocks shared by the losses and trainers.

The one rule for exponentials of log-ratios (a PPO ratio ``exp(log p_new - log p_old)``, the
k3 KL estimator ``exp(log r) - 1 - log r``): compute the formula exactly wherever its value is
representable in the array's dtype, and saturate only where ``exp`` would overflow, at the
largest finite value of that dtype (log-ratios above about 709.78 in float64, 88.72 in
float32). No clip at an arbitrary smaller bound: a log-ratio of 500 gives exp(500) ~ 1.4e217
in float64, as the formula (and TRL, CleanRL) do.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

__all__ = ["exp_log_ratio", "max_log"]


@functools.cache
def _max_log(xp: Any, dtype: Any) -> float:
    # Start from log(max) computed in float64 and step down in the target dtype until exp of it
    # is finite there: log(max) rounded to float32 (88.72284) rounds *up*, and exp overflows.
    torch_name = str(dtype).removeprefix("torch.")
    numpy_dtype = np.dtype(torch_name) if str(dtype).startswith("torch.") else np.dtype(dtype)
    candidate = np.asarray(math.log(float(xp.finfo(dtype).max)), dtype=numpy_dtype)
    with np.errstate(over="ignore"):
        while not bool(xp.isfinite(xp.exp(xp.asarray(float(candidate), dtype=dtype)))):
            candidate = np.nextafter(candidate, numpy_dtype.type(-np.inf))
    return float(candidate)


def max_log(xp: Any, dtype: Any) -> float:
    """The largest x of ``dtype`` with ``exp(x)`` finite: ~709.78 (float64), ~88.72 (float32).

    Examples
    --------
    >>> import numpy as np
    >>> round(max_log(np, np.float64), 2), round(max_log(np, np.float32), 2)
    (709.78, 88.72)
    """
    return _max_log(xp, dtype)


def exp_log_ratio(xp: Any, log_ratio: Any, log_scale: Any = None) -> Any:
    """``exp(log_ratio)``, exact where representable, saturated where ``exp`` would overflow.

    With ``log_scale`` (an array of ``log |A| >= 0`` for a factor ``A`` the result will be
    multiplied by, broadcasting), the exponent is capped at ``max_log - log_scale`` instead, so
    that ``exp(log_ratio) * |A|`` stays finite too: the product is then exact wherever it is
    representable and saturates at the dtype's largest value otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> float(exp_log_ratio(np, np.array(500.0)))            # exp(500), not exp(50)
    1.4035922178528375e+217
    >>> float(exp_log_ratio(np, np.array(1000.0)))           # exp(1000) overflows: saturated
    1.7976931348622732e+308
    >>> float(exp_log_ratio(np, np.array(1000.0, dtype=np.float32)))
    3.4027985...e+38
    """
    bound = max_log(xp, log_ratio.dtype)
    if log_scale is None:
        upper = bound
    else:  # a margin of a few ulps in log space: the rounded product must not pass max
        upper = bound * (1 - 16 * float(xp.finfo(log_ratio.dtype).eps)) - log_scale
    return xp.exp(xp.minimum(log_ratio, xp.asarray(upper, dtype=log_ratio.dtype)))
