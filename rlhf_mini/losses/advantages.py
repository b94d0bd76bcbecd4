"""Generalized Advantage Estimation.

Schulman et al. 2015, "High-Dimensional Continuous Control Using Generalized Advantage
Estimation", arXiv 1506.02438.

    delta_t = r_t + gamma V(s_{t+1}) - V(s_t)            (TD residual; V after the last step = 0)
    A_t     = sum_{l >= 0} (gamma lam)^l delta_{t+l}  =  delta_t + gamma lam A_{t+1}
    R_t     = A_t + V(s_t)                                (the value-function target)

lam = 0 gives the one-step TD residual (low variance, biased by V); lam = 1 gives the
Monte-Carlo return minus the baseline (unbiased, high variance).
"""

from __future__ import annotations

from typing import Any

from rlhf_mini.core.arrays import same_backend
from rlhf_mini.core.checks import check_in_range

__all__ = ["gae"]


def gae(rewards: Any, values: Any, gamma: float = 1.0, lam: float = 0.95) -> tuple[Any, Any]:
    """Advantages and returns for episodes of equal length T.

    Parameters
    ----------
    rewards, values : arrays of shape (batch, T) or (T,)
        Per-step rewards r_t and value estimates V(s_t). The value after the last step is 0
        (every episode ends at T).
    gamma : float in [0, 1]
        Discount factor.
    lam : float in [0, 1]
        GAE's bias/variance trade-off.

    Returns
    -------
    advantages, returns : arrays shaped like ``rewards``.

    Examples
    --------
    >>> import numpy as np
    >>> adv, ret = gae(np.array([[0.0, 0.0, 1.0]]), np.zeros((1, 3)), gamma=1.0, lam=1.0)
    >>> adv
    array([[1., 1., 1.]])
    """
    gamma = check_in_range(gamma, "gamma", 0.0, 1.0, low_open=False, high_open=False)
    lam = check_in_range(lam, "lam", 0.0, 1.0, low_open=False, high_open=False)
    xp, a = same_backend({"rewards": rewards, "values": values})
    r, v = a["rewards"], a["values"]
    if r.ndim not in (1, 2):
        raise ValueError(f"rewards must have shape (batch, T) or (T,), got {tuple(r.shape)}")
    squeeze = r.ndim == 1
    if squeeze:
        r, v = r[None, :], v[None, :]
    T = r.shape[1]
    zero = xp.zeros_like(r[:, 0])  # (batch,)
    next_value = zero
    running = zero
    columns = []
    for t in range(T - 1, -1, -1):
        delta = r[:, t] + gamma * next_value - v[:, t]
        running = delta + gamma * lam * running
        columns.append(running)
        next_value = v[:, t]
    advantages = xp.stack(columns[::-1], axis=1)  # (batch, T)
    returns = advantages + v
    if squeeze:
        return advantages[0, :], returns[0, :]
    return advantages, returns
