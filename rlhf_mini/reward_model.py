"""A reward model learned from pairwise comparisons (Bradley–Terry), linear in the features.

Public names
------------
RewardModel                 r(x, y) = w . phi(x, y); ``score_table()`` scores every response
MLPRewardModel              r(x, y) = v . tanh(W phi(x, y) + c), the optional tiny MLP
RewardModelResult           the trained model and its per-epoch history
train_reward_model(...)     full-batch gradient descent on the Bradley–Terry loss
reward_model_training(...)  the same run, one result per logged epoch (for live displays)
reward_model_loss(w, ...)   the loss and its explicit gradient w.r.t. the weights
mlp_reward_model_loss(...)  the same for the MLP, by backpropagation written out
default_reward_model(seed)  the reward model trainers use when given none
pair_accuracy(scores, u)    how often two score tables order same-prompt pairs alike

The loss is the Bradley–Terry negative log-likelihood of the labellers' choices (Christiano
et al. 2017, arXiv 1706.03741; Ouyang et al. 2022, arXiv 2203.02155, eq. 1), plus an L2
penalty:

    L(w) = mean_i -log sigmoid(r_w(x_i, y_chosen_i) - r_w(x_i, y_rejected_i)) + (l2 / 2) ||w||^2

Its gradient is :func:`rlhf_mini.bradley_terry_loss_grad` (w.r.t. the two score vectors)
carried to the weights by the chain rule, since dr/dw = phi:

    dL/dw = phi_chosen^T g_chosen + phi_rejected^T g_rejected + l2 w

With ``hidden=H`` the reward model is a one-hidden-layer MLP instead (the "tiny MLP" real
reward models scale up: a network with a scalar head), trained on the same loss:

    r(x, y) = v . tanh(W phi(x, y) + c)        W (H, F), c (H,), v (H,)

with v = 0 at the start (every response scores 0, the loss is log 2, as for the linear
model) and W drawn from N(0, 1/F) with the seed.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from rlhf_mini.backend import resolve_backend, to_numpy
from rlhf_mini.policy import _positive_float, _positive_int
from rlhf_mini.preferences import bradley_terry_loss, bradley_terry_loss_grad
from rlhf_mini.world import Comparisons, World, load_world

__all__ = [
    "MLPRewardModel",
    "RewardModel",
    "RewardModelResult",
    "default_reward_model",
    "mlp_reward_model_loss",
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
        return _mlp_forward(np, phi, self.w, self.c, self.v)[1]

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


@dataclass
class RewardModelResult:
    """A trained reward model; ``history`` has one entry per logged epoch."""

    model: RewardModel | MLPRewardModel
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


def mlp_reward_model_loss(
    w: Any, c: Any, v: Any, phi_chosen: Any, phi_rejected: Any, l2: float = 0.0
) -> tuple[Any, tuple[Any, Any, Any]]:
    """The regularised Bradley–Terry loss of the MLP reward model and its gradient.

        h = tanh(phi W^T + c),  r = h v                              (per response)
        L = bradley_terry_loss(r_c, r_r) + (l2 / 2) (||W||^2 + ||v||^2)

    Backpropagation, with (g_c, g_r) = bradley_terry_loss_grad(r_c, r_r) = dL/dr:

        dL/dv = h_c^T g_c + h_r^T g_r + l2 v
        d_c   = (g_c v^T) * (1 - h_c^2)       dL/d(pre-activation), (m, H); same for r
        dL/dW = d_c^T phi_c + d_r^T phi_r + l2 W
        dL/dc = sum_i d_c[i] + sum_i d_r[i]

    Parameters
    ----------
    w : array (H, F);  c : array (H,);  v : array (H,)
    phi_chosen, phi_rejected : arrays (m, F)

    Returns
    -------
    (loss, (dL/dW, dL/dc, dL/dv)), on the inputs' backend.
    """
    xp = array_namespace(w, phi_chosen)
    h_c, s_c = _mlp_forward(xp, phi_chosen, w, c, v)  # (m, H), (m,)
    h_r, s_r = _mlp_forward(xp, phi_rejected, w, c, v)
    loss = bradley_terry_loss(s_c, s_r) + 0.5 * l2 * (xp.sum(w * w) + v @ v)
    g_c, g_r = bradley_terry_loss_grad(s_c, s_r)  # dL/ds, (m,) each
    grad_v = h_c.T @ g_c + h_r.T @ g_r + l2 * v
    d_c = g_c[:, None] * v[None, :] * (1.0 - h_c * h_c)  # (m, H)
    d_r = g_r[:, None] * v[None, :] * (1.0 - h_r * h_r)
    grad_w = d_c.T @ phi_chosen + d_r.T @ phi_rejected + l2 * w
    grad_c = xp.sum(d_c, axis=0) + xp.sum(d_r, axis=0)
    return loss, (grad_w, grad_c, grad_v)


def _mlp_forward(xp: Any, phi: Any, w: Any, c: Any, v: Any) -> tuple[Any, Any]:
    """Hidden activations h = tanh(phi W^T + c), (m, H), and scores r = h v, (m,)."""
    h = xp.tanh(phi @ w.T + c)
    return h, h @ v


def train_reward_model(
    comparisons: Comparisons,
    *,
    epochs: int = 200,
    lr: float = 2.0,
    l2: float = 1e-3,
    hidden: int | None = None,
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
    hidden : int > 0, optional
        Train the MLP reward model with this many hidden units (:class:`MLPRewardModel`,
        initialised with ``seed``) instead of the linear one.
    log_every : int > 0
        Record the history every ``log_every`` epochs (and at the last one).
    backend, device
        "numpy" or "torch" (any device); the same seed gives the same history.
    dtype : {"float64", "float32"}
        Precision of every array (float32 is the usual choice on a GPU).

    Returns
    -------
    RewardModelResult
        ``model`` is a :class:`RewardModel`, or an :class:`MLPRewardModel` with ``hidden``.
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
        hidden=hidden,
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
        hidden: int | None,
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
        if hidden is None:  # linear: w (F,)
            self.params: tuple[Any, ...] = (b.zeros((world.n_features,)),)
        else:  # MLP: W (H, F) ~ N(0, 1/F), c (H,) = 0, v (H,) = 0
            h = _positive_int(hidden, "hidden")
            f = world.n_features
            w1 = np.random.default_rng(seed).normal(0.0, 1.0 / np.sqrt(f), size=(h, f))
            self.params = (b.asarray(w1), b.zeros((h,)), b.zeros((h,)))
        self.history: dict[str, list[float]] = {
            k: []
            for k in ("epoch", "train_loss", "train_accuracy")
            + (("heldout_loss", "heldout_accuracy") if self.has_heldout else ())
        }
        self.config = {
            "epochs": self.epochs,
            "lr": self.lr,
            "l2": self.l2,
            "hidden": hidden,
            "seed": seed,
            "backend": b.name,
            "dtype": dtype,
        }

    def _scores(self, phi: Any) -> Any:
        """r of feature rows ``phi`` (m, F) under the current parameters, (m,)."""
        if len(self.params) == 1:
            return phi @ self.params[0]
        return _mlp_forward(self.b.xp, phi, *self.params)[1]

    def _log(self, epoch: int) -> None:
        xp, history = self.b.xp, self.history
        s_c, s_r = self._scores(self.phi_c), self._scores(self.phi_r)
        history["epoch"].append(epoch)
        history["train_loss"].append(float(bradley_terry_loss(s_c, s_r)))
        history["train_accuracy"].append(float(xp.mean(xp.astype(s_c > s_r, self.b.dtype))))
        if self.has_heldout:
            h_c, h_r = self._scores(self.hphi_c), self._scores(self.hphi_r)
            history["heldout_loss"].append(float(bradley_terry_loss(h_c, h_r)))
            history["heldout_accuracy"].append(float(xp.mean(xp.astype(h_c > h_r, self.b.dtype))))

    def steps(self) -> Iterator[int]:
        """Train, yielding each logged epoch once it is in the history."""
        for epoch in range(self.epochs):
            if epoch % self.log_every == 0:
                self._log(epoch)
                yield epoch
            if len(self.params) == 1:
                _, grad = reward_model_loss(self.params[0], self.phi_c, self.phi_r, self.l2)
                grads: tuple[Any, ...] = (grad,)
            else:
                _, grads = mlp_reward_model_loss(*self.params, self.phi_c, self.phi_r, self.l2)
            self.params = tuple(p - self.lr * g for p, g in zip(self.params, grads, strict=True))
        self._log(self.epochs)
        yield self.epochs

    def result(self) -> RewardModelResult:
        """The model as it is now, with a copy of the history so far."""
        arrays = [np.asarray(to_numpy(p), dtype=float).copy() for p in self.params]
        features = self.world.features
        model = (
            RewardModel(*arrays, features)
            if len(arrays) == 1
            else MLPRewardModel(*arrays, features)
        )
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
    return np.exp(-np.logaddexp(0.0, -(r - baseline)))  # sigmoid, no overflow
