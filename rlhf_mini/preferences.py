"""Learning from pairwise preferences: the Bradley–Terry model.

Bradley & Terry (1952), "Rank analysis of incomplete block designs"; used for reward
models by Christiano et al. 2017 (arXiv 1706.03741) and Ouyang et al. 2022 (arXiv 2203.02155).

Each item (a response) has a latent score ``r``; a labeller prefers A over B with
probability

    P(A > B) = exp(r_A) / (exp(r_A) + exp(r_B)) = sigmoid(r_A - r_B)

Only differences of scores matter: the model learns an ordering, not absolute values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlhf_mini._arrays import (
    check_real_scalar,
    float_input,
    log_sigmoid,
    same_backend,
    sigmoid,
)

__all__ = [
    "bradley_terry_loss",
    "bradley_terry_loss_grad",
    "fit_bradley_terry",
    "preference_probability",
]


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


# --------------------------------------------------------------------------------------
# Maximum-likelihood fit
# --------------------------------------------------------------------------------------


def _check_comparisons(comparisons: Any, n_items: Any) -> np.ndarray:
    if isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)):
        raise TypeError(f"n_items must be an int, got {type(n_items).__name__}")
    if n_items < 2:
        raise ValueError(f"n_items must be >= 2, got {n_items}")
    c = np.asarray(comparisons.cpu() if hasattr(comparisons, "cpu") else comparisons)
    if c.dtype == object:
        raise TypeError("comparisons must be an integer array of shape (m, 2)")
    if c.size == 0:
        raise ValueError("comparisons must not be empty: need at least one (winner, loser) row")
    if c.ndim != 2 or c.shape[1] != 2:
        raise ValueError(
            f"comparisons must have shape (m, 2) of (winner, loser) rows, got {c.shape}"
        )
    if np.issubdtype(c.dtype, np.bool_) or not (
        np.issubdtype(c.dtype, np.integer) or np.issubdtype(c.dtype, np.floating)
    ):
        raise TypeError(f"comparisons must hold integer item ids, got dtype {c.dtype}")
    if np.issubdtype(c.dtype, np.floating):
        if not np.all(np.isfinite(c)) or not np.all(c == np.round(c)):
            raise TypeError("comparisons must hold integer item ids, got non-integer values")
    c = c.astype(np.int64)
    if c.min() < 0 or c.max() >= n_items:
        raise ValueError(
            f"comparisons ids must be in [0, n_items) = [0, {n_items}), "
            f"got values in [{c.min()}, {c.max()}]"
        )
    # The index dtype: int32 in Pyodide (wasm32), where bincount refuses int64.
    c = c.astype(np.intp)
    if np.any(c[:, 0] == c[:, 1]):
        raise ValueError("comparisons must compare two different items (winner != loser)")
    return c


def _reaches_all(src: np.ndarray, dst: np.ndarray, n: int) -> bool:
    """True if every node is reachable from node 0 along directed edges src -> dst."""
    seen = np.zeros(n, dtype=bool)
    seen[0] = True
    count = 1
    while True:
        seen[dst[seen[src]]] = True
        new_count = int(seen.sum())
        if new_count == count:
            return count == n
        count = new_count


def _check_mle_exists(winners: np.ndarray, losers: np.ndarray, n_items: int) -> None:
    """The unregularised MLE exists iff the 'beats' graph is strongly connected (Ford 1957)."""
    wins = np.bincount(winners, minlength=n_items)
    losses = np.bincount(losers, minlength=n_items)
    never_lost = np.flatnonzero(losses == 0)
    never_won = np.flatnonzero(wins == 0)
    hint = "; pass l2 > 0 to regularise"
    if never_lost.size:
        raise ValueError(
            f"comparisons: with l2 == 0 the maximum-likelihood scores do not exist: item(s) "
            f"{never_lost[:10].tolist()} never lose (their score would go to +infinity){hint}"
        )
    if never_won.size:
        raise ValueError(
            f"comparisons: with l2 == 0 the maximum-likelihood scores do not exist: item(s) "
            f"{never_won[:10].tolist()} never win (their score would go to -infinity){hint}"
        )
    if not (_reaches_all(winners, losers, n_items) and _reaches_all(losers, winners, n_items)):
        raise ValueError(
            "comparisons: with l2 == 0 the maximum-likelihood scores do not exist: the "
            "comparison graph is not strongly connected (some group of items beats every "
            f"item outside it){hint}"
        )


def fit_bradley_terry(
    comparisons: Any,
    n_items: int,
    l2: float = 0.0,
    *,
    tol: float = 1e-9,
    max_iter: int = 100,
) -> np.ndarray:
    """Maximum-likelihood (or MAP) Bradley–Terry scores from pairwise comparisons.

    Minimises, over scores s (one per item),

        J(s) = sum_k -log sigmoid(s_{w_k} - s_{l_k})  +  (l2 / 2) ||s||^2

    with (inexact) Newton's method: the Hessian is a weighted graph Laplacian plus l2*I,

        H = sum_pairs n_ij p_ij (1 - p_ij) (e_i - e_j)(e_i - e_j)^T + l2 I,

    so each Newton step is solved with preconditioned conjugate gradients using only
    sparse Laplacian-vector products (O(number of distinct pairs) per product), then
    safeguarded by a backtracking line search. Iterates stop when the largest gradient
    entry falls below ``tol`` times the largest per-item comparison count.

    Parameters
    ----------
    comparisons : (m, 2) int array_like
        Rows of ``(winner, loser)`` item ids in ``[0, n_items)``.
    n_items : int
        Number of items.
    l2 : float, default 0
        Gaussian prior strength. With ``l2 == 0`` the MLE exists only if every item both
        wins and loses and the "beats" graph is strongly connected; otherwise this raises
        ``ValueError`` saying why. With ``l2 > 0`` the optimum always exists.

    Returns
    -------
    numpy.ndarray, shape (n_items,)
        Mean-zero scores (only differences are identified).

    Examples
    --------
    >>> s = fit_bradley_terry([[0, 1], [0, 1], [1, 0]], n_items=2)
    >>> round(float(s[0] - s[1]), 6)  # log(2 wins / 1 loss)
    0.693147
    """
    l2 = check_real_scalar(l2, "l2")
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {l2}")
    c = _check_comparisons(comparisons, n_items)
    winners, losers = c[:, 0], c[:, 1]
    if l2 == 0:
        _check_mle_exists(winners, losers, n_items)

    # Aggregate to distinct unordered pairs (i < j): wins of i over j and total games.
    i = np.minimum(winners, losers)
    j = np.maximum(winners, losers)
    key = i * n_items + j
    uniq, inverse = np.unique(key, return_inverse=True)
    pi, pj = uniq // n_items, uniq % n_items  # (P,)
    n_ij = np.bincount(inverse, minlength=uniq.size).astype(np.float64)
    wins_i = np.bincount(inverse, weights=(winners == i).astype(np.float64), minlength=uniq.size)

    def objective(s: np.ndarray) -> float:
        d = s[pi] - s[pj]
        # -[w log sig(d) + (n - w) log sig(-d)]
        nll = np.logaddexp(0.0, -d) * wins_i + np.logaddexp(0.0, d) * (n_ij - wins_i)
        return float(nll.sum() + 0.5 * l2 * s @ s)

    def laplacian_matvec(weights: np.ndarray, v: np.ndarray) -> np.ndarray:
        dv = weights * (v[pi] - v[pj])
        return (
            np.bincount(pi, weights=dv, minlength=n_items)
            - np.bincount(pj, weights=dv, minlength=n_items)
            + l2 * v
        )

    s = np.zeros(n_items)
    f = objective(s)
    games = np.bincount(pi, weights=n_ij, minlength=n_items) + np.bincount(
        pj, weights=n_ij, minlength=n_items
    )
    scale = max(1.0, float(games.max()))
    for _ in range(max_iter):
        d = s[pi] - s[pj]
        p = np.exp(-np.logaddexp(0.0, -d))  # P(i beats j)
        resid = n_ij * p - wins_i  # d J / d d_ij
        grad = (
            np.bincount(pi, weights=resid, minlength=n_items)
            - np.bincount(pj, weights=resid, minlength=n_items)
            + l2 * s
        )
        if np.max(np.abs(grad)) <= tol * scale:
            break
        weights = n_ij * p * (1.0 - p)
        diag = (
            np.bincount(pi, weights=weights, minlength=n_items)
            + np.bincount(pj, weights=weights, minlength=n_items)
            + l2
        )
        # Inexact Newton (Eisenstat & Walker 1996): solve only as accurately as the current
        # gradient warrants; the final steps are still accurate enough for fast local
        # convergence, and CG never grinds against its rounding floor.
        forcing = min(0.1, float(np.sqrt(np.max(np.abs(grad)) / scale)))
        step = _pcg(lambda v, w=weights: laplacian_matvec(w, v), -grad, diag, rtol=forcing)
        if l2 == 0:
            step -= step.mean()
        # Backtracking (Armijo) line search; Newton steps are usually accepted at t = 1.
        slope = float(grad @ step)
        t = 1.0
        while True:
            s_new = s + t * step
            f_new = objective(s_new)
            # Near the optimum f changes by less than its rounding error: allow that much,
            # else the Newton step is rejected and the iteration stalls short of tol.
            if f_new <= f + 1e-4 * t * slope + 1e-12 * abs(f) or t < 1e-10:
                break
            t *= 0.5
        s, f = s_new, f_new
    else:  # pragma: no cover - Newton converges in a handful of steps on valid input
        raise RuntimeError(f"fit_bradley_terry did not converge in max_iter={max_iter} steps")
    return s - s.mean()


def _pcg(matvec: Any, b: np.ndarray, diag: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """Jacobi-preconditioned conjugate gradients for the symmetric PSD system A x = b."""
    inv_diag = np.where(diag > 0, 1.0 / np.where(diag > 0, diag, 1.0), 0.0)
    x = np.zeros_like(b)
    r = b.copy()
    z = inv_diag * r
    p = z.copy()
    rz = float(r @ z)
    b_norm = float(np.linalg.norm(b))
    # Below the rounding floor of the matvec the residual stops shrinking and CG can
    # diverge (the Laplacian is singular when l2 == 0): return the best iterate seen.
    best_x, best_norm = x.copy(), b_norm
    for _ in range(max(50, 4 * b.size)):
        r_norm = float(np.linalg.norm(r))
        if r_norm < best_norm:
            best_x, best_norm = x.copy(), r_norm
        if r_norm <= rtol * b_norm:
            break
        ap = matvec(p)
        pap = float(p @ ap)
        if pap <= 0:
            break
        alpha = rz / pap
        x += alpha * p
        r -= alpha * ap
        z = inv_diag * r
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    if float(np.linalg.norm(r)) < best_norm:
        return x
    return best_x
