"""The KL penalty that keeps an RLHF policy near its reference (SFT) model.

Samples y ~ pi (the policy). With the per-token log-ratio against the *reference* model

    log r = log pi_ref(y) - log pi(y)

the three Monte-Carlo estimators of KL(pi || pi_ref) (Schulman 2020, "Approximating KL
divergence", http://joschu.net/blog/kl-approx.html) are

    k1 = -log r                   unbiased, high variance, can be negative
    k2 = (log r)^2 / 2            biased, low variance, >= 0
    k3 = (r - 1) - log r          unbiased, low variance, >= 0  (computed as expm1(log r) - log r)

The penalised per-token reward of Ziegler et al. 2019 (arXiv 1909.08593) and Ouyang et al.
2022 (arXiv 2203.02155) is -beta * k1 at every token, with the reward model's score added at
the last token; beta can be adapted toward a KL target (:class:`AdaptiveKLController`).
"""

from __future__ import annotations

from typing import Any

from rlhf_mini.core.arrays import float_input, same_backend
from rlhf_mini.core.checks import check_positive, check_real_scalar
from rlhf_mini.core.numerics import saturate_log_ratio

__all__ = [
    "KL_ESTIMATORS",
    "AdaptiveKLController",
    "kl_estimator_grad",
    "kl_k1",
    "kl_k2",
    "kl_k3",
    "kl_penalized_rewards",
]

KL_ESTIMATORS = ("k1", "k2", "k3")


def _log_r(logp_policy: Any, logp_ref: Any) -> tuple[Any, Any]:
    xp, a = same_backend({"logp_policy": logp_policy, "logp_ref": logp_ref})
    return xp, a["logp_ref"] - a["logp_policy"]


def kl_k1(logp_policy: Any, logp_ref: Any) -> Any:
    """k1 = log pi(y) - log pi_ref(y), per sample (unbiased; may be negative).

    Examples
    --------
    >>> float(kl_k1(-1.0, -3.0))
    2.0
    """
    _, log_r = _log_r(logp_policy, logp_ref)
    return -log_r


def kl_k2(logp_policy: Any, logp_ref: Any) -> Any:
    """k2 = (log pi_ref(y) - log pi(y))^2 / 2, per sample (biased, always >= 0)."""
    _, log_r = _log_r(logp_policy, logp_ref)
    return log_r**2 / 2


def kl_k3(logp_policy: Any, logp_ref: Any) -> Any:
    """k3 = (r - 1) - log r with r = pi_ref(y) / pi(y), per sample (unbiased, >= 0).

    Computed as ``expm1(log r) - log r``: exact for tiny |log r| where ``r - 1`` would
    cancel. Exact wherever the value is representable in the dtype; ``log r`` is saturated
    only where ``expm1`` would overflow (above ~709.78 in float64, ~88.72 in float32), so the
    result is always finite.

    Examples
    --------
    >>> float(kl_k3(-2.0, -2.0))
    0.0
    """
    xp, log_r = _log_r(logp_policy, logp_ref)
    log_r = _saturate(xp, log_r)
    return xp.expm1(log_r) - log_r


def _saturate(xp: Any, log_r: Any) -> Any:
    """log r capped where expm1 would overflow the dtype (the library's one rule for
    exponentials of log-ratios, :func:`rlhf_mini.core.numerics.saturate_log_ratio`)."""
    return saturate_log_ratio(xp, log_r)


def kl_estimator_grad(logp_policy: Any, logp_ref: Any, estimator: str = "k3") -> Any:
    """Derivative of each per-sample estimator w.r.t. ``logp_policy`` (samples held fixed).

    k1: d/d log pi = 1
    k2: d/d log pi = -log r = log pi - log pi_ref
    k3: d/d log pi = 1 - r = -expm1(log r)

    As in :func:`kl_k3`, ``log r`` is saturated only where ``expm1`` would overflow; past that
    point the k3 gradient is the formula's (finite) value at the saturation point, not the 0
    of the flat loss.
    """
    if estimator not in KL_ESTIMATORS:
        raise ValueError(f"estimator must be one of {KL_ESTIMATORS}, got {estimator!r}")
    xp, log_r = _log_r(logp_policy, logp_ref)
    if estimator == "k1":
        return xp.ones_like(log_r)
    if estimator == "k2":
        return -log_r
    return -xp.expm1(_saturate(xp, log_r))


def kl_penalized_rewards(
    scores: Any,
    logp_policy: Any,
    logp_ref: Any,
    beta: float,
    response_mask: Any = None,
) -> Any:
    """Per-token RLHF rewards: a KL penalty at every token, the score at the last one.

        R_t = -beta (log pi(y_t) - log pi_ref(y_t))  +  [t == last] * score

    Parameters
    ----------
    scores : array, shape (batch,)
        Reward-model scores of the whole responses.
    logp_policy, logp_ref : arrays, shape (batch, T)
        Per-token log-probabilities of the sampled tokens under the policy and the frozen
        reference model.
    beta : float >= 0
        KL coefficient (0 = no penalty).
    response_mask : optional array, shape (batch, T)
        1 for real tokens, 0 for padding after the end of a response; padding gets zero
        reward and the score lands on each row's last real token. Each row needs one.

    Returns
    -------
    array, shape (batch, T)

    Examples
    --------
    >>> import numpy as np
    >>> kl_penalized_rewards(np.array([1.0]), np.log([[0.5, 0.5]]), np.log([[0.25, 0.5]]), 0.1)
    array([[-0.06931472,  1.        ]])
    """
    beta = check_real_scalar(beta, "beta")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    xp, a = same_backend({"logp_policy": logp_policy, "logp_ref": logp_ref})
    lp, lr = a["logp_policy"], a["logp_ref"]
    if lp.ndim != 2:
        raise ValueError(f"logp_policy must have shape (batch, T), got {tuple(lp.shape)}")
    s = float_input(scores, "scores")
    if tuple(s.shape) != (lp.shape[0],):
        raise ValueError(
            f"scores must have shape (batch,) = ({lp.shape[0]},), got {tuple(s.shape)}"
        )
    from array_api_compat import array_namespace

    if array_namespace(s) is not xp:
        raise TypeError("scores must be an array of the same library as logp_policy")
    s = xp.astype(s, lp.dtype)
    T = lp.shape[1]
    positions = xp.arange(T, device=getattr(lp, "device", None))[None, :]  # (1, T)
    if response_mask is None:
        mask = xp.ones_like(lp)
        last = xp.full((lp.shape[0],), T - 1, device=getattr(lp, "device", None))
    else:
        mask = float_input(response_mask, "response_mask")
        if array_namespace(mask) is not xp:
            raise TypeError("response_mask must be an array of the same library as logp_policy")
        if tuple(mask.shape) != tuple(lp.shape):
            raise ValueError(
                f"response_mask must have the shape of logp_policy {tuple(lp.shape)}, "
                f"got {tuple(mask.shape)}"
            )
        if not bool(xp.all((mask == 0) | (mask == 1))):
            raise ValueError("response_mask must hold only 0 and 1")
        mask = xp.astype(mask, lp.dtype)
        if not bool(xp.all(xp.sum(mask, axis=1) > 0)):
            raise ValueError("response_mask must mark at least one token in every row")
        # index of the last real token in each row
        last = xp.max(xp.where(mask > 0, xp.astype(positions, lp.dtype), -1.0 * mask), axis=1)
    rewards = -beta * (lp - lr) * mask
    at_last = xp.astype(positions == xp.astype(last, positions.dtype)[:, None], lp.dtype)
    return rewards + at_last * s[:, None]


class AdaptiveKLController:
    """Adaptive KL coefficient of Ziegler et al. 2019 (arXiv 1909.08593), section 2.2.

    After each batch with measured KL ``current_kl`` over ``n_steps`` samples,

        e_t     = clip(current_kl / target - 1, -0.2, 0.2)
        beta   <- beta * (1 + e_t * n_steps / horizon)

    so beta grows while the policy drifts further than ``target`` nats and shrinks while it
    stays closer.

    Examples
    --------
    >>> ctl = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=10000)
    >>> ctl.update(current_kl=12.0, n_steps=256)   # KL too high: clipped error +0.2
    >>> round(ctl.value, 6)
    0.100512
    """

    def __init__(self, init_kl_coef: float, target: float, horizon: float) -> None:
        self.value = check_positive(init_kl_coef, "init_kl_coef")
        self.target = check_positive(target, "target")
        self.horizon = check_positive(horizon, "horizon")

    def update(self, current_kl: float, n_steps: int) -> None:
        current_kl = check_real_scalar(current_kl, "current_kl")
        steps = check_real_scalar(n_steps, "n_steps")
        if steps < 0:
            raise ValueError(f"n_steps must be >= 0, got {steps}")
        proportional_error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + proportional_error * steps / self.horizon

    def __repr__(self) -> str:
        return (
            f"AdaptiveKLController(value={self.value!r}, target={self.target!r}, "
            f"horizon={self.horizon!r})"
        )
