"""Learning from pairwise preferences: the Bradley–Terry model.

Bradley & Terry (1952), "Rank analysis of incomplete block designs"; used for reward
models by Christiano et al. 2017 (arXiv 1706.03741) and Ouyang et al. 2022 (arXiv 2203.02155).

Each item (a response) has a latent score ``r``; a labeller prefers A over B with
probability

    P(A > B) = exp(r_A) / (exp(r_A) + exp(r_B)) = sigmoid(r_A - r_B)

Only differences of scores matter: the model learns an ordering, not absolute values.
Fitting the scores of a set of items to comparisons is :func:`rlhf_mini.fit_bradley_terry`
(:mod:`rlhf_mini.models.bradley_terry`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlhf_mini.core.arrays import float_input, same_backend
from rlhf_mini.core.numerics import log_sigmoid, sigmoid

__all__ = ["bradley_terry_loss", "bradley_terry_loss_grad", "preference_probability"]


def preference_probability(r_a: Any, r_b: Any) -> Any:
    """Probability that A is preferred to B under Bradley–Terry.

    P(A > B) = exp(r_A) / (exp(r_A) + exp(r_B)) = sigmoid(r_A - r_B)

    Parameters
    ----------
    r_a, r_b : array_like
        Scores of A and B; they broadcast against each other.

    Returns
    -------
    array
        P(A > B), same backend as the inputs.

    Examples
    --------
    >>> round(float(preference_probability(2.0, 0.0)), 4)
    0.8808
    >>> float(preference_probability(1e4, -1e4))
    1.0
    """
    a = float_input(r_a, "r_a")
    b = float_input(r_b, "r_b")
    from array_api_compat import array_namespace, is_array_api_obj

    # A Python number or list next to an array joins that array's library, device and
    # dtype (a "weak" scalar, as in the array API standard): p(tensor, 0.0) is a tensor.
    if is_array_api_obj(r_a) and not is_array_api_obj(r_b):
        b = _like(b, a)
    elif is_array_api_obj(r_b) and not is_array_api_obj(r_a):
        a = _like(a, b)
    try:
        xp = array_namespace(a, b)
    except TypeError as err:
        raise TypeError("r_a and r_b must be arrays of the same library") from err
    try:
        a, b = xp.broadcast_arrays(a, b)
    except (ValueError, RuntimeError) as err:
        raise ValueError(
            f"r_a and r_b must broadcast together: got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        ) from err
    return sigmoid(xp, a - b)


def _like(x: np.ndarray, like: Any) -> Any:
    """Numpy data ``x`` as an array of ``like``'s library, device and dtype."""
    from array_api_compat import array_namespace

    xp = array_namespace(like)
    return xp.asarray(x, dtype=like.dtype, device=getattr(like, "device", None))


def _margin_input(margin: Any, shape: tuple[int, ...], like: Any) -> Any:
    from array_api_compat import array_namespace

    m = float_input(margin, "margin")
    if m.ndim != 0 and tuple(m.shape) != shape:
        raise ValueError(
            f"margin must be a number or have the shape of r_chosen {shape}, got {tuple(m.shape)}"
        )
    xp = array_namespace(like)
    if array_namespace(m) is not xp:
        m = xp.asarray(np.asarray(m), device=getattr(like, "device", None))
    return xp.astype(m, like.dtype)


def bradley_terry_loss(r_chosen: Any, r_rejected: Any, margin: Any = 0.0) -> Any:
    """Mean Bradley–Terry negative log-likelihood of the chosen responses winning.

    L = mean_i  -log sigmoid(r_chosen_i - r_rejected_i - margin_i)

    The optional ``margin`` (a number or one per pair, as in Llama 2, arXiv 2307.09288)
    asks the chosen response to win by at least that much.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(bradley_terry_loss(np.array([0.0]), np.array([0.0]))), 6)  # log 2
    0.693147
    """
    xp, a = same_backend({"r_chosen": r_chosen, "r_rejected": r_rejected})
    r_c, r_r = a["r_chosen"], a["r_rejected"]
    m = _margin_input(margin, tuple(r_c.shape), r_c)
    return xp.mean(-log_sigmoid(xp, r_c - r_r - m))


def bradley_terry_loss_grad(r_chosen: Any, r_rejected: Any, margin: Any = 0.0) -> tuple[Any, Any]:
    """Gradient of :func:`bradley_terry_loss` with respect to both score arrays.

    With z_i = r_chosen_i - r_rejected_i - margin_i and n pairs,

        dL/dr_chosen_i   = -sigmoid(-z_i) / n
        dL/dr_rejected_i = +sigmoid(-z_i) / n

    Returns
    -------
    (grad_chosen, grad_rejected) : arrays shaped like the inputs.
    """
    xp, a = same_backend({"r_chosen": r_chosen, "r_rejected": r_rejected})
    r_c, r_r = a["r_chosen"], a["r_rejected"]
    m = _margin_input(margin, tuple(r_c.shape), r_c)
    n = max(1, int(np.prod(r_c.shape)))
    g = sigmoid(xp, -(r_c - r_r - m)) / n
    return -g, g
