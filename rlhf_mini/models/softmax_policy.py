"""The response-level policy: a softmax over each prompt's candidate responses.

Public names
------------
SoftmaxPolicy                pi(y | x) = softmax(theta[x])_y, theta a (P, K) table of logits
base_policy(world)           the "pretrained" model: theta = phi . w_base
optimal_kl_policy(...)       the KL-regularised optimum pi*(y) ∝ pi_ref(y) exp(r(y) / beta)

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

__all__ = ["SoftmaxPolicy", "base_policy", "optimal_kl_policy"]


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
