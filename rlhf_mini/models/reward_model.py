"""Reward models on the response bandit: a score for any response of any prompt.

Public names
------------
RewardModel                   r(x, y) = w . phi(x, y), linear in the world's features
MLPRewardModel                r(x, y) = v . tanh(W phi(x, y) + c), one hidden layer
win_probability_rewards(...)  scores as P(beats the reference's typical response)
pair_accuracy(scores, u)      how often two score tables order same-prompt pairs alike

Their training loss is :mod:`rlhf_mini.losses.reward_model`; the trainer is
:mod:`rlhf_mini.trainers.reward_model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rlhf_mini.core.backend import to_numpy
from rlhf_mini.core.numerics import sigmoid
from rlhf_mini.worlds.bandit import World, load_world

__all__ = [
    "REWARD_SCALES",
    "MLPRewardModel",
    "RewardModel",
    "mlp_forward",
    "pair_accuracy",
    "win_probability_rewards",
]


@dataclass(frozen=True)
class RewardModel:
    """r(x, y) = weights . phi(x, y), one weight per world feature."""

    weights: np.ndarray  # (F,)
    features: tuple[str, ...]

    def score(self, phi: Any) -> np.ndarray:
        """Scores of feature vectors ``phi`` (..., F) -> (...)."""
        phi = np.asarray(phi, dtype=float)
        if phi.shape[-1:] != self.weights.shape:
            raise ValueError(f"phi must end with {len(self.features)} features, got {phi.shape}")
        return phi @ self.weights

    def score_table(self, world: World | None = None) -> np.ndarray:
        """Score of every response of every prompt, shape (P, K)."""
        world = load_world() if world is None else world
        return self.score(world.feature_table())

    def to_dict(self) -> dict[str, float]:
        return dict(zip(self.features, self.weights.tolist(), strict=True))


@dataclass(frozen=True)
class MLPRewardModel:
    """r(x, y) = v . tanh(W phi(x, y) + c): one hidden layer of ``H`` tanh units."""

    w: np.ndarray  # (H, F)
    c: np.ndarray  # (H,)
    v: np.ndarray  # (H,)
    features: tuple[str, ...]

    def score(self, phi: Any) -> np.ndarray:
        """Scores of feature vectors ``phi`` (..., F) -> (...)."""
        phi = np.asarray(phi, dtype=float)
        if phi.shape[-1:] != self.w.shape[1:]:
            raise ValueError(f"phi must end with {len(self.features)} features, got {phi.shape}")
        return mlp_forward(np, phi, self.w, self.c, self.v)[1]

    def score_table(self, world: World | None = None) -> np.ndarray:
        """Score of every response of every prompt, shape (P, K)."""
        world = load_world() if world is None else world
        return self.score(world.feature_table())

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "w": self.w.tolist(),
            "c": self.c.tolist(),
            "v": self.v.tolist(),
        }


def mlp_forward(xp: Any, phi: Any, w: Any, c: Any, v: Any) -> tuple[Any, Any]:
    """Hidden activations h = tanh(phi W^T + c), (m, H), and scores r = h v, (m,)."""
    h = xp.tanh(phi @ w.T + c)
    return h, h @ v


def pair_accuracy(scores: Any, utility: Any) -> float:
    """Fraction of same-prompt response pairs (with different utility) that ``scores``
    orders like ``utility``; both (P, K). 1.0 = the same ranking on every prompt."""
    s, u = np.asarray(scores, dtype=float), np.asarray(utility, dtype=float)
    ds = s[:, :, None] - s[:, None, :]  # (P, K, K)
    du = u[:, :, None] - u[:, None, :]
    pairs = du > 0
    return float(np.mean(ds[pairs] > 0))


#: How :func:`rlhf_mini.train_ppo` turns reward-model scores into the reward it optimises.
REWARD_SCALES = ("win_probability", "raw")


def win_probability_rewards(scores: Any, reference: Any) -> np.ndarray:
    """Scores as the Bradley–Terry probability of beating the reference's typical response.

        r_win(x, y) = sigmoid(r(x, y) - E_{y' ~ pi_ref(.|x)}[r(x, y')])

    A reward model's scores are only defined up to a shift per prompt, and their spread is
    whatever the labels made it (lesson 3); the KL weight beta of RLHF is a temperature in
    the reward's units (pi* ∝ pi_ref exp(r / beta)), so the same beta means a strong leash
    for one reward model and none for another. This scale removes both arbitrary choices
    and means something: under the reward model's own Bradley–Terry model, the chance that
    people prefer y to a response of the reference policy's expected score. It lies in
    [0, 1], is 1/2 for a response exactly as good as the reference's average, and keeps the
    order of the responses to each prompt. Practice normalises rewards too (InstructGPT
    shifts its reward model so reference samples score 0 on average, Ouyang et al. 2022,
    arXiv 2203.02155; TRL and OpenRLHF whiten or scale rewards).

    Parameters
    ----------
    scores : (P, K) array
        Reward-model scores of every candidate of every prompt.
    reference : SoftmaxPolicy or (P, K) array of probabilities
        The reference policy pi_ref (the expectation is taken under it).

    Examples
    --------
    >>> import numpy as np
    >>> win_probability_rewards(np.array([[2.0, 0.0]]), np.array([[0.5, 0.5]])).round(3)
    array([[0.731, 0.269]])
    """
    r = np.asarray(to_numpy(scores), dtype=float)
    probs = reference.to_numpy() if hasattr(reference, "to_numpy") else reference
    pi = np.asarray(to_numpy(probs), dtype=float)
    if r.ndim != 2 or r.shape != pi.shape:
        raise ValueError(
            f"scores must have the reference's shape (P, K) = {pi.shape}, got {r.shape}"
        )
    if not np.all(np.isfinite(r)):
        raise ValueError("scores must be finite")
    baseline = np.sum(pi * r, axis=1, keepdims=True)  # E_ref[r], (P, 1)
    return sigmoid(np, r - baseline)
