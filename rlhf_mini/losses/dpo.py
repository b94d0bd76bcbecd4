"""Direct Preference Optimization loss and its gradient.

Rafailov et al. 2023, "Direct Preference Optimization: Your Language Model is Secretly a
Reward Model", arXiv 2305.18290. Variants: cDPO / label smoothing (Mitchell 2023, "A note
on DPO with noisy preferences"), IPO (Azar et al. 2023, arXiv 2310.12036), hinge / SLiC
(Zhao et al. 2023, arXiv 2305.10425), robust DPO (Chowdhury et al. 2024, arXiv 2403.00409).

All variants are functions of one number per preference pair, the log-ratio difference
against the *reference* model:

    h = (log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))

    sigmoid: L = -(1 - eps) log sigmoid(beta h) - eps log sigmoid(-beta h)
    ipo:     L = (h - 1 / (2 beta))^2
    hinge:   L = max(0, 1 - beta h)
    robust:  L = ((1 - eps)(-log sigmoid(beta h)) + eps log sigmoid(-beta h)) / (1 - 2 eps)

and the implicit rewards are beta (log pi(y) - log pi_ref(y)). Without the reference model
the loss would reward any increase of the chosen log-probability, however far the policy
drifts; the reference terms are what make DPO the closed-form solution of the
KL-regularised RLHF objective.
"""

from __future__ import annotations

from typing import Any

from rlhf_mini.core.arrays import same_backend
from rlhf_mini.core.checks import check_in_range, check_positive
from rlhf_mini.core.numerics import log_sigmoid, sigmoid

__all__ = ["DPO_LOSS_TYPES", "dpo_loss", "dpo_loss_grad"]

DPO_LOSS_TYPES = ("sigmoid", "ipo", "hinge", "robust")


def _prepare(
    policy_chosen_logps: Any,
    policy_rejected_logps: Any,
    reference_chosen_logps: Any,
    reference_rejected_logps: Any,
    beta: float,
    loss_type: str,
    label_smoothing: float,
) -> tuple[Any, Any, float, float]:
    beta = check_positive(beta, "beta")
    if loss_type not in DPO_LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {DPO_LOSS_TYPES}, got {loss_type!r}")
    eps = check_in_range(
        label_smoothing, "label_smoothing", 0.0, 0.5, low_open=False, high_open=True
    )
    if eps != 0.0 and loss_type in ("ipo", "hinge"):
        raise ValueError(
            f"label_smoothing applies to the 'sigmoid' and 'robust' losses only, "
            f"got label_smoothing={eps} with loss_type={loss_type!r}"
        )
    xp, a = same_backend(
        {
            "policy_chosen_logps": policy_chosen_logps,
            "policy_rejected_logps": policy_rejected_logps,
            "reference_chosen_logps": reference_chosen_logps,
            "reference_rejected_logps": reference_rejected_logps,
        }
    )
    return xp, a, beta, eps


def dpo_loss(
    policy_chosen_logps: Any,
    policy_rejected_logps: Any,
    reference_chosen_logps: Any,
    reference_rejected_logps: Any,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
) -> tuple[Any, Any, Any]:
    """Per-example DPO losses and implicit rewards (see the module docstring for equations).

    Parameters
    ----------
    policy_chosen_logps, policy_rejected_logps : array, shape (batch,)
        Summed log-probabilities of the chosen / rejected responses under the policy.
    reference_chosen_logps, reference_rejected_logps : array, shape (batch,)
        The same under the frozen reference model.
    beta : float > 0
        Strength of the implicit KL constraint (smaller = further from the reference).
    loss_type : {"sigmoid", "ipo", "hinge", "robust"}
    label_smoothing : float in [0, 0.5)
        Assumed probability that a label is flipped (cDPO / robust DPO).

    Returns
    -------
    losses, chosen_rewards, rejected_rewards : arrays, shape (batch,)
        ``chosen_rewards = beta (pc - rc)`` and ``rejected_rewards = beta (pr - rr)``.

    Examples
    --------
    >>> import numpy as np
    >>> same = np.array([-3.0, -7.0])
    >>> losses, _, _ = dpo_loss(same, same, same, same)   # policy == reference
    >>> np.round(losses, 6)                               # log 2 each
    array([0.693147, 0.693147])
    """
    xp, a, beta, eps = _prepare(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
        loss_type,
        label_smoothing,
    )
    pc, pr = a["policy_chosen_logps"], a["policy_rejected_logps"]
    rc, rr = a["reference_chosen_logps"], a["reference_rejected_logps"]
    chosen_logratios = pc - rc
    rejected_logratios = pr - rr
    h = chosen_logratios - rejected_logratios

    if loss_type == "sigmoid":
        losses = -log_sigmoid(xp, beta * h) * (1 - eps) - log_sigmoid(xp, -beta * h) * eps
    elif loss_type == "ipo":
        losses = (h - 1 / (2 * beta)) ** 2
    elif loss_type == "hinge":
        losses = xp.maximum(1 - beta * h, xp.zeros_like(h))
    else:  # robust
        losses = (-log_sigmoid(xp, beta * h) * (1 - eps) + log_sigmoid(xp, -beta * h) * eps) / (
            1 - 2 * eps
        )
    return losses, beta * chosen_logratios, beta * rejected_logratios


def dpo_loss_grad(
    policy_chosen_logps: Any,
    policy_rejected_logps: Any,
    reference_chosen_logps: Any,
    reference_rejected_logps: Any,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
) -> tuple[Any, Any]:
    """Gradient of each per-example DPO loss w.r.t. the policy log-probabilities.

    Since dh/d(pc) = 1 and dh/d(pr) = -1, both follow from dL/dh:

        sigmoid: dL/dh = -(1 - eps) beta sigmoid(-beta h) + eps beta sigmoid(beta h)
        ipo:     dL/dh = 2 (h - 1 / (2 beta))
        hinge:   dL/dh = -beta [1 - beta h > 0]
        robust:  dL/dh = -beta ((1 - eps) sigmoid(-beta h) + eps sigmoid(beta h)) / (1 - 2 eps)

    Returns
    -------
    grad_chosen, grad_rejected : arrays, shape (batch,)
        d losses_i / d policy_chosen_logps_i and d losses_i / d policy_rejected_logps_i.
        The gradient of the *mean* loss is these divided by the batch size.
    """
    xp, a, beta, eps = _prepare(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        beta,
        loss_type,
        label_smoothing,
    )
    h = (a["policy_chosen_logps"] - a["reference_chosen_logps"]) - (
        a["policy_rejected_logps"] - a["reference_rejected_logps"]
    )
    if loss_type == "sigmoid":
        dl_dh = -(1 - eps) * beta * sigmoid(xp, -beta * h) + eps * beta * sigmoid(xp, beta * h)
    elif loss_type == "ipo":
        dl_dh = 2 * (h - 1 / (2 * beta))
    elif loss_type == "hinge":
        dl_dh = xp.where(1 - beta * h > 0, -beta * xp.ones_like(h), xp.zeros_like(h))
    else:  # robust
        dl_dh = (
            -beta
            * ((1 - eps) * sigmoid(xp, -beta * h) + eps * sigmoid(xp, beta * h))
            / (1 - 2 * eps)
        )
    return dl_dh, -dl_dh
