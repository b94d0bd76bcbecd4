"""Training a reward model on pairwise comparisons: full-batch gradient descent on the
Bradley–Terry loss (:mod:`rlhf_mini.losses.reward_model`).

Public names
------------
RewardModelConfig           the settings (steps, lr, l2, hidden, ...)
RewardModelResult           the trained model, its history and metrics
train_reward_model(...)     -> RewardModelResult
reward_model_training(...)  the same run, one result per logged step (for live displays)
default_reward_model(seed)  the reward model the trainers use when given none

The linear model starts at w = 0; with ``hidden=H`` the MLP reward model
r = v . tanh(W phi + c) starts at v = 0 (every response scores 0 and the loss is log 2, as
for the linear model) with W drawn from N(0, 1/F) with the seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from rlhf_mini.core.backend import resolve_backend, to_numpy
from rlhf_mini.core.checks import check_in_range, check_int, check_non_negative, check_positive
from rlhf_mini.core.config import TrainerConfig
from rlhf_mini.core.runs import RunResult
from rlhf_mini.losses.bradley_terry import bradley_terry_loss
from rlhf_mini.losses.reward_model import mlp_reward_model_loss, reward_model_loss
from rlhf_mini.models.reward_model import MLPRewardModel, RewardModel, mlp_forward, pair_accuracy
from rlhf_mini.worlds.bandit import Comparisons, World, load_world, simulate_comparisons

__all__ = [
    "RewardModelConfig",
    "RewardModelResult",
    "default_reward_model",
    "reward_model_training",
    "train_reward_model",
]


@dataclass(frozen=True)
class RewardModelConfig(TrainerConfig):
    """Settings of :func:`train_reward_model`."""

    steps: int = 200
    """Full-batch gradient steps (each one pass over the training comparisons)."""
    lr: float = 2.0
    """Step size."""
    l2: float = 1e-3
    """Weight decay (keeps the weights finite when the data are separable)."""
    hidden: int | None = None
    """Train the MLP reward model with this many tanh units (None: the linear model)."""
    heldout_fraction: float = 0.2
    """Share of the comparisons held out (chosen with the seed) unless heldout= is given."""
    log_every: int = 1
    """Record the history every this many steps (and at the last one)."""

    def check(self) -> dict[str, Any]:
        return {
            **super().check(),
            "steps": check_int(self.steps, "steps"),
            "lr": check_positive(self.lr, "lr"),
            "l2": check_non_negative(self.l2, "l2"),
            "hidden": None if self.hidden is None else check_int(self.hidden, "hidden"),
            "heldout_fraction": check_in_range(
                self.heldout_fraction, "heldout_fraction", 0.0, 1.0, low_open=False, high_open=True
            ),
            "log_every": check_int(self.log_every, "log_every"),
        }


@dataclass(kw_only=True)
class RewardModelResult(RunResult):
    """A trained reward model; ``history`` has one entry per logged step.

    ``history`` keys: step, train_loss, train_accuracy, heldout_loss, heldout_accuracy
    (held-out keys are absent when nothing is held out). ``metrics``: gold_pair_accuracy
    (how often the model orders two responses to one prompt like the gold utility does)
    and heldout_label_gold_agreement (how often the noisy held-out labels themselves agree
    with the gold utility).
    """

    model: RewardModel | MLPRewardModel
    metrics: dict[str, float]
    n_train: int
    n_heldout: int

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "weights": self.model.to_dict(),
            "metrics": dict(self.metrics),
            "n_train": self.n_train,
            "n_heldout": self.n_heldout,
        }


def train_reward_model(
    comparisons: Comparisons,
    config: RewardModelConfig | None = None,
    *,
    heldout: Comparisons | None = None,
    world: World | None = None,
    **options: Any,
) -> RewardModelResult:
    """Fit a reward model to comparisons by gradient descent on the Bradley–Terry loss.

    Parameters
    ----------
    comparisons : Comparisons
        Training data (from :func:`rlhf_mini.simulate_comparisons`). Unless ``heldout`` is
        given, a ``heldout_fraction`` of it (chosen with ``seed``) is held out.
    config, **options
        :class:`RewardModelConfig`, or its fields as keywords.
    heldout : Comparisons, optional
        Comparisons to measure on and never train on.
    world : World, optional
        Defaults to :func:`rlhf_mini.load_world`.

    Returns
    -------
    RewardModelResult
        ``model`` is a :class:`RewardModel`, or an :class:`MLPRewardModel` with ``hidden``.

    Examples
    --------
    >>> from rlhf_mini.worlds.bandit import simulate_comparisons
    >>> res = train_reward_model(simulate_comparisons(400, seed=0), steps=100)
    >>> res.history["heldout_accuracy"][-1] > 0.7
    True
    """
    fit = _Fit(comparisons, RewardModelConfig.from_options(config, **options), heldout, world)
    for _ in fit.steps():
        pass
    return fit.result()


def reward_model_training(
    comparisons: Comparisons,
    config: RewardModelConfig | None = None,
    *,
    heldout: Comparisons | None = None,
    world: World | None = None,
    **options: Any,
) -> Iterator[RewardModelResult]:
    """:func:`train_reward_model` one logged step at a time, for a live display.

    Takes the same arguments. Yields the result so far (model, history up to this step,
    metrics of this model) after every logged step; the last item equals what
    ``train_reward_model`` returns. Bad arguments raise here, not at the first ``next()``.

    Examples
    --------
    >>> from rlhf_mini.worlds.bandit import simulate_comparisons
    >>> run = reward_model_training(simulate_comparisons(400, seed=0), steps=100, log_every=50)
    >>> [(r.history["step"][-1], round(r.metrics["gold_pair_accuracy"], 2)) for r in run]
    [(0, 0.0), (50, 0.99), (100, 0.99)]
    """
    fit = _Fit(comparisons, RewardModelConfig.from_options(config, **options), heldout, world)
    return (fit.result() for _ in fit.steps())


class _Fit:
    """One run of the reward-model trainer: data on the backend, parameters, history."""

    def __init__(
        self,
        comparisons: Comparisons,
        cfg: RewardModelConfig,
        heldout: Comparisons | None,
        world: World | None,
    ):
        if not isinstance(comparisons, Comparisons):
            raise TypeError(f"comparisons must be a Comparisons, got {type(comparisons).__name__}")
        if heldout is not None and not isinstance(heldout, Comparisons):
            raise TypeError(f"heldout must be a Comparisons, got {type(heldout).__name__}")
        self.cfg = cfg
        self.b = b = resolve_backend(cfg.backend, cfg.device, cfg.dtype)
        self.world = world = load_world() if world is None else world
        if heldout is None:
            self.train, self.heldout = comparisons.split(cfg.heldout_fraction, cfg.seed)
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
        f = world.n_features
        if cfg.hidden is None:  # linear: w (F,)
            self.params: tuple[Any, ...] = (b.zeros((f,)),)
        else:  # MLP: W (H, F) ~ N(0, 1/F), c (H,) = 0, v (H,) = 0
            h = cfg.hidden
            w1 = np.random.default_rng(cfg.seed).normal(0.0, 1.0 / np.sqrt(f), size=(h, f))
            self.params = (b.asarray(w1), b.zeros((h,)), b.zeros((h,)))
        self.history: dict[str, list[float]] = {
            k: []
            for k in ("step", "train_loss", "train_accuracy")
            + (("heldout_loss", "heldout_accuracy") if self.has_heldout else ())
        }

    def _scores(self, phi: Any) -> Any:
        """r of feature rows ``phi`` (m, F) under the current parameters, (m,)."""
        if len(self.params) == 1:
            return phi @ self.params[0]
        return mlp_forward(self.b.xp, phi, *self.params)[1]

    def _log(self, step: int) -> None:
        xp, history = self.b.xp, self.history
        s_c, s_r = self._scores(self.phi_c), self._scores(self.phi_r)
        history["step"].append(step)
        history["train_loss"].append(float(bradley_terry_loss(s_c, s_r)))
        history["train_accuracy"].append(float(xp.mean(xp.astype(s_c > s_r, self.b.dtype))))
        if self.has_heldout:
            h_c, h_r = self._scores(self.hphi_c), self._scores(self.hphi_r)
            history["heldout_loss"].append(float(bradley_terry_loss(h_c, h_r)))
            history["heldout_accuracy"].append(float(xp.mean(xp.astype(h_c > h_r, self.b.dtype))))

    def steps(self) -> Iterator[int]:
        """Train, yielding each logged step once it is in the history."""
        cfg = self.cfg
        for step in range(cfg.steps):
            if step % cfg.log_every == 0:
                self._log(step)
                yield step
            if len(self.params) == 1:
                _, grad = reward_model_loss(self.params[0], self.phi_c, self.phi_r, cfg.l2)
                grads: tuple[Any, ...] = (grad,)
            else:
                w, c, v = self.params
                _, grads = mlp_reward_model_loss(w, c, v, self.phi_c, self.phi_r, cfg.l2)
            self.params = tuple(p - cfg.lr * g for p, g in zip(self.params, grads, strict=True))
        self._log(cfg.steps)
        yield cfg.steps

    def result(self) -> RewardModelResult:
        """The model as it is now, with a copy of the history so far."""
        arrays = [np.asarray(to_numpy(p), dtype=float).copy() for p in self.params]
        features = self.world.features
        model: RewardModel | MLPRewardModel
        if len(arrays) == 1:
            model = RewardModel(arrays[0], features)
        else:
            model = MLPRewardModel(arrays[0], arrays[1], arrays[2], features)
        gold = self.world.gold_utility()
        metrics = {"gold_pair_accuracy": pair_accuracy(model.score_table(self.world), gold)}
        if self.has_heldout:
            metrics["heldout_label_gold_agreement"] = self.heldout.agreement(gold)
        return RewardModelResult(
            history={k: list(v) for k, v in self.history.items()},
            config=self.cfg.to_dict(),
            model=model,
            metrics=metrics,
            n_train=len(self.train),
            n_heldout=len(self.heldout),
        )


def default_reward_model(
    seed: int = 0, *, n_comparisons: int = 500, world: World | None = None
) -> RewardModel:
    """The reward model the trainers use when none is given: trained (200 steps, numpy)
    on ``n_comparisons`` faithful simulated comparisons drawn with ``seed``."""
    world = load_world() if world is None else world
    comparisons = simulate_comparisons(n_comparisons, seed, world=world)
    model = train_reward_model(comparisons, seed=seed, world=world).model
    return cast(RewardModel, model)  # linear: no hidden= was given
