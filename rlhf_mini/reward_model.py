"""A reward model learned from pairwise comparisons (Bradley–Terry), linear in the features.

Public names
------------
RewardModel                 r(x, y) = w . phi(x, y); ``score_table()`` scores every response
RewardModelResult           the trained model and its per-epoch history
train_reward_model(...)     full-batch gradient descent on the Bradley–Terry loss
reward_model_training(...)  the same run, one result per logged epoch (for live displays)
reward_model_loss(w, ...)   the loss and its explicit gradient w.r.t. the weights
default_reward_model(seed)  the reward model trainers use when given none
pair_accuracy(scores, u)    how often two score tables order same-prompt pairs alike

The loss is the Bradley–Terry negative log-likelihood of the labellers' choices (Christiano
et al. 2017, arXiv 1706.03741; Ouyang et al. 2022, arXiv 2203.02155, eq. 1), plus an L2
penalty:

    L(w) = mean_i -log sigmoid(r_w(x_i, y_chosen_i) - r_w(x_i, y_rejected_i)) + (l2 / 2) ||w||^2

Its gradient is :func:`rlhf_mini.bradley_terry_loss_grad` (w.r.t. the two score vectors)
carried to the weights by the chain rule, since dr/dw = phi:

    dL/dw = phi_chosen^T g_chosen + phi_rejected^T g_rejected + l2 w
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf_mini.backend import resolve_backend, to_numpy
from rlhf_mini.policy import _positive_float, _positive_int
from rlhf_mini.preferences import bradley_terry_loss, bradley_terry_loss_grad
from rlhf_mini.world import Comparisons, World, load_world

__all__ = [
    "RewardModel",
    "RewardModelResult",
    "default_reward_model",
    "pair_accuracy",
    "reward_model_loss",
    "reward_model_training",
    "train_reward_model",
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


@dataclass
class RewardModelResult:
    """A trained reward model; ``history`` has one entry per logged epoch."""

    model: RewardModel
    history: dict[str, list[float]]
    metrics: dict[str, float]
    n_train: int
    n_heldout: int
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": self.model.to_dict(),
            "history": self.history,
            "metrics": self.metrics,
            "n_train": self.n_train,
            "n_heldout": self.n_heldout,
            "config": self.config,
        }


def reward_model_loss(
    weights: Any, phi_chosen: Any, phi_rejected: Any, l2: float = 0.0
) -> tuple[Any, Any]:
    """The regularised Bradley–Terry loss of a linear reward model and its gradient.

        L(w)  = bradley_terry_loss(phi_c w, phi_r w) + (l2 / 2) ||w||^2
        dL/dw = phi_c^T g_c + phi_r^T g_r + l2 w,   (g_c, g_r) = bradley_terry_loss_grad(...)

    Parameters
    ----------
    weights : array (F,)
    phi_chosen, phi_rejected : arrays (m, F)
        Features of the chosen and rejected response of each comparison.

    Returns
    -------
    (loss, grad) : 0-d array and (F,) array, on the inputs' backend.
    """
    s_c, s_r = phi_chosen @ weights, phi_rejected @ weights  # (m,) scores
    loss = bradley_terry_loss(s_c, s_r) + 0.5 * l2 * (weights @ weights)
    g_c, g_r = bradley_terry_loss_grad(s_c, s_r)  # dL/ds, (m,) each
    grad = phi_chosen.T @ g_c + phi_rejected.T @ g_r + l2 * weights  # chain rule: ds/dw = phi
    return loss, grad


def train_reward_model(
    comparisons: Comparisons,
    *,
    epochs: int = 200,
    lr: float = 2.0,
    l2: float = 1e-3,
    heldout: Comparisons | None = None,
    heldout_fraction: float = 0.2,
    seed: int = 0,
    log_every: int = 1,
    world: World | None = None,
    backend: str = "numpy",
    device: Any = None,
    dtype: str = "float64",
) -> RewardModelResult:
    """Fit a linear reward model to comparisons by gradient descent on the BT loss.

    Parameters
    ----------
    comparisons : Comparisons
        Training data (from :func:`rlhf_mini.simulate_comparisons`). Unless ``heldout`` is
        given, a ``heldout_fraction`` of it (chosen with ``seed``) is held out.
    epochs : int > 0
        Full-batch gradient steps.
    lr : float > 0
        Step size.
    l2 : float >= 0
        Weight decay (keeps w finite when the data are separable).
    log_every : int > 0
        Record the history every ``log_every`` epochs (and at the last one).
    backend, device
        "numpy" or "torch" (any device); the same seed gives the same history.
    dtype : {"float64", "float32"}
        Precision of every array (float32 is the usual choice on a GPU).

    Returns
    -------
    RewardModelResult
        ``history`` keys: epoch, train_loss, train_accuracy, heldout_loss,
        heldout_accuracy (held-out keys are absent when nothing is held out).
        ``metrics``: gold_pair_accuracy (how often the model orders two responses to one
        prompt like the gold utility does) and heldout_label_gold_agreement (how often the
        noisy labels themselves agree with the gold utility: the ceiling for accuracy).

    Examples
    --------
    >>> from rlhf_mini.world import simulate_comparisons
    >>> res = train_reward_model(simulate_comparisons(400, seed=0), epochs=100)
    >>> res.history["heldout_accuracy"][-1] > 0.7
    True
    """
    fit = _Fit(
        comparisons,
        epochs=epochs,
        lr=lr,
        l2=l2,
        heldout=heldout,
        heldout_fraction=heldout_fraction,
        seed=seed,
        log_every=log_every,
        world=world,
        backend=backend,
        device=device,
        dtype=dtype,
    )
    for _ in fit.steps():
        pass
    return fit.result()


def reward_model_training(comparisons: Comparisons, **options: Any) -> Iterator[RewardModelResult]:
    """:func:`train_reward_model` one logged epoch at a time, for a live display.

    Takes the same arguments. Yields the result so far (model, history up to this epoch,
    metrics of this model) after every logged epoch; the last item equals what
    ``train_reward_model`` returns. Bad arguments raise here, not at the first ``next()``.

    Examples
    --------
    >>> from rlhf_mini.world import simulate_comparisons
    >>> run = reward_model_training(simulate_comparisons(400, seed=0), epochs=100, log_every=50)
    >>> [(r.history["epoch"][-1], round(r.metrics["gold_pair_accuracy"], 2)) for r in run]
    [(0, 0.0), (50, 0.99), (100, 0.99)]
    """
    # train_reward_model's signature holds the defaults (and rejects unknown options)
    bound = inspect.signature(train_reward_model).bind(comparisons, **options)
    bound.apply_defaults()
    fit = _Fit(**bound.arguments)
    return (fit.result() for _ in fit.steps())


class _Fit:
    """One run of the reward-model trainer: checked inputs, arrays, weights, history."""

    def __init__(  # the arguments of train_reward_model, which documents them
        self,
        comparisons: Comparisons,
        *,
        epochs: int,
        lr: float,
        l2: float,
        heldout: Comparisons | None,
        heldout_fraction: float,
        seed: int,
        log_every: int,
        world: World | None,
        backend: str,
        device: Any,
        dtype: str,
    ):
        if not isinstance(comparisons, Comparisons):
            raise TypeError(f"comparisons must be a Comparisons, got {type(comparisons).__name__}")
        self.epochs = _positive_int(epochs, "epochs")
        self.log_every = _positive_int(log_every, "log_every")
        self.lr = _positive_float(lr, "lr")
        if not (isinstance(l2, (int, float)) and np.isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
        self.l2 = float(l2)
        self.b = b = resolve_backend(backend, device, dtype)
        self.world = world = load_world() if world is None else world
        if heldout is None:
            self.train, self.heldout = comparisons.split(heldout_fraction, seed)
        else:
            self.train, self.heldout = comparisons, heldout
        if len(self.train) == 0:
            raise ValueError("comparisons must leave at least one training comparison")
        phi = world.feature_table()  # (P, K, F)

        def gather(c: Comparisons) -> tuple[Any, Any]:
            return b.asarray(phi[c.prompt, c.chosen]), b.asarray(phi[c.prompt, c.rejected])

        self.phi_c, self.phi_r = gather(self.train)  # (m, F) each
        self.has_heldout = len(self.heldout) > 0
        if self.has_heldout:
            self.hphi_c, self.hphi_r = gather(self.heldout)
        self.w = b.zeros((world.n_features,))
        self.history: dict[str, list[float]] = {
            k: []
            for k in ("epoch", "train_loss", "train_accuracy")
            + (("heldout_loss", "heldout_accuracy") if self.has_heldout else ())
        }
        self.config = {
            "epochs": self.epochs,
            "lr": self.lr,
            "l2": self.l2,
            "seed": seed,
            "backend": b.name,
            "dtype": dtype,
        }

    def _log(self, epoch: int) -> None:
        xp, w, history = self.b.xp, self.w, self.history
        s_c, s_r = self.phi_c @ w, self.phi_r @ w
        history["epoch"].append(epoch)
        history["train_loss"].append(float(bradley_terry_loss(s_c, s_r)))
        history["train_accuracy"].append(float(xp.mean(xp.astype(s_c > s_r, self.b.dtype))))
        if self.has_heldout:
            h_c, h_r = self.hphi_c @ w, self.hphi_r @ w
            history["heldout_loss"].append(float(bradley_terry_loss(h_c, h_r)))
            history["heldout_accuracy"].append(float(xp.mean(xp.astype(h_c > h_r, self.b.dtype))))

    def steps(self) -> Iterator[int]:
        """Train, yielding each logged epoch once it is in the history."""
        for epoch in range(self.epochs):
            if epoch % self.log_every == 0:
                self._log(epoch)
                yield epoch
            _, grad_w = reward_model_loss(self.w, self.phi_c, self.phi_r, self.l2)
            self.w = self.w - self.lr * grad_w
        self._log(self.epochs)
        yield self.epochs

    def result(self) -> RewardModelResult:
        """The model as it is now, with a copy of the history so far."""
        model = RewardModel(np.asarray(to_numpy(self.w), dtype=float).copy(), self.world.features)
        gold = self.world.gold_utility()
        metrics = {"gold_pair_accuracy": pair_accuracy(model.score_table(self.world), gold)}
        if self.has_heldout:
            metrics["heldout_label_gold_agreement"] = self.heldout.agreement(gold)
        history = {k: list(v) for k, v in self.history.items()}
        return RewardModelResult(
            model, history, metrics, len(self.train), len(self.heldout), dict(self.config)
        )


def default_reward_model(
    seed: int = 0, *, n_comparisons: int = 500, world: World | None = None
) -> RewardModel:
    """The reward model the trainers use when none is given: trained (200 epochs, numpy)
    on ``n_comparisons`` faithful simulated comparisons drawn with ``seed``."""
    from rlhf_mini.world import simulate_comparisons

    world = load_world() if world is None else world
    comparisons = simulate_comparisons(n_comparisons, seed, world=world)
    return train_reward_model(comparisons, seed=seed, world=world).model


def pair_accuracy(scores: Any, utility: Any) -> float:
    """Fraction of same-prompt response pairs (with different utility) that ``scores``
    orders like ``utility``; both (P, K). 1.0 = the same ranking on every prompt."""
    s, u = np.asarray(scores, dtype=float), np.asarray(utility, dtype=float)
    ds = s[:, :, None] - s[:, None, :]  # (P, K, K)
    du = u[:, :, None] - u[:, None, :]
    pairs = du > 0
    return float(np.mean(ds[pairs] > 0))
