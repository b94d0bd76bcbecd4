"""The response-level policy: a softmax over each prompt's candidate responses.

Public names
------------
SoftmaxPolicy                pi(y | x) = softmax(theta[x])_y, theta a (P, K) table of logits
base_policy(world)           the "pretrained" model: theta = phi . w_base
optimal_kl_policy(...)       the KL-regularised optimum pi*(y) ∝ pi_ref(y) exp(r(y) / beta)
forward_kl_optimal_policy()  the optimum with KL(pi_ref || pi) instead: pi ∝ pi_ref / (mu - r)

Naming: KL(pi || pi_ref), the policy first, is the *reverse* KL (mode-seeking), the one the
RLHF objective penalises; KL(pi_ref || pi) is the *forward* KL (mass-covering).

(Supervised fine-tuning of this policy is a trainer: :mod:`rlhf_mini.trainers.sft`.)

In a bandit (one response per prompt, no tokens) every quantity RLHF estimates by sampling
can also be computed exactly: expected rewards, KL(pi || pi_ref), entropy. The trainers use
the exact values for their histories, and samples only where the algorithm does.

The only calculus the trainers need is the gradient of a log-probability w.r.t. the logits:

    d log pi(y | x) / d theta[x, k] = 1[k == y] - pi(k | x)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf_mini.core.backend import Backend, resolve_backend, to_numpy
from rlhf_mini.core.checks import check_positive
from rlhf_mini.core.numerics import log_softmax
from rlhf_mini.core.sampling import sample_categorical

__all__ = ["SoftmaxPolicy", "base_policy", "forward_kl_optimal_policy", "optimal_kl_policy"]


def _backend(backend: Any, device: Any) -> Backend:
    return backend if isinstance(backend, Backend) else resolve_backend(backend, device)


@dataclass
class SoftmaxPolicy:
    """A table of logits theta, shape (P, K): pi(y | x) = softmax(theta[x])_y.

    ``logits`` may be any array-like; it is stored on ``backend`` (a name or a
    :class:`rlhf_mini.core.backend.Backend`) as float64.
    """

    logits: Any
    backend: Any = "numpy"
    device: Any = None
    _b: Backend = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._b = _backend(self.backend, self.device)
        self.backend = self._b.name
        self.device = self._b.device
        theta = np.asarray(to_numpy(self.logits), dtype=float)
        if theta.ndim != 2 or theta.shape[1] < 2 or not np.all(np.isfinite(theta)):
            raise ValueError(f"logits must be a finite (P, K >= 2) table, got shape {theta.shape}")
        self.logits = self._b.asarray(theta)

    @property
    def xp(self) -> Any:
        return self._b.xp

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.logits.shape)

    def log_probs(self) -> Any:
        """log pi(y | x), shape (P, K), on the policy's backend."""
        return log_softmax(self.xp, self.logits)

    def probs(self) -> Any:
        """pi(y | x), shape (P, K)."""
        return self.xp.exp(self.log_probs())

    def kl(self, other: SoftmaxPolicy) -> Any:
        """Exact KL(self || other) per prompt, shape (P,): sum_y pi (log pi - log pi_other)."""
        logp = self.log_probs()
        return self.xp.sum(self.xp.exp(logp) * (logp - other.log_probs()), axis=-1)

    def entropy(self) -> Any:
        """H(pi(. | x)) per prompt, shape (P,)."""
        logp = self.log_probs()
        return -self.xp.sum(self.xp.exp(logp) * logp, axis=-1)

    def expected(self, table: Any) -> Any:
        """E_{y ~ pi(.|x)} table[x, y] per prompt, shape (P,), for a (P, K) table."""
        return self.xp.sum(self.probs() * self._b.asarray(to_numpy(table)), axis=-1)

    def greedy(self) -> np.ndarray:
        """The most likely response of every prompt, numpy ints (P,)."""
        return np.argmax(to_numpy(self.logits), axis=-1)

    def sample(self, uniforms: Any) -> Any:
        """Samples y[x, j] ~ pi(. | x) from uniforms in [0, 1), shape (P, n).

        The uniforms come from a numpy Generator, so every backend samples the same y
        (:func:`rlhf_mini.core.sampling.sample_categorical`, inverse CDF).
        """
        return sample_categorical(self.xp, self.probs(), self._b.asarray(to_numpy(uniforms)))

    def to_numpy(self) -> np.ndarray:
        """pi as a numpy array (P, K)."""
        return to_numpy(self.probs())

    def copy(self, logits: Any = None) -> SoftmaxPolicy:
        """A new policy on the same backend (with new ``logits`` if given)."""
        return SoftmaxPolicy(self.logits if logits is None else logits, self._b)


def base_policy(
    world: Any = None, *, backend: str = "numpy", device: Any = None, dtype: str = "float64"
) -> SoftmaxPolicy:
    """The "pretrained" policy: theta = phi . w_base (fluent, verbose, compliant, confident)."""
    from rlhf_mini.worlds.bandit import load_world

    world = load_world() if world is None else world
    return SoftmaxPolicy(world.base_logits(), resolve_backend(backend, device, dtype))


def optimal_kl_policy(reference: SoftmaxPolicy, rewards: Any, beta: float) -> SoftmaxPolicy:
    """The maximiser of the KL-regularised objective, for every prompt x:

        max_pi  E_{y~pi}[r(x, y)] - beta KL(pi(.|x) || pi_ref(.|x))
        pi*(y | x) = pi_ref(y | x) exp(r(x, y) / beta) / Z(x)

    (Ziegler et al. 2019, arXiv 1909.08593; Rafailov et al. 2023, arXiv 2305.18290, eq. 4).
    In logits: theta* = log pi_ref + r / beta.
    """
    beta = check_positive(beta, "beta")
    r = np.asarray(to_numpy(rewards), dtype=float)
    if r.shape != reference.shape:
        raise ValueError(f"rewards must have shape {reference.shape}, got {r.shape}")
    return reference.copy(to_numpy(reference.log_probs()) + r / beta)


def forward_kl_optimal_policy(reference: SoftmaxPolicy, rewards: Any, beta: float) -> SoftmaxPolicy:
    """The maximiser of reward minus beta times the *forward* KL, for every prompt x:

        max_pi  E_{y~pi}[r(x, y)] - beta KL(pi_ref(.|x) || pi(.|x))
        pi(y | x) = beta pi_ref(y | x) / (mu(x) - r(x, y))

    where mu(x) > max_y r(x, y) is the one number that makes the row sum to 1 (the
    Lagrange multiplier; mu = beta + E_pi[r] at the optimum). It is what GRPO's k3 penalty
    in the loss pulls toward (:func:`rlhf_mini.train_grpo`): differentiated with the samples
    held fixed, E_{y~pi}[d k3 / d theta] is the gradient of KL(pi_ref || pi), not of
    KL(pi || pi_ref). Where :func:`optimal_kl_policy` falls off exponentially in the reward,
    this one falls off like 1 / (mu - r): every response the reference gives mass keeps
    some, since KL(pi_ref || pi) is infinite where pi = 0 < pi_ref (mass-covering).

    mu is found by bisection on (max r, max r + beta], where the row sum
    sum_y beta pi_ref(y) / (mu - r(y)) falls from +infinity to at most 1 (monotonically).

    Examples
    --------
    >>> import numpy as np
    >>> ref = SoftmaxPolicy(np.zeros((1, 2)))
    >>> forward_kl_optimal_policy(ref, np.array([[1.0, 0.0]]), beta=1.0).to_numpy().round(4)
    array([[0.7071, 0.2929]])
    >>> optimal_kl_policy(ref, np.array([[1.0, 0.0]]), beta=1.0).to_numpy().round(4)
    array([[0.7311, 0.2689]])
    """
    beta = check_positive(beta, "beta")
    r = np.asarray(to_numpy(rewards), dtype=float)
    if r.shape != reference.shape:
        raise ValueError(f"rewards must have shape {reference.shape}, got {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("rewards must be finite")
    pi_ref = np.asarray(to_numpy(reference.probs()), dtype=float)  # (P, K)
    top = r.max(axis=1, keepdims=True)  # (P, 1)
    gap = top - r  # >= 0; mu - r = t + gap with t = mu - max r in (0, beta]
    low, high = np.zeros_like(top), np.full_like(top, beta)
    for _ in range(200):  # bisection: each halves the bracket (float64 resolution by ~60)
        t = (low + high) / 2
        total = np.sum(beta * pi_ref / (t + gap), axis=1, keepdims=True)
        too_small = total > 1  # the row sum falls as t grows
        low, high = np.where(too_small, t, low), np.where(too_small, high, t)
    probs = beta * pi_ref / (high + gap)
    probs = probs / probs.sum(axis=1, keepdims=True)  # remove the bisection's last ulps
    logits = np.log(np.maximum(probs, np.finfo(float).tiny))
    return reference.copy(logits)
