"""Best-of-n sampling as a policy: its exact distribution, its exact KL, and the usual bound.

Beirami et al. 2024, "Theoretical guarantees on the best-of-n alignment policy", arXiv
2401.01879. Best-of-n draws n responses from the policy pi and keeps the one the reward
scores highest: alignment at inference time, no training. How far does it move from pi?

The formula quoted since Stiennon et al. 2020 (arXiv 2009.01325) is

    KL(pi_bon || pi) = log n - (n - 1) / n

It is exact when the reward of a sample is a continuous random variable (no atoms): then the
best of n has density n F(y)^(n-1) pi(y), with F the reward's distribution function, and
E[log(n F^(n-1))] = log n - (n - 1) / n. On a finite response set it is an *upper bound*
(Beirami et al.): the discrete best-of-n is a coarse-graining of the continuous one, and KL
can only shrink under coarse-graining. The gap is large when a few responses carry most of
the probability, and ties (equal rewards) shrink the KL further (all rewards equal: pi_bon =
pi, KL = 0). The bound is approached as the response set grows with every probability small
and every reward distinct.

Exact distribution on a finite set. With F(y) = P(r(Y) <= r(y)) and G(y) = P(r(Y) < r(y)) for
Y ~ pi, the best of n samples lands in y's reward level with probability F^n - G^n; ties
inside a level are broken uniformly among the tied samples, so within the level the choice
follows pi. Hence

    pi_bon(y) = pi(y) / (F(y) - G(y)) * (F(y)^n - G(y)^n)

which is the familiar F^n - G^n when rewards are distinct. F^n - G^n is computed as
F^n (1 - (1 - level / F)^n) with log1p / expm1, without cancellation for small levels.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rlhf_mini.core.arrays import same_backend

__all__ = ["best_of_n_kl_bound", "best_of_n_policy"]


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return int(n)


def best_of_n_kl_bound(n: int) -> float:
    """``log n - (n - 1) / n``: KL(best-of-n || policy) for continuous rewards, else a bound.

    Examples
    --------
    >>> best_of_n_kl_bound(1)
    0.0
    >>> round(best_of_n_kl_bound(4), 6)      # log 4 - 3/4
    0.636294
    """
    n = _check_n(n)
    return math.log(n) - (n - 1) / n


def best_of_n_policy(policy_probs: Any, rewards: Any, n: int) -> tuple[Any, Any]:
    """The exact best-of-n distribution on a finite response set, and its KL to the policy.

    Parameters
    ----------
    policy_probs : array, shape (K,) or (P, K)
        pi(y | x): one distribution over K responses per row (>= 0, rows sum to 1).
    rewards : array of the same shape
        The reward the selection maximises (ties broken uniformly, see the module docstring).
        Responses are compared pairwise: memory O(P K^2), meant for small sets (K <~ 2000).
    n : int >= 1
        Number of samples to choose from (n = 1: the policy itself).

    Returns
    -------
    probs : array of the input shape
        pi_bon(y | x).
    kl : array, shape () or (P,)
        KL(pi_bon || pi) per row, in nats (<= :func:`best_of_n_kl_bound`).

    Examples
    --------
    Two equally likely responses, distinct rewards: the better one wins unless both samples
    are the worse one.

    >>> import numpy as np
    >>> probs, kl = best_of_n_policy(np.array([0.5, 0.5]), np.array([0.0, 1.0]), 2)
    >>> probs, round(float(kl), 4), round(best_of_n_kl_bound(2), 4)
    (array([0.25, 0.75]), 0.1308, 0.1931)

    A tie: best-of-n cannot tell the two apart, and keeps the policy.

    >>> probs, kl = best_of_n_policy(np.array([0.5, 0.5]), np.array([1.0, 1.0]), 8)
    >>> probs, float(kl)
    (array([0.5, 0.5]), 0.0)
    """
    n = _check_n(n)
    xp, a = same_backend({"policy_probs": policy_probs, "rewards": rewards})
    pi, r = a["policy_probs"], a["rewards"]
    if pi.ndim not in (1, 2):
        raise ValueError(f"policy_probs must have shape (K,) or (P, K), got {tuple(pi.shape)}")
    if not bool(xp.all(pi >= 0)):
        raise ValueError("policy_probs must be >= 0")
    tol = math.sqrt(float(xp.finfo(pi.dtype).eps))
    if not bool(xp.all(xp.abs(xp.sum(pi, axis=-1) - 1) <= tol)):
        raise ValueError(f"policy_probs must sum to 1 along the last axis (within {tol:.1e})")

    # Pairwise comparisons within a row: axis -2 is y, axis -1 the other responses y'.
    r_y, r_other, pi_other = r[..., :, None], r[..., None, :], pi[..., None, :]
    zero = xp.zeros_like(pi_other)
    below = xp.sum(xp.where(r_other < r_y, pi_other, zero), axis=-1)  # G(y)
    level = xp.sum(xp.where(r_other == r_y, pi_other, zero), axis=-1)  # F(y) - G(y)
    top = below + level  # F(y)

    # F^n - G^n = F^n (1 - (1 - level / F)^n); level / F = 1 exactly when G = 0.
    safe_top = xp.where(top > 0, top, xp.ones_like(top))
    share = level / safe_top
    partial = share < 1
    log_rest = xp.log1p(-xp.where(partial, share, xp.zeros_like(share)))  # log(G / F)
    wins = xp.where(partial, -xp.expm1(n * log_rest), xp.ones_like(share))
    level_wins = safe_top**n * wins  # P(the best of n is in y's reward level)
    safe_level = xp.where(level > 0, level, xp.ones_like(level))
    probs = xp.where(level > 0, pi / safe_level * level_wins, xp.zeros_like(pi))

    support = probs > 0  # implies pi > 0
    ones = xp.ones_like(probs)
    log_ratio = xp.log(xp.where(support, probs, ones)) - xp.log(xp.where(support, pi, ones))
    kl = xp.sum(xp.where(support, probs * log_ratio, xp.zeros_like(probs)), axis=-1)
    return probs, kl
