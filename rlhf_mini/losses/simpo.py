"""SimPO: preference optimisation on length-normalised log-probs, without a reference model.

Meng et al. 2024, "SimPO: Simple Preference Optimization with a Reference-Free Reward", arXiv
2405.14734; in TRL it is ``CPOTrainer`` with ``loss_type="simpo"`` (``simpo_gamma`` is gamma).

The implicit reward of a response is its *average* per-token log-probability, scaled:
r(y) = beta * log pi(y | x) / |y| (no reference model, no length bias from summing). With a
target margin gamma between the chosen and the rejected reward,

    h = avg_logp(y_w) - avg_logp(y_l) - gamma / beta
    L = -(1 - ls) log sigmoid(beta h) - ls log sigmoid(-beta h)

where ``ls`` is the label smoothing of cDPO (probability a label is flipped). Without a
reference model nothing anchors the policy; SimPO relies on the margin and on early
stopping instead, and (unlike DPO) is not the solution of a KL-regularised objective.
"""

from __future__ import annotations

from typing import Any

from rlhf_mini.core.arrays import same_backend
from rlhf_mini.core.checks import check_in_range, check_positive, check_real_scalar
from rlhf_mini.core.numerics import log_sigmoid, sigmoid

__all__ = ["simpo_loss", "simpo_loss_grad"]


def _prepare(chosen: Any, rejected: Any, beta: float, gamma: float, label_smoothing: float):
    beta = check_positive(beta, "beta")
    gamma = check_real_scalar(gamma, "gamma")
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0 (a target margin), got {gamma}")
    ls = check_in_range(
        label_smoothing, "label_smoothing", 0.0, 0.5, low_open=False, high_open=True
    )
    xp, a = same_backend({"chosen_avg_logps": chosen, "rejected_avg_logps": rejected})
    c, r = a["chosen_avg_logps"], a["rejected_avg_logps"]
    return xp, c, r, c - r - gamma / beta, beta, ls


def simpo_loss(
    chosen_avg_logps: Any,
    rejected_avg_logps: Any,
    *,
    beta: float = 2.0,
    gamma: float = 0.5,
    label_smoothing: float = 0.0,
) -> tuple[Any, Any, Any]:
    """Per-example SimPO losses and rewards (see the module docstring for the equations).

    Parameters
    ----------
    chosen_avg_logps, rejected_avg_logps : arrays of one shape
        Mean per-token log-probability of the chosen / rejected response under the policy.
    beta : float > 0
        Reward scale (the paper uses 2 to 2.5).
    gamma : float >= 0
        Target reward margin (the paper's gamma; gamma / beta in log-prob units).
    label_smoothing : float in [0, 0.5)

    Returns
    -------
    losses, chosen_rewards, rejected_rewards : arrays of the input shape
        ``chosen_rewards = beta * chosen_avg_logps``, likewise for rejected.

    Examples
    --------
    >>> import numpy as np
    >>> losses, _, _ = simpo_loss(np.array([-1.25]), np.array([-1.5]), beta=2.0, gamma=0.5)
    >>> np.round(losses, 6)                               # h = 0: log 2
    array([0.693147])
    """
    xp, c, r, h, beta, ls = _prepare(
        chosen_avg_logps, rejected_avg_logps, beta, gamma, label_smoothing
    )
    losses = -(1 - ls) * log_sigmoid(xp, beta * h) - ls * log_sigmoid(xp, -beta * h)
    return losses, beta * c, beta * r


def simpo_loss_grad(
    chosen_avg_logps: Any,
    rejected_avg_logps: Any,
    *,
    beta: float = 2.0,
    gamma: float = 0.5,
    label_smoothing: float = 0.0,
) -> tuple[Any, Any]:
    """d losses_i / d chosen_avg_logps_i and d losses_i / d rejected_avg_logps_i.

        dL/dh = -(1 - ls) beta sigmoid(-beta h) + ls beta sigmoid(beta h),
        dh/d chosen = 1,  dh/d rejected = -1.

    Examples
    --------
    >>> import numpy as np
    >>> simpo_loss_grad(np.array([-1.25]), np.array([-1.5]), beta=2.0, gamma=0.5)
    (array([-1.]), array([1.]))
    """
    xp, _, _, h, beta, ls = _prepare(
        chosen_avg_logps, rejected_avg_logps, beta, gamma, label_smoothing
    )
    dl_dh = -(1 - ls) * beta * sigmoid(xp, -beta * h) + ls * beta * sigmoid(xp, beta * h)
    return dl_dh, -dl_dh
