"""The library's one sampler: inverse-CDF draws from categorical distributions.

Uniforms always come from a ``numpy.random.Generator`` on the CPU, so every backend (numpy,
torch on CPU or CUDA, Pyodide's numpy) makes the same draws for the same seed; that is what
makes runs reproducible and numpy/torch parity testable.

    y = #{k : cdf[k] <= u},   cdf[k] = sum_{j <= k} p[j],   u ~ U[0, 1)

so P(y = k) = cdf[k] - cdf[k - 1] = p[k]. The last index is a guard for cdf[-1] = 1 - 1e-16 < u.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["sample_categorical"]


def sample_categorical(xp: Any, probs: Any, uniforms: Any) -> Any:
    """Indices y[..., j] ~ probs[..., :] from ``uniforms`` (..., n) in [0, 1).

    Parameters
    ----------
    probs : array (..., K)
        Probabilities over the last axis (rows sum to 1).
    uniforms : array (..., n)
        Uniform draws, on the same backend as ``probs``; one sample per uniform.

    Returns
    -------
    int array (..., n) of indices in [0, K).

    Examples
    --------
    >>> import numpy as np
    >>> sample_categorical(np, np.array([[0.1, 0.2, 0.7]]), np.array([[0.05, 0.1, 0.29, 0.31]]))
    array([[0, 1, 1, 2]])
    """
    k = probs.shape[-1]
    cdf = xp.cumulative_sum(probs, axis=-1) if hasattr(xp, "cumulative_sum") else None
    if cdf is None:  # array-api-compat before cumulative_sum: numpy/torch both have cumsum
        cdf = xp.cumsum(probs, axis=-1)
    below = cdf[..., None, :] <= uniforms[..., :, None]  # (..., n, K)
    y = xp.sum(xp.astype(below, xp.int64), axis=-1)
    return xp.clip(y, 0, k - 1) if not isinstance(y, np.ndarray) else np.minimum(y, k - 1)
