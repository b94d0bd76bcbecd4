"""The Bradley–Terry model of a set of items, fitted to pairwise comparisons.

Bradley & Terry (1952); used for reward models by Christiano et al. 2017 (arXiv 1706.03741).
The model apart from the solver, as choix keeps its models apart from scipy: this module
states the objective, its gradient and its Hessian-vector product; the minimisation is the
library's inexact Newton-CG (:func:`rlhf_mini.core.optim.newton_cg`).

Over scores s (one per item) and comparisons aggregated to distinct pairs i < j, with n_ij
games of which i won w_ij, d_ij = s_i - s_j and p_ij = sigmoid(d_ij):

    J(s)      = sum_ij [ -w_ij log p_ij - (n_ij - w_ij) log(1 - p_ij) ] + (l2 / 2) ||s||^2
    grad J    = sum_ij (n_ij p_ij - w_ij) (e_i - e_j) + l2 s
    H v       = sum_ij n_ij p_ij (1 - p_ij) (v_i - v_j) (e_i - e_j) + l2 v

H is a weighted graph Laplacian plus l2 I, so a product costs O(number of distinct pairs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlhf_mini.core.checks import check_non_negative
from rlhf_mini.core.numerics import log_sigmoid, sigmoid
from rlhf_mini.core.optim import newton_cg

__all__ = ["BradleyTerryObjective", "fit_bradley_terry"]


@dataclass(frozen=True)
class BradleyTerryObjective:
    """J(s) of the module docstring for comparisons aggregated to distinct pairs."""

    pi: np.ndarray  # (P,) first item of each distinct pair (i < j)
    pj: np.ndarray  # (P,) second item
    n_ij: np.ndarray  # (P,) games between them
    wins_i: np.ndarray  # (P,) games the first item won
    n_items: int
    l2: float

    @classmethod
    def from_comparisons(cls, winners: np.ndarray, losers: np.ndarray, n_items: int, l2: float):
        """Aggregate (winner, loser) rows to distinct unordered pairs."""
        i, j = np.minimum(winners, losers), np.maximum(winners, losers)
        uniq, inverse = np.unique(i * n_items + j, return_inverse=True)
        n_ij = np.bincount(inverse, minlength=uniq.size).astype(np.float64)
        wins_i = np.bincount(
            inverse, weights=(winners == i).astype(np.float64), minlength=uniq.size
        )
        return cls(uniq // n_items, uniq % n_items, n_ij, wins_i, n_items, l2)

    def _scatter(self, per_pair: np.ndarray) -> np.ndarray:
        """sum_ij per_pair_ij (e_i - e_j), shape (n_items,)."""
        n = self.n_items
        return np.bincount(self.pi, weights=per_pair, minlength=n) - np.bincount(
            self.pj, weights=per_pair, minlength=n
        )

    def value(self, s: np.ndarray) -> float:
        d = s[self.pi] - s[self.pj]
        # -[w log sig(d) + (n - w) log sig(-d)]
        nll = -log_sigmoid(np, d) * self.wins_i - log_sigmoid(np, -d) * (self.n_ij - self.wins_i)
        return float(nll.sum() + 0.5 * self.l2 * s @ s)

    def _p(self, s: np.ndarray) -> np.ndarray:
        return sigmoid(np, s[self.pi] - s[self.pj])  # P(i beats j)

    def gradient(self, s: np.ndarray) -> np.ndarray:
        return self._scatter(self.n_ij * self._p(s) - self.wins_i) + self.l2 * s

    def hessian(self, s: np.ndarray) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]:
        """(v -> H v, diag H) at s."""
        p = self._p(s)
        weights = self.n_ij * p * (1.0 - p)
        n = self.n_items
        diag = (
            np.bincount(self.pi, weights=weights, minlength=n)
            + np.bincount(self.pj, weights=weights, minlength=n)
            + self.l2
        )

        def matvec(v: np.ndarray) -> np.ndarray:
            return self._scatter(weights * (v[self.pi] - v[self.pj])) + self.l2 * v

        return matvec, diag

    def games_per_item(self) -> np.ndarray:
        return np.bincount(self.pi, weights=self.n_ij, minlength=self.n_items) + np.bincount(
            self.pj, weights=self.n_ij, minlength=self.n_items
        )


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

    with inexact Newton-CG (:func:`rlhf_mini.core.optim.newton_cg`) on
    :class:`BradleyTerryObjective`: the Hessian is a weighted graph Laplacian plus l2 I, so
    each Newton step needs only sparse Laplacian-vector products. Iterates stop when the
    largest gradient entry falls below ``tol`` times the largest per-item comparison count.

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
    l2 = check_non_negative(l2, "l2")
    c = _check_comparisons(comparisons, n_items)
    winners, losers = c[:, 0], c[:, 1]
    if l2 == 0:
        _check_mle_exists(winners, losers, n_items)
    model = BradleyTerryObjective.from_comparisons(winners, losers, n_items, l2)
    s = newton_cg(
        model.value,
        model.gradient,
        model.hessian,
        np.zeros(n_items),
        tol=tol,
        scale=max(1.0, float(model.games_per_item().max())),
        max_iter=max_iter,
        # with l2 == 0, J is unchanged by a common shift and H is singular along it
        project=(lambda step: step - step.mean()) if l2 == 0 else None,
    )
    return s - s.mean()
