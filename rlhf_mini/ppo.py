"""PPO's clipped surrogate objective and its gradient.

Schulman et al. 2017, "Proximal Policy Optimization Algorithms", arXiv 1707.06347.

With the probability ratio between the policy being updated and the policy that
collected the data (the *old* policy, not the reference model),

    r = pi_new(a|s) / pi_old(a|s) = exp(log p_new - log p_old)

and an advantage estimate A (how much better the action was than expected, e.g. from
:func:`rlhf_mini.gae` - not the raw reward), the per-sample loss is

    L = -min(r A, clip(r, 1 - eps, 1 + eps) A)

The clip removes the incentive to move r outside [1 - eps, 1 + eps] in one update. The KL
penalty against the *reference* (SFT) model is a separate term, applied to the rewards
(:func:`rlhf_mini.kl_penalized_rewards`).
"""

from __future__ import annotations

from typing import Any

from rlhf_mini._arrays import check_in_range, clip, same_backend
from rlhf_mini.core.numerics import exp_log_ratio

__all__ = ["ppo_clip_loss", "ppo_clip_loss_grad"]


def _ratio(xp: Any, logp_new: Any, logp_old: Any, adv: Any) -> Any:
    """r = exp(log p_new - log p_old), exact wherever r |A| is representable in the dtype.

    The exponent is capped at log(max) - log(max(|A|, 1)), so r |A| saturates at the dtype's
    largest value instead of overflowing to inf; below that cap r is the formula's value.
    """
    log_scale = xp.log(xp.maximum(xp.abs(adv), xp.ones_like(adv)))
    return exp_log_ratio(xp, logp_new - logp_old, log_scale)


def _prepare(logp_new: Any, logp_old: Any, advantages: Any, clip_eps: float):
    clip_eps = check_in_range(clip_eps, "clip_eps", 0.0, 1.0, low_open=True, high_open=True)
    xp, a = same_backend({"logp_new": logp_new, "logp_old": logp_old, "advantages": advantages})
    return xp, a["logp_new"], a["logp_old"], a["advantages"], clip_eps


def ppo_clip_loss(logp_new: Any, logp_old: Any, advantages: Any, clip_eps: float = 0.2) -> Any:
    """Per-element clipped surrogate loss ``-min(r A, clip(r, 1-eps, 1+eps) A)``.

    Exact wherever r and r A are representable in the dtype; beyond that (log-ratios above
    about 709.78 in float64, 88.72 in float32, less log |A| when |A| > 1) r saturates so that
    neither r nor r |A| passes the dtype's largest value: the loss stays finite for any finite
    input (no silent inf or NaN).

    Parameters
    ----------
    logp_new, logp_old, advantages : arrays of one shape
        Log-probabilities of the taken actions under the current and the data-collecting
        policy, and their advantages.
    clip_eps : float in (0, 1)

    Returns
    -------
    array of the input shape (take the mean for the batch loss).

    Examples
    --------
    >>> import numpy as np
    >>> ppo_clip_loss(np.log([1.5, 0.5]), np.zeros(2), np.array([1.0, -1.0]))
    array([-1.2,  0.8])
    """
    xp, new, old, adv, eps = _prepare(logp_new, logp_old, advantages, clip_eps)
    ratio = _ratio(xp, new, old, adv)
    unclipped = ratio * adv
    clipped = clip(xp, ratio, 1 - eps, 1 + eps) * adv
    return -xp.minimum(unclipped, clipped)


def ppo_clip_loss_grad(logp_new: Any, logp_old: Any, advantages: Any, clip_eps: float = 0.2) -> Any:
    """Gradient of each element of :func:`ppo_clip_loss` w.r.t. ``logp_new``.

    The unclipped term r A is the minimum exactly when it is active; then
    d(-r A)/d(log p_new) = -r A. When the clipped term is the minimum and r is outside
    [1 - eps, 1 + eps], it is constant and the gradient is 0:

        dL/d log p_new = -r A   if r A <= clip(r, 1-eps, 1+eps) A
                       =  0     otherwise

    Where r A would overflow the dtype (see :func:`ppo_clip_loss`) this returns the
    formula's value at the saturation point (finite, the dtype's largest value) rather than
    the 0 of the saturated loss, so a diverged policy still gets pushed back.

    Examples
    --------
    >>> import numpy as np
    >>> ppo_clip_loss_grad(np.log([1.5, 1.1]), np.zeros(2), np.array([1.0, 1.0]))
    array([ 0. , -1.1])
    """
    xp, new, old, adv, eps = _prepare(logp_new, logp_old, advantages, clip_eps)
    ratio = _ratio(xp, new, old, adv)
    unclipped = ratio * adv
    clipped = clip(xp, ratio, 1 - eps, 1 + eps) * adv
    return xp.where(unclipped <= clipped, -unclipped, xp.zeros_like(unclipped))
