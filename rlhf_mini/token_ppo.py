"""Token-level PPO with a per-token KL penalty: the mechanics of RLHF on a bigram "language model".

Ziegler et al. 2019 (arXiv 1909.08593) and Ouyang et al. 2022 (arXiv 2203.02155) fine-tune
a language model with PPO (Schulman et al. 2017, arXiv 1707.06347). This module runs the
same loop on a model small enough to read: a tabular bigram policy over a vocabulary of a
dozen words.

The policy. A response y_1..y_T to a prompt x is sampled token by token,

    pi_theta(y_t | s_t) = softmax(theta[s_t])        s_1 = x,  s_t = y_{t-1}

so theta is a (states, vocabulary) table of logits - a linear policy over one-hot state
features phi(s), logits = phi(s) @ theta. It starts equal to a frozen reference
("pretrained / SFT") table theta_ref.

The reward. A scorer (the stand-in for a reward model) rates the whole response: the mean
of per-token preferences (polite words up, rude words down, see ``TOKEN_REWARD``). Every
token also pays the KL penalty (:func:`rlhf_mini.kl_penalized_rewards`):

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

from rlhf_mini._arrays import check_in_range, check_positive, check_real_scalar
from rlhf_mini.advantages import gae
from rlhf_mini.backend import Backend, resolve_backend, to_numpy
from rlhf_mini.core.numerics import exp_log_ratio
from rlhf_mini.kl import kl_penalized_rewards
from rlhf_mini.ppo import ppo_clip_loss, ppo_clip_loss_grad

__all__ = [
    "PROMPTS",
    "TOKEN_REWARD",
    "VOCAB",
    "TokenPPOResult",
    "exact_kl",
    "policy_loss_and_grad",
    "reference_logits",
    "score_tokens",
    "train_token_ppo",
    "value_loss_and_grad",
]

#: The vocabulary the bigram policy writes with.
VOCAB = ("sure", "here", "is", "the", "answer", "thanks", "please", "no", "ugh", "whatever", ".")
#: The prompts; each is the first state of a response.
PROMPTS = ("<greeting>", "<question>", "<complaint>")
#: The scorer's per-token preferences (tokens not listed score 0). A response's score is
#: the mean over its tokens, in [-1, 1].
TOKEN_REWARD = {
    "thanks": 1.0,
    "please": 1.0,
    "sure": 0.5,
    "answer": 0.5,
    "no": -0.5,
    "ugh": -1.0,
    "whatever": -1.0,
}
#: Seed of the fixed "pretrained" reference table (not the training seed).
REFERENCE_SEED = 20221027
N_STATES = len(PROMPTS) + len(VOCAB)  # state = the prompt, or the previous token

HISTORY_KEYS = (
    "score",
    "kl",
    "kl_estimate",
    "reward",
    "clip_fraction",
    "policy_loss",
    "value_loss",
    "entropy",
)


def reference_logits() -> np.ndarray:
    """The frozen reference policy: a fixed random bigram table, shape (states, vocabulary).

    Row ``i < len(PROMPTS)`` is the first-token distribution after prompt ``i``; row
    ``len(PROMPTS) + j`` follows token ``VOCAB[j]``. Drawn once from a fixed seed, so rude
    and polite tokens both have real probability, as in a pretrained model.
    """
    return np.random.default_rng(REFERENCE_SEED).normal(0.0, 1.0, size=(N_STATES, len(VOCAB)))


_TOKEN_REWARD_VEC = np.array([TOKEN_REWARD.get(w, 0.0) for w in VOCAB])


def score_tokens(tokens: Any) -> np.ndarray:
    """Scores of responses given as token ids, shape (batch, T) -> (batch,): mean preference."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError("tokens must be an integer array of shape (batch, T)")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= len(VOCAB)):
        raise ValueError(f"tokens must be ids in [0, {len(VOCAB)})")
    return _TOKEN_REWARD_VEC[tokens].mean(axis=1)


def _log_softmax(xp: Any, logits: Any) -> Any:
    m = xp.max(logits, axis=-1, keepdims=True)
    shifted = logits - m
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))


def _np_log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


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
    xp = _namespace(theta)
    n = features.shape[0]
    logp_all = _log_softmax(xp, features @ theta)  # (n, V)
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
    xp = _namespace(w)
    error = features @ w - returns  # (n,)
    return 0.5 * xp.mean(error**2), features.T @ error / features.shape[0]


def exact_kl(theta: Any, theta_ref: Any, response_length: int) -> float:
    """Exact KL(pi || pi_ref) between the distributions of whole responses (prompts uniform).

    By the chain rule of KL, it is the expected per-token KL along the policy's own path:

        KL = sum_t E_{s_t ~ pi} KL(pi(.|s_t) || pi_ref(.|s_t))

    with the state distribution d_t propagated exactly through the bigram table.
    """
    logp = _np_log_softmax(to_numpy(theta))
    logq = _np_log_softmax(to_numpy(theta_ref))
    p = np.exp(logp)
    kl_per_state = (p * (logp - logq)).sum(axis=1)  # (S,)
    n_prompts = len(PROMPTS)
    d = np.zeros(N_STATES)
    d[:n_prompts] = 1.0 / n_prompts
    total = 0.0
    for _ in range(response_length):
        total += float(d @ kl_per_state)
        d_next = np.zeros(N_STATES)
        d_next[n_prompts:] = d @ p  # the next state is the token just written
        d = d_next
    return total


def _namespace(x: Any) -> Any:
    from array_api_compat import array_namespace

    return array_namespace(x)


@dataclass
class TokenPPOResult:
    """What :func:`train_token_ppo` returns.

    Attributes
    ----------
    history : dict of lists, one value per update
        ``score`` (mean scorer score of the rollout), ``kl`` (exact KL to the reference of
        the policy that sampled it), ``kl_estimate`` (mean summed per-token k1 of the
        rollout), ``reward`` (score - beta * kl_estimate), ``clip_fraction``,
        ``policy_loss``, ``value_loss`` (means over the minibatches), ``entropy``
        (mean per-token entropy over the rollout's states).
    theta, theta_ref : numpy arrays (states, vocabulary)
        Final policy and reference logits.
    value : numpy array (states, response_length)
        The critic's table.
    samples : list of dict
        A few responses of the final policy: prompt, text, score.
    config : dict
        The hyperparameters of the run.
    """

    history: dict[str, list[float]]
    theta: np.ndarray
    theta_ref: np.ndarray
    value: np.ndarray
    samples: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": dict(self.config),
            "history": {k: list(v) for k, v in self.history.items()},
            "final": {k: v[-1] for k, v in self.history.items() if v},
            "samples": list(self.samples),
        }


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _sample(
    theta: np.ndarray, prompts: np.ndarray, T: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sample (batch, T) tokens from the bigram table; return (states, tokens)."""
    probs = np.exp(_np_log_softmax(theta))  # (S, V)
    cdf = np.cumsum(probs, axis=1)
    states = np.empty((prompts.shape[0], T), dtype=np.int64)
    tokens = np.empty((prompts.shape[0], T), dtype=np.int64)
    s = prompts
    for t in range(T):
        u = rng.random(prompts.shape[0])
        y = np.minimum((cdf[s] < u[:, None]).sum(axis=1), len(VOCAB) - 1)  # inverse CDF
        states[:, t], tokens[:, t] = s, y
        s = len(PROMPTS) + y
    return states, tokens


def _decode(tokens: np.ndarray) -> str:
    return " ".join(VOCAB[i] for i in tokens).replace(" .", ".")


def train_token_ppo(
    steps: int = 200,
    *,
    beta: float = 0.05,
    batch_size: int = 32,
    response_length: int = 6,
    lr: float = 2.0,
    vf_lr: float = 2.0,
    clip_eps: float = 0.2,
    gamma: float = 1.0,
    lam: float = 0.95,
    update_epochs: int = 4,
    num_minibatches: int = 2,
    ent_coef: float = 0.0,
    normalize_advantages: bool = True,
    seed: int = 0,
    backend: str = "numpy",
    device: Any = None,
    dtype: str = "float64",
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> TokenPPOResult:
    """Train the bigram policy with token-level PPO against the scorer, with a KL penalty.

    One update = one rollout of ``batch_size`` responses of ``response_length`` tokens,
    then ``update_epochs`` passes over ``num_minibatches`` shuffled minibatches of
    responses (all their tokens). Equations in the module docstring.

    Parameters
    ----------
    steps : int >= 1
        Number of rollout + update rounds.
    beta : float >= 0
        KL penalty coefficient per token.
    lr, vf_lr : float > 0
        Gradient step sizes of the policy and of the critic.
    clip_eps : float in (0, 1); gamma, lam : floats in [0, 1]
    ent_coef : float >= 0
        Entropy bonus coefficient.
    seed : int
        Seeds the numpy Generator that samples prompts, tokens and minibatches.
    backend, device :
        Where the arrays live (:func:`rlhf_mini.backend.resolve_backend`); float64.
    dtype : {"float64", "float32"}
        Precision of every array (float32 is the usual choice on a GPU).
    callback : callable(step, metrics) or None
        Called after each update with that update's history entries (for progress bars).

    Returns
    -------
    TokenPPOResult
    """
    steps = _check_int(steps, "steps", 1)
    batch_size = _check_int(batch_size, "batch_size", 1)
    T = _check_int(response_length, "response_length", 1)
    update_epochs = _check_int(update_epochs, "update_epochs", 1)
    num_minibatches = _check_int(num_minibatches, "num_minibatches", 1)
    if num_minibatches > batch_size:
        raise ValueError(
            f"num_minibatches must be <= batch_size ({batch_size}), got {num_minibatches}"
        )
    beta = check_real_scalar(beta, "beta")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    ent_coef = check_real_scalar(ent_coef, "ent_coef")
    if ent_coef < 0:
        raise ValueError(f"ent_coef must be >= 0, got {ent_coef}")
    lr = check_positive(lr, "lr")
    vf_lr = check_positive(vf_lr, "vf_lr")
    clip_eps = check_in_range(clip_eps, "clip_eps", 0.0, 1.0, low_open=True, high_open=True)
    gamma = check_in_range(gamma, "gamma", 0.0, 1.0, low_open=False, high_open=False)
    lam = check_in_range(lam, "lam", 0.0, 1.0, low_open=False, high_open=False)
    seed = _check_int(seed, "seed", 0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    bk: Backend = resolve_backend(backend, device, dtype)
    xp = bk.xp
    rng = np.random.default_rng(seed)

    S, V = N_STATES, len(VOCAB)
    theta_ref_np = reference_logits()
    theta_ref = bk.asarray(theta_ref_np)
    theta = bk.asarray(theta_ref_np.copy())  # the policy starts at the reference
    w = bk.zeros((S * T,))  # critic table, flattened (state, position)
    eye_s, eye_v, eye_sv = np.eye(S), np.eye(V), np.eye(S * T)
    history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}

    for step in range(steps):
        # --- rollout: sample with the current policy on the CPU (same draws on any backend)
        prompts = rng.integers(len(PROMPTS), size=batch_size)
        states, tokens = _sample(to_numpy(theta), prompts, T, rng)  # (B, T) each
        X = bk.asarray(eye_s[states.reshape(-1)])  # (B*T, S) one-hot state features
        A = bk.asarray(eye_v[tokens.reshape(-1)])  # (B*T, V) one-hot tokens
        Xv = bk.asarray(eye_sv[(states * T + np.arange(T)).reshape(-1)])  # (B*T, S*T)
        logp_old = xp.sum(A * _log_softmax(xp, X @ theta), axis=1)  # (B*T,), frozen
        logp_ref = xp.sum(A * _log_softmax(xp, X @ theta_ref), axis=1)
        scores = score_tokens(tokens)  # (B,)
        rewards = kl_penalized_rewards(
            bk.asarray(scores),
            xp.reshape(logp_old, (batch_size, T)),
            xp.reshape(logp_ref, (batch_size, T)),
            beta,
        )  # (B, T)
        values = xp.reshape(Xv @ w, (batch_size, T))
        advantages, returns = gae(rewards, values, gamma=gamma, lam=lam)
        advantages, returns = xp.reshape(advantages, (-1,)), xp.reshape(returns, (-1,))
        logp_all_old = _log_softmax(xp, X @ theta)  # (B*T, V)
        entropy = float(xp.mean(-xp.sum(xp.exp(logp_all_old) * logp_all_old, axis=1)))
        kl_estimate = float(
            xp.mean(xp.sum(xp.reshape(logp_old - logp_ref, (batch_size, T)), axis=1))
        )
        kl = exact_kl(theta, theta_ref, T)

        # --- PPO update: epochs of shuffled minibatches of whole responses
        clip_fracs, pg_losses, v_losses = [], [], []
        for _ in range(update_epochs):
            order = rng.permutation(batch_size)
            for rows in np.array_split(order, num_minibatches):
                idx = (rows[:, None] * T + np.arange(T)).reshape(-1)  # their tokens
                idx = bk.asarray(idx, dtype=xp.int64)
                adv = xp.take(advantages, idx, axis=0)
                if normalize_advantages and adv.shape[0] > 1:
                    adv = (adv - xp.mean(adv)) / (xp.std(adv) + 1e-8)
                loss, grad, stats = policy_loss_and_grad(
                    theta,
                    xp.take(X, idx, axis=0),
                    xp.take(A, idx, axis=0),
                    xp.take(logp_old, idx, axis=0),
                    adv,
                    clip_eps,
                    ent_coef,
                )
                v_loss, v_grad = value_loss_and_grad(
                    w, xp.take(Xv, idx, axis=0), xp.take(returns, idx, axis=0)
                )
                theta = theta - lr * grad
                w = w - vf_lr * v_grad
                clip_fracs.append(float(stats["clip_fraction"]))
                pg_losses.append(float(loss))
                v_losses.append(float(v_loss))

        metrics = {
            "score": float(np.mean(scores)),
            "kl": kl,
            "kl_estimate": kl_estimate,
            "reward": float(np.mean(scores)) - beta * kl_estimate,
            "clip_fraction": float(np.mean(clip_fracs)),
            "policy_loss": float(np.mean(pg_losses)),
            "value_loss": float(np.mean(v_losses)),
            "entropy": entropy,
        }
        for k, v in metrics.items():
            history[k].append(v)
        if callback is not None:
            callback(step, metrics)

    theta_np = to_numpy(theta).copy()
    prompts = np.arange(len(PROMPTS)).repeat(2)
    _, tokens = _sample(theta_np, prompts, T, rng)
    samples = [
        {"prompt": PROMPTS[p], "text": _decode(y), "score": float(s)}
        for p, y, s in zip(prompts, tokens, score_tokens(tokens), strict=True)
    ]
    config = {
        "steps": steps,
        "beta": beta,
        "batch_size": batch_size,
        "response_length": T,
        "lr": lr,
        "vf_lr": vf_lr,
        "clip_eps": clip_eps,
        "gamma": gamma,
        "lam": lam,
        "update_epochs": update_epochs,
        "num_minibatches": num_minibatches,
        "ent_coef": ent_coef,
        "normalize_advantages": normalize_advantages,
        "seed": seed,
        "backend": bk.name,
        "dtype": dtype,
    }
    return TokenPPOResult(
        history=history,
        theta=theta_np,
        theta_ref=theta_ref_np,
        value=to_numpy(w).reshape(S, T).copy(),
        samples=samples,
        config=config,
    )
