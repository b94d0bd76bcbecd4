"""PPO with a KL penalty on the response-level bandit (one response per prompt).

Public names
------------
train_ppo(...)   -> PPOResult     fixed beta, or adaptive beta toward a KL target
PPOResult                         .policy, .reference, .history, .final(), .to_dict()

The RLHF objective (Ziegler et al. 2019, arXiv 1909.08593; Ouyang et al. 2022, arXiv
2203.02155, eq. 2), for every prompt x:

    maximise  J(pi) = E_{y ~ pi(.|x)} [ r(x, y) ] - beta KL(pi(.|x) || pi_ref(.|x))

One PPO iteration (Schulman et al. 2017, arXiv 1707.06347), as CleanRL writes it:

1. Rollout: sample ``samples_per_prompt`` responses y ~ pi_old(.|x) for every prompt.
2. Rewards with the KL penalty (the k1 estimate, as in Ziegler et al.):
       R(x, y) = r(x, y) - beta (log pi_old(y|x) - log pi_ref(y|x))
3. Advantages A = R - V(x). An episode is one step, so GAE reduces to this; and in a
   bandit the value V(x) = E_{y~pi_old}[R(x, y)] is computed exactly (no critic to learn).
4. ``ppo_epochs`` gradient steps on the clipped surrogate (:func:`rlhf_mini.ppo_clip_loss`),
       L(theta) = sum_x mean_j -min(rho A, clip(rho, 1 - eps, 1 + eps) A),
       rho = pi_theta(y|x) / pi_old(y|x),
   chained through the softmax: d log pi(y|x) / d theta[x, k] = 1[k == y] - pi(k|x).

The stationary point of the expected update is the KL-regularised optimum
pi*(y|x) ∝ pi_ref(y|x) exp(r(x, y) / beta) (:func:`rlhf_mini.optimal_kl_policy`), which the
tests check PPO approaches. The history is computed exactly from the policy table (expected
proxy and gold reward, KL to the reference, entropy), not from the noisy samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlhf_mini.backend import resolve_backend, to_numpy
from rlhf_mini.core.numerics import exp_log_ratio
from rlhf_mini.kl import AdaptiveKLController
from rlhf_mini.policy import (
    PolicyRun,
    SoftmaxPolicy,
    _positive_float,
    _positive_int,
    log_softmax,
    sft_policy,
)
from rlhf_mini.ppo import ppo_clip_loss_grad
from rlhf_mini.reward_model import REWARD_SCALES, win_probability_rewards

__all__ = ["PPOResult", "train_ppo"]

HISTORY_KEYS = (
    "step",
    "proxy_reward",
    "gold_reward",
    "kl",
    "objective",
    "clip_fraction",
    "entropy",
    "beta",
)


class PPOResult(PolicyRun):
    """A PPO run: the final policy, its reference and the logged history.

    ``history`` (lists of floats, one entry per logged step): step, proxy_reward
    (E_pi[r], mean over prompts), gold_reward (E_pi[u]), kl (exact KL(pi || pi_ref)),
    objective (proxy_reward - beta kl), clip_fraction (share of samples whose ratio left
    [1 - eps, 1 + eps] during the step's epochs), entropy, beta.
    """


def _reward_table(rewards: Any, world: Any, seed: int) -> np.ndarray:
    if rewards is None:
        from rlhf_mini.reward_model import default_reward_model

        return default_reward_model(seed=seed, world=world).score_table(world)
    if hasattr(rewards, "score_table"):
        return np.asarray(rewards.score_table(world), dtype=float)
    table = np.asarray(to_numpy(rewards), dtype=float)
    if not np.all(np.isfinite(table)):
        raise ValueError("rewards must be finite")
    return table


def train_ppo(
    rewards: Any = None,
    *,
    beta: float = 0.1,
    steps: int = 500,
    samples_per_prompt: int = 8,
    ppo_epochs: int = 2,
    clip_eps: float = 0.2,
    lr: float = 3.0,
    anneal_lr: bool = True,
    max_grad_norm: float | None = 1.0,
    kl_target: float | None = None,
    kl_horizon: float = 10_000.0,
    reward_scale: str = "win_probability",
    reference: SoftmaxPolicy | None = None,
    gold: Any = None,
    seed: int = 0,
    log_every: int | None = None,
    world: Any = None,
    backend: str = "numpy",
    device: Any = None,
    dtype: str = "float64",
) -> PPOResult:
    """Train the response-level policy with PPO against a reward table, KL-penalised.

    Parameters
    ----------
    rewards : RewardModel, (P, K) array or None
        The (proxy) reward-model scores r(x, y). None:
        :func:`rlhf_mini.reward_model.default_reward_model`.
    reward_scale : {"win_probability", "raw"}
        The reward PPO maximises: "win_probability" (default) is
        sigmoid(r - E_ref[r]), the Bradley–Terry probability of beating the reference
        policy's typical response (:func:`rlhf_mini.win_probability_rewards`), in [0, 1],
        so that beta means the same for every reward model; "raw" uses r as given.
    beta : float > 0
        KL coefficient (the initial one when ``kl_target`` is set).
    steps : int > 0
        PPO iterations (rollout + ``ppo_epochs`` updates each).
    samples_per_prompt : int > 0
        Responses sampled per prompt per iteration.
    ppo_epochs : int > 0
        Gradient steps per rollout on the clipped surrogate.
    clip_eps : float in (0, 1)
    lr : float > 0
        Step size on the logits (per prompt); linearly annealed to 0 if ``anneal_lr``.
    max_grad_norm : float > 0 or None
        Rescale each gradient to at most this global norm (CleanRL's default practice);
        keeps large-beta runs stable. None: no clipping.
    kl_target, kl_horizon : float, optional
        If ``kl_target`` is given, beta follows :class:`rlhf_mini.AdaptiveKLController`
        (Ziegler et al. 2019), updated after every rollout with the batch's mean k1.
    reference : SoftmaxPolicy, optional
        pi_ref and the initial policy; default the SFT policy of the world.
    gold : (P, K) array, optional
        The utility to report as gold_reward; default the world's gold utility.
    seed : int
        All sampling comes from ``np.random.default_rng(seed)``.
    log_every : int, optional
        Log every this many steps (default: about 100 points) plus step 0 and the last.
    backend, device
        "numpy" | "torch"; the same seed gives the same history on both (float64).
    dtype : {"float64", "float32"}
        Precision of every array (float32 is the usual choice on a GPU).

    Examples
    --------
    >>> res = train_ppo(beta=0.1, steps=100, seed=0)
    >>> res.final()["kl"] > 0, res.final()["gold_reward"] > res.history["gold_reward"][0]
    (True, True)
    """
    beta = _positive_float(beta, "beta")
    steps = _positive_int(steps, "steps")
    n = _positive_int(samples_per_prompt, "samples_per_prompt")
    ppo_epochs = _positive_int(ppo_epochs, "ppo_epochs")
    lr = _positive_float(lr, "lr")
    if max_grad_norm is not None:
        max_grad_norm = _positive_float(max_grad_norm, "max_grad_norm")
    if not (isinstance(clip_eps, (int, float)) and 0 < clip_eps < 1):
        raise ValueError(f"clip_eps must be in (0, 1), got {clip_eps!r}")
    log_every = max(1, steps // 100) if log_every is None else _positive_int(log_every, "log_every")
    controller = None
    if kl_target is not None:
        controller = AdaptiveKLController(beta, _positive_float(kl_target, "kl_target"), kl_horizon)
    b = resolve_backend(backend, device, dtype)
    xp = b.xp

    from rlhf_mini.world import load_world

    world = load_world() if world is None else world
    if reference is None:
        reference = sft_policy(world, backend=b.name, device=b.device)
    elif not isinstance(reference, SoftmaxPolicy):
        raise TypeError(f"reference must be a SoftmaxPolicy, got {type(reference).__name__}")
    reference = SoftmaxPolicy(to_numpy(reference.logits), b)  # on this backend and device
    n_prompts, k = reference.shape
    if reward_scale not in REWARD_SCALES:
        raise ValueError(f"reward_scale must be one of {REWARD_SCALES}, got {reward_scale!r}")
    r_np = _reward_table(rewards, world, seed)
    gold_np = world.gold_utility() if gold is None else np.asarray(gold, dtype=float)
    for name, table in (("rewards", r_np), ("gold", gold_np)):
        if table.shape != (n_prompts, k):
            raise ValueError(f"{name} must have shape {(n_prompts, k)}, got {table.shape}")

    if reward_scale == "win_probability":
        r_np = win_probability_rewards(r_np, reference)
    r = b.asarray(r_np)  # (P, K)
    u_gold = b.asarray(gold_np)
    logp_ref = reference.log_probs()  # (P, K)
    upper = b.asarray(np.triu(np.ones((k, k))))  # cdf = pi @ upper
    last = b.asarray(np.arange(k) == k - 1, dtype=bool)  # cdf of the last candidate := 1
    first_difference = b.asarray(np.eye(k) - np.eye(k, k=1))  # counts = below @ this
    rng = np.random.default_rng(seed)
    theta = reference.logits
    history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}

    def log(step: int, clip_fraction: float, beta_now: float) -> None:
        logp = log_softmax(xp, theta)
        pi = xp.exp(logp)
        proxy = float(xp.mean(xp.sum(pi * r, axis=-1)))
        kl = float(xp.mean(xp.sum(pi * (logp - logp_ref), axis=-1)))
        history["step"].append(step)
        history["proxy_reward"].append(proxy)
        history["gold_reward"].append(float(xp.mean(xp.sum(pi * u_gold, axis=-1))))
        history["kl"].append(kl)
        history["objective"].append(proxy - beta_now * kl)
        history["clip_fraction"].append(clip_fraction)
        history["entropy"].append(float(xp.mean(-xp.sum(pi * logp, axis=-1))))
        history["beta"].append(beta_now)

    beta_now = beta
    log(0, 0.0, beta_now)
    for step in range(1, steps + 1):
        lr_now = lr * (1.0 - (step - 1) / steps) if anneal_lr else lr
        # 1. Rollout: n samples y ~ pi_old(.|x) per prompt, by inverse CDF on uniforms from
        #    the numpy Generator. All samples of one candidate share its ratio and advantage,
        #    so the batch enters the loss only through the counts c[x, y] of each candidate.
        logp_old = log_softmax(xp, theta)  # (P, K)
        pi_old = xp.exp(logp_old)
        cdf = xp.where(last, 1.0, pi_old @ upper)  # (P, K)
        uniforms = b.asarray(rng.random((n_prompts, n)))  # (P, n)
        below = xp.sum(xp.astype(uniforms[:, :, None] < cdf[:, None, :], b.dtype), axis=1)
        weight = (below @ first_difference) / n  # c[x, y] / n, (P, K)
        # 2. KL-penalised rewards R = r - beta (log pi_old - log pi_ref), per candidate
        log_ratio_ref = logp_old - logp_ref  # (P, K)
        R = r - beta_now * log_ratio_ref
        # 3. Advantages against the exact value V(x) = E_{y ~ pi_old}[R(x, y)]
        A = R - xp.sum(pi_old * R, axis=-1, keepdims=True)  # (P, K)
        # 4. Clipped-surrogate epochs: L = sum_x sum_y c[x, y]/n * ppo_clip_loss(...)
        clipped = 0.0
        for _ in range(ppo_epochs):
            logp_new = log_softmax(xp, theta)  # (P, K)
            ratio = exp_log_ratio(xp, logp_new - logp_old)
            clipped += float(xp.sum(weight * xp.astype(xp.abs(ratio - 1.0) > clip_eps, b.dtype)))
            g = weight * ppo_clip_loss_grad(logp_new, logp_old, A, clip_eps)  # dL/dlog pi(y|x)
            # chain rule through the softmax: dL/dtheta[x, k] = g[x, k] - pi(k|x) sum_y g[x, y]
            grad = g - xp.exp(logp_new) * xp.sum(g, axis=-1, keepdims=True)
            if max_grad_norm is not None:  # global gradient-norm clipping, as in CleanRL
                grad = grad * min(
                    1.0, max_grad_norm / (float(xp.sqrt(xp.sum(grad * grad))) + 1e-12)
                )
            theta = theta - lr_now * grad
        if controller is not None:
            sampled_kl = float(xp.sum(weight * log_ratio_ref)) / n_prompts  # mean k1 of the batch
            controller.update(sampled_kl, n_prompts * n)
            beta_now = controller.value
        if step % log_every == 0 or step == steps:
            log(step, clipped / (ppo_epochs * n_prompts), beta_now)

    config = {
        "beta": beta,
        "steps": steps,
        "samples_per_prompt": n,
        "ppo_epochs": ppo_epochs,
        "clip_eps": float(clip_eps),
        "lr": lr,
        "anneal_lr": bool(anneal_lr),
        "kl_target": None if kl_target is None else float(kl_target),
        "reward_scale": reward_scale,
        "seed": seed,
        "backend": b.name,
        "dtype": dtype,
    }
    return PPOResult(reference.copy(theta), reference, history, config)
