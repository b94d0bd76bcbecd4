"""Kahneman-Tversky Optimization: alignment from thumbs up / thumbs down, no pairs needed.

Ethayarajh et al. 2024, "KTO: Model Alignment as Prospect Theoretic Optimization", arXiv
2402.01306, equation (7), in TRL's form (``KTOTrainer``, ``loss_type="kto"``).

Each example is a single completion labelled desirable ("chosen") or undesirable
("rejected"). With the implicit reward of DPO, the log-ratio against the reference,

    logratio(y) = log pi(y | x) - log pi_ref(y | x)

and a reference point z0 = an estimate of KL(pi || pi_ref), taken from mismatched pairs
(x, y') of the batch (the ``*_kl`` arrays: completions paired with other examples' prompts),

    z0 = max(0, mean(policy_kl - ref_kl))          detached: no gradient flows through it

the per-example losses are

    desirable:    L = desirable_weight   * (1 - sigmoid(beta (logratio - z0)))
    undesirable:  L = undesirable_weight * (1 - sigmoid(beta (z0 - logratio)))

A desirable completion is pushed above the reference point, an undesirable one below it;
the sigmoid saturates, so an example already far on the right side stops pulling (the
"value function" of prospect theory). ``1 - sigmoid(u)`` is computed as ``sigmoid(-u)``.
The weights correct class imbalance: the paper keeps
``desirable_weight * n_desirable / (undesirable_weight * n_undesirable)`` in [1, 4/3].
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import array_namespace

from rlhf_mini.core.arrays import as_float_array, check_finite
from rlhf_mini.core.checks import check_positive
from rlhf_mini.core.numerics import clip, log_sigmoid, sigmoid

__all__ = ["kto_loss", "kto_loss_grad"]

_NAMES = (
    "policy_chosen",
    "policy_rejected",
    "policy_kl",
    "ref_chosen",
    "ref_rejected",
    "ref_kl",
)


def _prepare(values: tuple[Any, ...], beta: float, dw: float, uw: float) -> dict[str, Any]:
    beta = check_positive(beta, "beta")
    dw = check_positive(dw, "desirable_weight")
    uw = check_positive(uw, "undesirable_weight")
    a = {}
    for name, value in zip(_NAMES, values, strict=True):
        x = as_float_array(value, name)
        if x.ndim != 1:
            raise ValueError(f"{name} must be a 1-d array, got shape {tuple(x.shape)}")
        check_finite(x, name)
        a[name] = x
    try:
        xp = array_namespace(*a.values())
    except TypeError as err:
        raise TypeError(f"{', '.join(_NAMES)} must all be arrays of the same library") from err
    for policy, ref in (("policy_chosen", "ref_chosen"), ("policy_rejected", "ref_rejected"),
                        ("policy_kl", "ref_kl")):  # fmt: skip
        if tuple(a[ref].shape) != tuple(a[policy].shape):
            raise ValueError(
                f"{ref} must have the same shape as {policy}: "
                f"got {tuple(a[ref].shape)} and {tuple(a[policy].shape)}"
            )
    if a["policy_kl"].shape[0] == 0:
        raise ValueError("policy_kl must not be empty: the KL reference point needs samples")
    if a["policy_chosen"].shape[0] + a["policy_rejected"].shape[0] == 0:
        raise ValueError("policy_chosen and policy_rejected must not both be empty")
    dtype = a["policy_chosen"].dtype
    for x in list(a.values())[1:]:
        dtype = xp.result_type(dtype, x.dtype)
    a = {name: xp.astype(x, dtype) for name, x in a.items()}
    kl = clip(xp, xp.mean(a["policy_kl"] - a["ref_kl"]), 0.0, math.inf)  # z0
    if hasattr(kl, "detach"):  # torch: no gradient flows through the reference point
        kl = kl.detach()
    return {
        "xp": xp,
        "chosen_logratios": a["policy_chosen"] - a["ref_chosen"],
        "rejected_logratios": a["policy_rejected"] - a["ref_rejected"],
        "kl": kl,
        "beta": beta,
        "dw": dw,
        "uw": uw,
    }


def kto_loss(
    policy_chosen: Any,
    policy_rejected: Any,
    policy_kl: Any,
    ref_chosen: Any,
    ref_rejected: Any,
    ref_kl: Any,
    *,
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> tuple[Any, Any, Any, Any]:
    """Per-example KTO losses (see the module docstring for the equations).

    Parameters
    ----------
    policy_chosen, ref_chosen : arrays, shape (n_desirable,)
        Summed log-probabilities of the desirable completions under the policy and the
        reference (may be empty if ``policy_rejected`` is not).
    policy_rejected, ref_rejected : arrays, shape (n_undesirable,)
        The same for the undesirable completions.
    policy_kl, ref_kl : arrays, shape (m,), m >= 1
        Log-probabilities of mismatched (prompt, completion) pairs, for the KL estimate.
    beta : float > 0
    desirable_weight, undesirable_weight : floats > 0

    Returns
    -------
    losses : array, shape (n_desirable + n_undesirable,)
        The weighted desirable losses, then the weighted undesirable ones.
    chosen_rewards, rejected_rewards : arrays
        ``beta * logratio`` of each desirable / undesirable completion.
    kl : 0-d array
        The reference point z0 (>= 0).

    Examples
    --------
    >>> import numpy as np
    >>> same = np.array([-5.0])
    >>> losses, _, _, kl = kto_loss(same, same, same, same, same, same)   # policy == reference
    >>> losses, float(kl)
    (array([0.5, 0.5]), 0.0)
    """
    p = _prepare(
        (policy_chosen, policy_rejected, policy_kl, ref_chosen, ref_rejected, ref_kl),
        beta, desirable_weight, undesirable_weight,
    )  # fmt: skip
    xp, beta, kl = p["xp"], p["beta"], p["kl"]
    chosen, rejected = p["chosen_logratios"], p["rejected_logratios"]
    chosen_losses = sigmoid(xp, -beta * (chosen - kl))  # 1 - sigmoid(beta (logratio - z0))
    rejected_losses = sigmoid(xp, -beta * (kl - rejected))  # 1 - sigmoid(beta (z0 - logratio))
    losses = xp.concat((p["dw"] * chosen_losses, p["uw"] * rejected_losses))
    return losses, beta * chosen, beta * rejected, kl


def kto_loss_grad(
    policy_chosen: Any,
    policy_rejected: Any,
    policy_kl: Any,
    ref_chosen: Any,
    ref_rejected: Any,
    ref_kl: Any,
    *,
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> tuple[Any, Any]:
    """d losses_i / d policy logps of example i, with the reference point z0 held fixed.

    With z = beta (logratio - z0) and sigmoid'(u) = sigmoid(u) sigmoid(-u):

        desirable:    dL/d policy_chosen   = -desirable_weight   beta sigmoid(z) sigmoid(-z)
        undesirable:  dL/d policy_rejected =  undesirable_weight beta sigmoid(z) sigmoid(-z)

    z0 is a detached estimate (as in TRL), so ``policy_kl`` gets no gradient.

    Returns
    -------
    grad_chosen : array, shape (n_desirable,)
    grad_rejected : array, shape (n_undesirable,)

    Examples
    --------
    >>> import numpy as np
    >>> same = np.array([-5.0])
    >>> kto_loss_grad(same, same, same, same, same, same, beta=0.4)   # -/+ beta / 4
    (array([-0.1]), array([0.1]))
    """
    p = _prepare(
        (policy_chosen, policy_rejected, policy_kl, ref_chosen, ref_rejected, ref_kl),
        beta, desirable_weight, undesirable_weight,
    )  # fmt: skip
    xp, beta, kl = p["xp"], p["beta"], p["kl"]

    def slope(z: Any) -> Any:  # sigmoid(z) sigmoid(-z), without underflow in between
        return xp.exp(log_sigmoid(xp, z) + log_sigmoid(xp, -z))

    grad_chosen = -p["dw"] * beta * slope(beta * (p["chosen_logratios"] - kl))
    grad_rejected = p["uw"] * beta * slope(beta * (p["rejected_logratios"] - kl))
    return grad_chosen, grad_rejected
