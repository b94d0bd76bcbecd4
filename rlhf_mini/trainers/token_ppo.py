"""Token-level PPO with a per-token KL penalty: the mechanics of RLHF on a bigram "language model".

Ziegler et al. 2019 (arXiv 1909.08593) and Ouyang et al. 2022 (arXiv 2203.02155) fine-tune
a language model with PPO (Schulman et al. 2017, arXiv 1707.06347). This module runs the
same loop on a model small enough to read: a tabular bigram policy over a vocabulary of a
dozen words.

The policy and the scorer are the bigram world (:mod:`rlhf_mini.worlds.bigram`): a table of
logits theta over (state, next token), logits = phi(s) @ theta for one-hot state features
phi(s), starting at a frozen reference table theta_ref, and a scorer that rates a whole
response by the mean of per-token preferences. Every token also pays the KL penalty
(:func:`rlhf_mini.kl_penalized_rewards`):

    R_t = -beta (log pi_old(y_t|s_t) - log pi_ref(y_t|s_t)) + [t = T] score(x, y)

The critic. A tabular value function V(s_t, t) = w[s_t, t] (one-hot features of state and
position), trained on the GAE returns (:func:`rlhf_mini.gae`):

    L_V = 1/2 mean (V(s_t, t) - R_t^GAE)^2

The update. For ``update_epochs`` passes over shuffled minibatches of responses, the
clipped surrogate (:func:`rlhf_mini.ppo_clip_loss`) on every token, minus an entropy bonus:

    L = mean_t [ -min(r_t A_t, clip(r_t, 1 - eps, 1 + eps) A_t) ] - c_H mean_t H(pi(.|s_t))

with r_t = pi_theta(y_t|s_t) / pi_old(y_t|s_t). Its gradient is chained through the
softmax by hand (:func:`policy_loss_and_grad`):

    d log pi(y|s) / d theta[s, :] = onehot(y) - pi(.|s)
    d H(s) / d theta[s, :]        = -pi(.|s) (log pi(.|s) + H(s))

and theta, w take plain gradient steps. Sampling always uses a numpy ``Generator`` seeded
by ``seed`` on the CPU, so the numpy and torch backends produce the same history.

Examples
--------
>>> result = train_token_ppo(steps=30, beta=0.05, seed=0)
>>> result.history["score"][-1] > result.history["score"][0]
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from rlhf_mini.core.backend import Backend, resolve_backend, to_numpy
from rlhf_mini.core.checks import (
    check_in_range,
    check_int,
    check_non_negative,
    check_positive,
)
from rlhf_mini.core.config import TrainerConfig
from rlhf_mini.core.numerics import exp_log_ratio, log_softmax, one_hot
from rlhf_mini.core.runs import RunResult
from rlhf_mini.losses.advantages import gae
from rlhf_mini.losses.kl import kl_penalized_rewards
from rlhf_mini.losses.ppo_clip import ppo_clip_loss, ppo_clip_loss_grad
from rlhf_mini.worlds.bigram import (
    N_STATES,
    PROMPTS,
    VOCAB,
    decode,
    exact_kl,
    reference_logits,
    sample_responses,
    score_tokens,
)

__all__ = [
    "TokenPPOConfig",
    "TokenPPOResult",
    "policy_loss_and_grad",
    "train_token_ppo",
    "value_loss_and_grad",
]


@dataclass(frozen=True)
class TokenPPOConfig(TrainerConfig):
    """Settings of :func:`train_token_ppo`."""

    steps: int = 200
    """Rollout + update rounds."""
    beta: float = 0.05
    """KL penalty coefficient per token (0: no penalty)."""
    batch_size: int = 32
    """Responses sampled per rollout."""
    response_length: int = 6
    """Tokens per response."""
    lr: float = 2.0
    """Gradient step size of the policy."""
    vf_lr: float = 2.0
    """Gradient step size of the critic."""
    clip_eps: float = 0.2
    """PPO's clip range on the probability ratio, in (0, 1)."""
    gamma: float = 1.0
    """Discount of later rewards in GAE, in [0, 1]."""
    lam: float = 0.95
    """GAE's bias-variance trade-off, in [0, 1]."""
    update_epochs: int = 4
    """Passes over each rollout's minibatches."""
    num_minibatches: int = 2
    """Minibatches per pass (of whole responses; at most batch_size)."""
    ent_coef: float = 0.0
    """Coefficient of the entropy bonus."""
    normalize_advantages: bool = True
    """Standardise the advantages of each minibatch."""

    def check(self) -> dict[str, Any]:
        values = {
            **super().check(),
            "steps": check_int(self.steps, "steps"),
            "beta": check_non_negative(self.beta, "beta"),
            "batch_size": check_int(self.batch_size, "batch_size"),
            "response_length": check_int(self.response_length, "response_length"),
            "lr": check_positive(self.lr, "lr"),
            "vf_lr": check_positive(self.vf_lr, "vf_lr"),
            "clip_eps": check_in_range(
                self.clip_eps, "clip_eps", 0.0, 1.0, low_open=True, high_open=True
            ),
            "gamma": check_in_range(self.gamma, "gamma", 0.0, 1.0, low_open=False, high_open=False),
            "lam": check_in_range(self.lam, "lam", 0.0, 1.0, low_open=False, high_open=False),
            "update_epochs": check_int(self.update_epochs, "update_epochs"),
            "num_minibatches": check_int(self.num_minibatches, "num_minibatches"),
            "ent_coef": check_non_negative(self.ent_coef, "ent_coef"),
        }
        if values["num_minibatches"] > values["batch_size"]:
            raise ValueError(
                f"num_minibatches must be <= batch_size ({values['batch_size']}), "
                f"got {values['num_minibatches']}"
            )
        return values


HISTORY_KEYS = (
    "step",
    "score",
    "kl",
    "kl_estimate",
    "reward",
    "clip_fraction",
    "policy_loss",
    "value_loss",
    "entropy",
)


@dataclass(kw_only=True)
class TokenPPOResult(RunResult):
    """What :func:`train_token_ppo` returns.

    Attributes
    ----------
    history : dict of lists, one value per update
        ``step``, ``score`` (mean scorer score of the rollout), ``kl`` (exact KL to the
        reference of the policy that sampled it), ``kl_estimate`` (mean summed per-token k1
        of the rollout), ``reward`` (score - beta * kl_estimate), ``clip_fraction``,
        ``policy_loss``, ``value_loss`` (means over the minibatches), ``entropy`` (mean
        per-token entropy over the rollout's states).
    theta, theta_ref : numpy arrays (states, vocabulary)
        Final policy and reference logits.
    value : numpy array (states, response_length)
        The critic's table.
    samples : list of dict
        A few responses of the final policy: prompt, text, score.
    """

    theta: np.ndarray
    theta_ref: np.ndarray
    value: np.ndarray
    samples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "samples": list(self.samples)}


def policy_loss_and_grad(
    theta: Any,
    features: Any,
    actions: Any,
    logp_old: Any,
    advantages: Any,
    clip_eps: float = 0.2,
    ent_coef: float = 0.0,
) -> tuple[Any, Any, dict[str, Any]]:
    """PPO loss of a linear softmax policy, its gradient w.r.t. ``theta``, and statistics.

        logits = features @ theta                     (n, V)
        logp   = log softmax(logits)[action]          (n,)
        L      = mean ppo_clip_loss(logp, logp_old, A) - ent_coef mean H

        dL/dtheta = features^T [ g (onehot(a) - pi) + ent_coef pi (log pi + H) ] / n
        with g = ppo_clip_loss_grad(logp, logp_old, A)

    Parameters
    ----------
    theta : array (S, V)
    features : array (n, S)
        State features of each token (one-hot rows for the tabular policy).
    actions : array (n, V)
        One-hot rows of the sampled tokens.
    logp_old, advantages : arrays (n,)

    Returns
    -------
    loss : 0-d array
    grad : array (S, V)
    stats : dict with ``clip_fraction``, ``entropy`` (0-d arrays) and ``logp`` (n,)
    """
    xp = array_namespace(theta)
    n = features.shape[0]
    logp_all = log_softmax(xp, features @ theta)  # (n, V)
    probs = xp.exp(logp_all)
    logp = xp.sum(actions * logp_all, axis=1)  # (n,)
    entropy = -xp.sum(probs * logp_all, axis=1)  # (n,)
    loss = xp.mean(ppo_clip_loss(logp, logp_old, advantages, clip_eps)) - ent_coef * xp.mean(
        entropy
    )
    g = ppo_clip_loss_grad(logp, logp_old, advantages, clip_eps)  # dL_i / dlogp_i, (n,)
    dlogits = g[:, None] * (actions - probs) + ent_coef * probs * (logp_all + entropy[:, None])
    grad = features.T @ dlogits / n  # (S, V)
    ratio = exp_log_ratio(xp, logp - logp_old)
    clip_fraction = xp.mean(xp.astype(xp.abs(ratio - 1.0) > clip_eps, theta.dtype))
    return loss, grad, {"clip_fraction": clip_fraction, "entropy": xp.mean(entropy), "logp": logp}


def value_loss_and_grad(w: Any, features: Any, returns: Any) -> tuple[Any, Any]:
    """Critic loss ``1/2 mean (features @ w - returns)^2`` and its gradient w.r.t. ``w``.

    dL/dw = features^T (features @ w - returns) / n
    """
    xp = array_namespace(w)
    error = features @ w - returns  # (n,)
    return 0.5 * xp.mean(error**2), features.T @ error / features.shape[0]


@dataclass
class _Rollout:
    """One batch of responses and everything the update needs, flattened over tokens."""

    X: Any  # (B*T, S) one-hot states
    A: Any  # (B*T, V) one-hot tokens
    Xv: Any  # (B*T, S*T) one-hot (state, position): the critic's features
    logp_old: Any  # (B*T,) log pi_old of the sampled tokens, frozen
    advantages: Any  # (B*T,)
    returns: Any  # (B*T,)
    metrics: dict[str, float]


def _rollout(
    cfg: TokenPPOConfig, b: Backend, theta: Any, theta_ref: Any, w: Any, rng: np.random.Generator
) -> _Rollout:
    """Sample a batch with pi_old, score it, add the per-token KL penalty, run GAE."""
    xp, B, T = b.xp, cfg.batch_size, cfg.response_length
    prompts = rng.integers(len(PROMPTS), size=B)
    states, tokens = sample_responses(theta, prompts, T, rng)  # (B, T) each, on the CPU
    X = b.asarray(one_hot(states.reshape(-1), N_STATES))
    A = b.asarray(one_hot(tokens.reshape(-1), len(VOCAB)))
    Xv = b.asarray(one_hot((states * T + np.arange(T)).reshape(-1), N_STATES * T))
    logp_all_old = log_softmax(xp, X @ theta)  # (B*T, V)
    logp_old = xp.sum(A * logp_all_old, axis=1)
    logp_ref = xp.sum(A * log_softmax(xp, X @ theta_ref), axis=1)
    scores = score_tokens(tokens)  # (B,)
    rewards = kl_penalized_rewards(
        b.asarray(scores), xp.reshape(logp_old, (B, T)), xp.reshape(logp_ref, (B, T)), cfg.beta
    )  # (B, T)
    advantages, returns = gae(rewards, xp.reshape(Xv @ w, (B, T)), gamma=cfg.gamma, lam=cfg.lam)
    kl_estimate = float(xp.mean(xp.sum(xp.reshape(logp_old - logp_ref, (B, T)), axis=1)))
    metrics = {
        "score": float(np.mean(scores)),
        "kl": exact_kl(theta, theta_ref, T),
        "kl_estimate": kl_estimate,
        "reward": float(np.mean(scores)) - cfg.beta * kl_estimate,
        "entropy": float(xp.mean(-xp.sum(xp.exp(logp_all_old) * logp_all_old, axis=1))),
    }
    flat = (xp.reshape(advantages, (-1,)), xp.reshape(returns, (-1,)))
    return _Rollout(X, A, Xv, logp_old, *flat, metrics)


def _update(
    cfg: TokenPPOConfig, b: Backend, theta: Any, w: Any, batch: _Rollout, rng: np.random.Generator
) -> tuple[Any, Any, dict[str, float]]:
    """``update_epochs`` passes of clipped-surrogate and critic steps over shuffled
    minibatches of whole responses; returns the new theta, w and the mean statistics."""
    xp, T = b.xp, cfg.response_length
    clip_fracs, pg_losses, v_losses = [], [], []
    for _ in range(cfg.update_epochs):
        for rows in np.array_split(rng.permutation(cfg.batch_size), cfg.num_minibatches):
            idx = b.asarray((rows[:, None] * T + np.arange(T)).reshape(-1), dtype=xp.int64)
            adv = xp.take(batch.advantages, idx, axis=0)
            if cfg.normalize_advantages and adv.shape[0] > 1:
                adv = (adv - xp.mean(adv)) / (xp.std(adv) + 1e-8)
            loss, grad, stats = policy_loss_and_grad(
                theta,
                xp.take(batch.X, idx, axis=0),
                xp.take(batch.A, idx, axis=0),
                xp.take(batch.logp_old, idx, axis=0),
                adv,
                cfg.clip_eps,
                cfg.ent_coef,
            )
            v_loss, v_grad = value_loss_and_grad(
                w, xp.take(batch.Xv, idx, axis=0), xp.take(batch.returns, idx, axis=0)
            )
            theta, w = theta - cfg.lr * grad, w - cfg.vf_lr * v_grad
            clip_fracs.append(float(stats["clip_fraction"]))
            pg_losses.append(float(loss))
            v_losses.append(float(v_loss))
    stats = {
        "clip_fraction": float(np.mean(clip_fracs)),
        "policy_loss": float(np.mean(pg_losses)),
        "value_loss": float(np.mean(v_losses)),
    }
    return theta, w, stats


def train_token_ppo(
    config: TokenPPOConfig | None = None,
    *,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    **options: Any,
) -> TokenPPOResult:
    """Train the bigram policy with token-level PPO against the scorer, with a KL penalty.

    One update = one rollout of ``batch_size`` responses of ``response_length`` tokens,
    then ``update_epochs`` passes over ``num_minibatches`` shuffled minibatches of
    responses (all their tokens). Equations in the module docstring.

    Parameters
    ----------
    config, **options
        :class:`TokenPPOConfig`, or its fields as keywords (``train_token_ppo(steps=30)``).
    callback : callable(step, metrics) or None
        Called after each update with that update's history entries (for progress bars).

    Returns
    -------
    TokenPPOResult

    Examples
    --------
    >>> result = train_token_ppo(steps=30, beta=0.05, seed=0)
    >>> result.history["score"][-1] > result.history["score"][0]
    True
    """
    cfg = TokenPPOConfig.from_options(config, **options)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    b = resolve_backend(cfg.backend, cfg.device, cfg.dtype)
    rng = np.random.default_rng(cfg.seed)
    theta_ref_np = reference_logits()
    theta_ref = b.asarray(theta_ref_np)
    theta = b.asarray(theta_ref_np.copy())  # the policy starts at the reference
    w = b.zeros((N_STATES * cfg.response_length,))  # critic table, flattened (state, position)
    history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
    for step in range(cfg.steps):
        batch = _rollout(cfg, b, theta, theta_ref, w, rng)
        theta, w, stats = _update(cfg, b, theta, w, batch, rng)
        metrics = {**batch.metrics, **stats}
        history["step"].append(step)
        for k in HISTORY_KEYS[1:]:
            history[k].append(metrics[k])
        if callback is not None:
            callback(step, metrics)

    theta_np = to_numpy(theta).copy()
    prompts = np.arange(len(PROMPTS)).repeat(2)
    _, tokens = sample_responses(theta_np, prompts, cfg.response_length, rng)
    samples = [
        {"prompt": PROMPTS[p], "text": decode(y), "score": float(s)}
        for p, y, s in zip(prompts, tokens, score_tokens(tokens), strict=True)
    ]
    return TokenPPOResult(
        history=history,
        config=cfg.to_dict(),
        theta=theta_np,
        theta_ref=theta_ref_np,
        value=to_numpy(w).reshape(N_STATES, cfg.response_length).copy(),
        samples=samples,
    )
