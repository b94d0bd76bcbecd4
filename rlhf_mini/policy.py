"""The response-level policy: a softmax over each prompt's candidate responses.

Public names
------------
SoftmaxPolicy                pi(y | x) = softmax(theta[x])_y, theta a (P, K) table of logits
base_policy(world)           the "pretrained" model: theta = phi . w_base
supervised_finetune(...)     SFT: cross-entropy steps toward each prompt's demonstration
sft_policy(world)            base_policy followed by supervised_finetune (the RLHF reference)
optimal_kl_policy(...)       the KL-regularised optimum pi*(y) ∝ pi_ref(y) exp(r(y) / beta)
Adam                         the optimiser of the DPO trainer (Kingma & Ba, arXiv 1412.6980)

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

from rlhf_mini.backend import Backend, resolve_backend, to_numpy

__all__ = [
    "Adam",
    "SoftmaxPolicy",
    "base_policy",
    "optimal_kl_policy",
    "sft_policy",
    "supervised_finetune",
]


def _backend(backend: Any, device: Any) -> Backend:
    return backend if isinstance(backend, Backend) else resolve_backend(backend, device)


def log_softmax(xp: Any, logits: Any) -> Any:
    """log softmax over the last axis: z - max z - log sum exp(z - max z)."""
    z = logits - xp.max(logits, axis=-1, keepdims=True)
    return z - xp.log(xp.sum(xp.exp(z), axis=-1, keepdims=True))


@dataclass
class SoftmaxPolicy:
    """A table of logits theta, shape (P, K): pi(y | x) = softmax(theta[x])_y.

    ``logits`` may be any array-like; it is stored on ``backend`` (a name or a
    :class:`rlhf_mini.backend.Backend`) as float64.
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
        """Inverse-CDF samples y[x, j] ~ pi(. | x) from uniforms in [0, 1), shape (P, n).

        The uniforms come from a numpy Generator (so every backend samples the same y);
        ``cdf = pi @ U`` with U upper-triangular ones, and y = #{k : cdf[k] <= u}.
        """
        xp = self.xp
        k = self.logits.shape[1]
        upper = self._b.asarray(np.triu(np.ones((k, k))))
        cdf = self.probs() @ upper  # (P, K)
        u = self._b.asarray(to_numpy(uniforms))
        y = xp.sum(xp.astype(cdf[:, None, :] <= u[:, :, None], xp.int64), axis=-1)  # (P, n)
        return xp.clip(y, 0, k - 1)  # guard against cdf[-1] = 1 - 1e-16 < u

    def to_numpy(self) -> np.ndarray:
        """pi as a numpy array (P, K)."""
        return to_numpy(self.probs())

    def copy(self, logits: Any = None) -> SoftmaxPolicy:
        """A new policy on the same backend (with new ``logits`` if given)."""
        return SoftmaxPolicy(self.logits if logits is None else logits, self._b)


@dataclass
class PolicyRun:
    """A training run of a :class:`SoftmaxPolicy`: the final policy, its frozen reference,
    the logged ``history`` (lists of floats, one entry per logged step) and the ``config``."""

    policy: SoftmaxPolicy
    reference: SoftmaxPolicy
    history: dict[str, list[float]]
    config: dict[str, Any] = field(default_factory=dict)

    def final(self) -> dict[str, float]:
        """The last logged value of every history entry."""
        return {k: v[-1] for k, v in self.history.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: config, final values, history and the policy's logits."""
        return {
            "config": self.config,
            "final": self.final(),
            "history": self.history,
            "policy": self.policy.to_numpy().tolist(),
        }


def base_policy(
    world: Any = None, *, backend: str = "numpy", device: Any = None, dtype: str = "float64"
) -> SoftmaxPolicy:
    """The "pretrained" policy: theta = phi . w_base (fluent, verbose, compliant, confident)."""
    from rlhf_mini.world import load_world

    world = load_world() if world is None else world
    return SoftmaxPolicy(world.base_logits(), resolve_backend(backend, device, dtype))


def supervised_finetune(
    policy: SoftmaxPolicy, demonstrations: Any, *, steps: int = 8, lr: float = 0.5
) -> tuple[SoftmaxPolicy, dict[str, list[float]]]:
    """Supervised fine-tuning: gradient steps on the demonstrations' cross-entropy.

        L(theta) = mean_{x with a demonstration d(x)}  -log pi(d(x) | x)
        dL/dtheta[x] = (pi(. | x) - onehot(d(x))) / n_demos

    Prompts without a demonstration (``demonstrations[x] == -1``) keep their logits.

    Returns
    -------
    (policy, history) with history["loss"] and history["demo_prob"] (mean probability of
    the demonstrated responses) before each step and after the last.
    """
    steps = _positive_int(steps, "steps")
    lr = _positive_float(lr, "lr")
    d = np.asarray(demonstrations, dtype=int)
    k = policy.shape[1]
    if d.shape != (policy.shape[0],) or d.min() < -1 or d.max() >= k:
        raise ValueError(f"demonstrations must be {policy.shape[0]} indices in [-1, {k})")
    has_demo = d >= 0
    if not has_demo.any():
        raise ValueError("demonstrations must contain at least one index >= 0")
    b, xp = policy._b, policy.xp
    target = b.asarray(np.eye(k)[np.where(has_demo, d, 0)] * has_demo[:, None])  # (P, K)
    mask = b.asarray(has_demo.astype(float))[:, None]  # (P, 1)
    n_demos = float(has_demo.sum())
    theta = policy.logits
    history: dict[str, list[float]] = {"loss": [], "demo_prob": []}
    for step in range(steps + 1):
        logp = log_softmax(xp, theta)
        history["loss"].append(float(-xp.sum(target * logp)) / n_demos)
        history["demo_prob"].append(float(xp.sum(target * xp.exp(logp))) / n_demos)
        if step == steps:
            break
        grad = (xp.exp(logp) - target) * mask / n_demos
        theta = theta - lr * n_demos * grad  # lr per prompt, independent of how many demos
    return policy.copy(theta), history


def sft_policy(
    world: Any = None,
    *,
    steps: int = 8,
    lr: float = 0.5,
    backend: str = "numpy",
    device: Any = None,
    dtype: str = "float64",
) -> SoftmaxPolicy:
    """The supervised fine-tuned policy (the reference model of RLHF)."""
    from rlhf_mini.world import load_world

    world = load_world() if world is None else world
    policy, _ = supervised_finetune(
        base_policy(world, backend=backend, device=device, dtype=dtype),
        world.demonstrations(),
        steps=steps,
        lr=lr,
    )
    return policy


def optimal_kl_policy(reference: SoftmaxPolicy, rewards: Any, beta: float) -> SoftmaxPolicy:
    """The maximiser of the KL-regularised objective, for every prompt x:

        max_pi  E_{y~pi}[r(x, y)] - beta KL(pi(.|x) || pi_ref(.|x))
        pi*(y | x) = pi_ref(y | x) exp(r(x, y) / beta) / Z(x)

    (Ziegler et al. 2019, arXiv 1909.08593; Rafailov et al. 2023, arXiv 2305.18290, eq. 4).
    In logits: theta* = log pi_ref + r / beta.
    """
    beta = _positive_float(beta, "beta")
    r = np.asarray(to_numpy(rewards), dtype=float)
    if r.shape != reference.shape:
        raise ValueError(f"rewards must have shape {reference.shape}, got {r.shape}")
    return reference.copy(to_numpy(reference.log_probs()) + r / beta)


class Adam:
    """Adam (Kingma & Ba 2014, arXiv 1412.6980) on one array of parameters:

        m <- b1 m + (1 - b1) g          v <- b2 v + (1 - b2) g^2
        theta <- theta - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    Each coordinate moves by about ``lr`` per step whatever the gradient's scale, which is
    why it suits DPO, whose gradients shrink with beta.
    """

    def __init__(self, xp: Any, lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
        self.xp, self.lr, self.b1, self.b2, self.eps = xp, lr, b1, b2, eps
        self.m: Any = None
        self.v: Any = None
        self.t = 0

    def step(self, theta: Any, grad: Any, lr: float | None = None) -> Any:
        """Return the updated parameters (``lr`` overrides the step size, e.g. annealed)."""
        if self.m is None:
            self.m, self.v = grad * 0.0, grad * 0.0
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * grad
        self.v = self.b2 * self.v + (1 - self.b2) * grad * grad
        m_hat = self.m / (1 - self.b1**self.t)
        v_hat = self.v / (1 - self.b2**self.t)
        lr = self.lr if lr is None else lr
        return theta - lr * m_hat / (self.xp.sqrt(v_hat) + self.eps)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return int(value)


def _positive_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return float(value)
