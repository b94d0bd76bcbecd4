"""Advantages from a group of samples of one prompt: no value network, the group is the baseline.

Sample G responses to each prompt, score them; a response's advantage is how much better it
scored than its siblings. Rewards come as an array of shape (n_prompts, G).

GRPO (Shao et al. 2024, "DeepSeekMath", arXiv 2402.03300), with TRL's ``scale_rewards``:

    A_ij = r_ij - mean_j r_ij                         scale="none"  (Dr. GRPO, arXiv 2503.20783)
    A_ij = (r_ij - mean_j r_ij) / (std_j r_ij + 1e-4) scale="group" (GRPO)
    A_ij = (r_ij - mean_j r_ij) / (std r + 1e-4)      scale="batch" (std over all n_prompts * G)

with the sample standard deviation (Bessel's correction, divide by G - 1, as torch.std and
TRL's ``nanstd``). A group whose rewards are all equal gets advantage 0 whatever the scale:
the 1e-4 keeps 0 / 0 away.

RLOO, REINFORCE with a leave-one-out baseline (Kool et al. 2019; Ahmadian et al. 2024, "Back
to Basics", arXiv 2402.14740):

    A_ij = r_ij - mean_{l != j} r_il = G / (G - 1) (r_ij - mean_l r_il)

The baseline excludes the sample itself, so it is independent of it and the policy-gradient
estimate stays unbiased; GRPO's mean includes the sample (a bias of a factor (G - 1) / G).
"""

from __future__ import annotations

import math
from typing import Any

from rlhf_mini.core.arrays import same_backend

__all__ = ["GRPO_SCALES", "grpo_advantages", "rloo_advantages"]

GRPO_SCALES = ("group", "batch", "none")

# Added to the standard deviation before dividing (TRL's constant): all-equal rewards give 0.
STD_EPS = 1e-4


def _grouped(rewards: Any) -> tuple[Any, Any]:
    xp, a = same_backend({"rewards": rewards})
    r = a["rewards"]
    if r.ndim != 2 or r.shape[1] < 2:
        raise ValueError(
            f"rewards must have shape (n_prompts, group_size) with group_size >= 2, "
            f"got {tuple(r.shape)}"
        )
    return xp, r


def _centred(xp: Any, x: Any, axis: Any) -> Any:
    """x - mean(x) along ``axis``, with the mean taken after shifting by one of the values:
    a group of equal rewards then centres to exactly 0 (a plain float mean of equal values
    can be off by an ulp, which the 1e-4 would blow up to an advantage of ~1e-4)."""
    first = x[:, :1] if axis == 1 else x[:1, :1]
    shifted = x - first
    return shifted - xp.mean(shifted, axis=axis, keepdims=True)


def _sample_std(xp: Any, x: Any, axis: Any) -> Any:
    """Standard deviation with Bessel's correction: sqrt(sum (x - mean)^2 / (N - 1))."""
    n = x.shape[axis] if axis is not None else math.prod(x.shape)
    return xp.sqrt(xp.sum(_centred(xp, x, axis) ** 2, axis=axis, keepdims=True) / (n - 1))


def grpo_advantages(rewards: Any, scale: str = "group") -> Any:
    """GRPO's group-relative advantages (see the module docstring for the equations).

    Parameters
    ----------
    rewards : array, shape (n_prompts, group_size), group_size >= 2
        Row i holds the rewards of the G responses sampled for prompt i.
    scale : {"group", "batch", "none"}
        Divide by the group's standard deviation (+1e-4), the whole batch's, or nothing.

    Returns
    -------
    array, shape (n_prompts, group_size)

    Examples
    --------
    >>> import numpy as np
    >>> grpo_advantages(np.array([[1.0, 0.0, 0.0, 1.0], [3.0, 3.0, 3.0, 3.0]]), scale="none")
    array([[ 0.5, -0.5, -0.5,  0.5],
           [ 0. ,  0. ,  0. ,  0. ]])
    >>> np.round(grpo_advantages(np.array([[1.0, 0.0, 0.0, 1.0]])), 4)   # std = 1/sqrt(3)
    array([[ 0.8659, -0.8659, -0.8659,  0.8659]])
    """
    if scale not in GRPO_SCALES:
        raise ValueError(f"scale must be one of {GRPO_SCALES}, got {scale!r}")
    xp, r = _grouped(rewards)
    centred = _centred(xp, r, axis=1)  # (n, G)
    if scale == "none":
        return centred
    std = _sample_std(xp, r, axis=1 if scale == "group" else None)  # (n, 1) or (1, 1)
    return centred / (std + STD_EPS)


def rloo_advantages(rewards: Any) -> Any:
    """REINFORCE leave-one-out advantages ``r_ij - mean_{l != j} r_il``.

    Parameters
    ----------
    rewards : array, shape (n_prompts, k), k >= 2

    Returns
    -------
    array, shape (n_prompts, k)

    Examples
    --------
    >>> import numpy as np
    >>> rloo_advantages(np.array([[1.0, 0.0, 0.0, 1.0]]))   # baseline 1/3 or 2/3
    array([[ 0.66666667, -0.66666667, -0.66666667,  0.66666667]])
    """
    xp, r = _grouped(rewards)
    k = r.shape[1]
    # r_j - (sum_l r_l - r_j) / (k - 1), on rewards shifted by the group's first one (the
    # shift cancels; a group of equal rewards gives exactly 0)
    shifted = r - r[:, :1]
    baseline = (xp.sum(shifted, axis=1, keepdims=True) - shifted) / (k - 1)
    return shifted - baseline
