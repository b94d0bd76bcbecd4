"""GRPO's clipped, KL-regularised token loss and its aggregations (TRL's ``loss_type``).

Shao et al. 2024, "DeepSeekMath" (GRPO), arXiv 2402.03300; DAPO (Yu et al. 2025), arXiv
2503.14476; Dr. GRPO (Liu et al. 2025, "Understanding R1-Zero-like training"), arXiv 2503.20783.

For completion i (of n in the batch) and its token t, with the current policy's log-prob
``logp``, the sampling policy's ``logp_old`` and the frozen reference's ``logp_ref``,

    rho_it = exp(logp_it - logp_old_it)                          importance ratio
    k3_it  = exp(logp_ref_it - logp_it) - (logp_ref_it - logp_it) - 1   KL(pi || pi_ref), per token
    l_it   = -min(rho_it A_it, clip(rho_it, 1 - clip_eps, 1 + clip_eps_high) A_it) + beta k3_it

A_it is the completion's advantage (e.g. :func:`grpo_advantages`), the same for all its tokens
unless given per token. The KL penalty is in the loss, not in the reward as in RLHF-PPO.
This is the plain k3 of the GRPO paper: TRL's ``GRPOTrainer`` with
``use_bias_correction_kl=False`` (TRL 1.16 defaults to True, weighting k3 by rho_it).
``clip_eps_high > clip_eps`` is DAPO's "clip-higher": more room to raise unlikely tokens.

The loss types differ only in how the masked per-token losses are averaged (m_it = mask):

    grpo      (1/n) sum_i  sum_t m_it l_it / sum_t m_it       each completion weighs the same
    bnpo/dapo sum_it m_it l_it / sum_it m_it                  each token weighs the same
    dr_grpo   sum_it m_it l_it / (n * max_completion_length)  a constant: no length bias

"grpo" gives a long completion's tokens less weight than a short one's (the length bias Dr.
GRPO removes). "dapo" is "bnpo" over the whole generation batch in TRL; for one batch on one
device they are the same number. A completion whose mask is all zero counts as a loss of 0
(TRL clamps its length to 1).

Numerics: log-ratios are exponentiated with :func:`rlhf_mini.core.numerics.exp_log_ratio`,
exact wherever ``exp`` fits the dtype (|log-ratio| <= ~709 in float64, ~88 in float32) and
saturated beyond. Padding (mask 0) is neutralised with ``where`` before any arithmetic, so
whatever it holds cannot overflow or turn the loss into NaN. The loss is never NaN; it is +inf
(with numpy's overflow warning) only where the true value exceeds the dtype, e.g. a float32
token at log-ratio 500 with |A| > 1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_array_api_obj

from rlhf_mini.core.arrays import as_float_array, float_input, same_backend
from rlhf_mini.core.checks import check_in_range, check_positive, check_real_scalar
from rlhf_mini.core.numerics import clip, exp_log_ratio, saturate_log_ratio

__all__ = ["GRPO_LOSS_TYPES", "grpo_loss", "grpo_loss_grad"]

GRPO_LOSS_TYPES = ("grpo", "bnpo", "dapo", "dr_grpo")


def _mask(xp: Any, mask: Any, like: Any) -> Any:
    """``mask`` as 0/1 floats of ``like``'s dtype (bool and integer masks accepted)."""
    if isinstance(mask, np.ndarray) and mask.dtype == bool:
        mask = mask.astype(np.int8)
    elif is_array_api_obj(mask) and array_namespace(mask).isdtype(mask.dtype, "bool"):
        mask = array_namespace(mask).astype(mask, like.dtype)
    m = as_float_array(mask, "mask")
    if array_namespace(m) is not xp:
        raise TypeError("mask must be an array of the same library as logp")
    if tuple(m.shape) != tuple(like.shape):
        raise ValueError(
            f"mask must have the shape of logp {tuple(like.shape)}, got {tuple(m.shape)}"
        )
    if not bool(xp.all((m == 0) | (m == 1))):
        raise ValueError("mask must hold only 0 and 1")
    if not bool(xp.any(m == 1)):
        raise ValueError("mask must mark at least one token")
    return xp.astype(m, like.dtype)


def _prepare(
    logp: Any,
    logp_old: Any,
    logp_ref: Any,
    advantages: Any,
    mask: Any,
    beta: float,
    clip_eps: float,
    clip_eps_high: float | None,
    loss_type: str,
    max_completion_length: int | None,
) -> dict[str, Any]:
    if loss_type not in GRPO_LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {GRPO_LOSS_TYPES}, got {loss_type!r}")
    beta = check_real_scalar(beta, "beta")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    low = check_in_range(clip_eps, "clip_eps", 0.0, 1.0, low_open=True, high_open=True)
    high = low if clip_eps_high is None else check_positive(clip_eps_high, "clip_eps_high")
    arrays = {"logp": logp, "logp_old": logp_old}
    if logp_ref is not None:
        arrays["logp_ref"] = logp_ref
    elif beta != 0:
        raise ValueError(f"logp_ref is needed for the KL term: got None with beta={beta}")
    xp, a = same_backend(arrays)
    lp = a["logp"]
    if lp.ndim != 2:
        raise ValueError(f"logp must have shape (n, T), got {tuple(lp.shape)}")
    n, T = lp.shape
    adv = float_input(advantages, "advantages")
    if array_namespace(adv) is not xp:
        raise TypeError("advantages must be an array of the same library as logp")
    if tuple(adv.shape) == (n,):
        adv = adv[:, None]  # one advantage per completion, broadcast over its tokens
    elif tuple(adv.shape) != (n, T):
        raise ValueError(
            f"advantages must have shape (n,) = ({n},) or (n, T) = ({n}, {T}), "
            f"got {tuple(adv.shape)}"
        )
    if max_completion_length is None:
        max_completion_length = T
    elif isinstance(max_completion_length, bool) or not isinstance(
        max_completion_length, (int, np.integer)
    ):
        raise TypeError(
            f"max_completion_length must be an int, got {type(max_completion_length).__name__}"
        )
    elif max_completion_length < T:
        raise ValueError(
            f"max_completion_length must be >= the number of token positions T = {T}, "
            f"got {max_completion_length}"
        )
    m = _mask(xp, mask, lp)
    return {
        "xp": xp,
        "logp": lp,
        "logp_old": a["logp_old"],
        "logp_ref": a.get("logp_ref"),
        "advantages": xp.astype(adv, lp.dtype),
        "mask": m,
        "beta": beta,
        "low": low,
        "high": high,
        "loss_type": loss_type,
        "max_completion_length": int(max_completion_length),
    }


def _weights(xp: Any, mask: Any, loss_type: str, max_completion_length: int) -> Any:
    """w_it such that the loss is sum_it w_it l_it (0 on masked-out tokens), shape (n, T)."""
    n = mask.shape[0]
    if loss_type == "grpo":
        lengths = clip(xp, xp.sum(mask, axis=1, keepdims=True), 1.0, math.inf)  # (n, 1)
        return mask / (lengths * n)
    if loss_type in ("bnpo", "dapo"):
        return mask / max(float(xp.sum(mask)), 1.0)
    return mask / (n * max_completion_length)  # dr_grpo


def _terms(p: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(per-token loss, d loss_t / d logp_t, mask), before the aggregation weights."""
    xp, lp, adv, m = p["xp"], p["logp"], p["advantages"], p["mask"]
    zero = xp.zeros_like(lp)
    # Padding holds anything (often garbage): its log-ratios are set to 0 before any
    # arithmetic, so it can neither overflow nor turn into NaN; it is weighted 0 later.
    ratio = exp_log_ratio(xp, xp.where(m > 0, lp - p["logp_old"], zero))  # (n, T)
    unclipped = ratio * adv
    clipped = clip(xp, ratio, 1 - p["low"], 1 + p["high"]) * adv
    loss = -xp.minimum(unclipped, clipped)
    # d(-rho A)/d logp = -rho A where the unclipped term is the minimum; the clipped term is
    # constant in logp outside [1 - eps, 1 + eps_high] (inside, the two terms are equal).
    grad = xp.where(unclipped <= clipped, -unclipped, xp.zeros_like(unclipped))
    if p["beta"] != 0:
        log_r = xp.where(m > 0, p["logp_ref"] - lp, zero)  # log(pi_ref / pi)
        expm1 = xp.expm1(saturate_log_ratio(xp, log_r))
        loss = loss + p["beta"] * (expm1 - log_r)  # k3 = (r - 1) - log r
        grad = grad - p["beta"] * expm1  # d k3 / d logp = 1 - r
    return loss, grad, m


def grpo_loss(
    logp: Any,
    logp_old: Any,
    logp_ref: Any,
    advantages: Any,
    mask: Any,
    *,
    beta: float = 0.0,
    clip_eps: float = 0.2,
    clip_eps_high: float | None = None,
    loss_type: str = "grpo",
    max_completion_length: int | None = None,
) -> Any:
    """The GRPO loss of a batch of completions (see the module docstring for the equations).

    Parameters
    ----------
    logp, logp_old : arrays, shape (n, T)
        Per-token log-probabilities of the sampled completions under the policy being
        trained and under the policy that sampled them.
    logp_ref : array, shape (n, T), or None
        The same under the frozen reference model; may be None when ``beta == 0``.
    advantages : array, shape (n,) or (n, T)
    mask : array, shape (n, T)
        1 for completion tokens, 0 for padding (bool, integer or float 0/1).
    beta : float >= 0
        Weight of the k3 KL penalty against the reference.
    clip_eps : float in (0, 1)
        Lower clip: rho >= 1 - clip_eps.
    clip_eps_high : float > 0, optional
        Upper clip: rho <= 1 + clip_eps_high (default ``clip_eps``).
    loss_type : {"grpo", "bnpo", "dapo", "dr_grpo"}
    max_completion_length : int >= T, optional
        The constant of "dr_grpo" (default T).

    Returns
    -------
    0-d array (a numpy scalar for numpy input), in the dtype of ``logp``.

    Examples
    --------
    >>> import numpy as np
    >>> logp = np.log([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])
    >>> mask = np.array([[1, 1, 1], [1, 0, 0]])
    >>> adv = np.array([1.0, -1.0])               # rho = 1: each token's loss is -A
    >>> float(grpo_loss(logp, logp, None, adv, mask))                     # (-1 + 1) / 2
    0.0
    >>> float(grpo_loss(logp, logp, None, adv, mask, loss_type="dapo"))   # (-3 + 1) / 4
    -0.5
    """
    p = _prepare(
        logp, logp_old, logp_ref, advantages, mask,
        beta, clip_eps, clip_eps_high, loss_type, max_completion_length,
    )  # fmt: skip
    xp = p["xp"]
    loss, _, m = _terms(p)
    w = _weights(xp, m, loss_type, p["max_completion_length"])
    return xp.sum(xp.where(m > 0, loss, xp.zeros_like(loss)) * w)


def grpo_loss_grad(
    logp: Any,
    logp_old: Any,
    logp_ref: Any,
    advantages: Any,
    mask: Any,
    *,
    beta: float = 0.0,
    clip_eps: float = 0.2,
    clip_eps_high: float | None = None,
    loss_type: str = "grpo",
    max_completion_length: int | None = None,
) -> Any:
    """d :func:`grpo_loss` / d logp, per token, shape (n, T) (0 on padding).

    The loss is sum_it w_it l_it with the aggregation weights w of the loss type, and
    l_it depends on logp_it only:

        d l_it / d logp_it = -rho_it A_it [rho A <= clip(rho) A]  +  beta (1 - pi_ref / pi)

    (the clipped term is flat in logp outside the clip range and equal to the unclipped
    one inside it). Beyond the ratio's saturation point this is the formula's finite value
    there, not the 0 of the flat saturated loss, so a diverged policy is pushed back.

    Examples
    --------
    >>> import numpy as np
    >>> logp = np.zeros((1, 2))
    >>> grpo_loss_grad(logp, logp, None, np.array([2.0]), np.ones((1, 2)))   # -A / 2 each
    array([[-1., -1.]])
    """
    p = _prepare(
        logp, logp_old, logp_ref, advantages, mask,
        beta, clip_eps, clip_eps_high, loss_type, max_completion_length,
    )  # fmt: skip
    xp = p["xp"]
    _, grad, m = _terms(p)
    w = _weights(xp, m, loss_type, p["max_completion_length"])
    return xp.where(m > 0, grad, xp.zeros_like(grad)) * w
