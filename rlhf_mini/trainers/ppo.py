"""PPO with a KL penalty on the response-level bandit (one response per prompt).

Public names
------------
PPOConfig                         the settings, one doc line each
train_ppo(...)   -> PPOResult     fixed beta, or adaptive beta toward a KL target
PPOResult                         .policy, .reference, .history, .final(), .to_dict()

The RLHF objective (Ziegler et al. 2019, arXiv 1909.08593; Ouyang et al. 2022, arXiv
2203.02155, eq. 2), for every prompt x:

    maximise  J(pi) = E_{y ~ pi(.|x)} [ r(x, y) ] - beta KL(pi(.|x) || pi_ref(.|x))

where r is the reward model's score on the win-probability scale sigmoid(r_RM - E_ref[r_RM])
by default (:func:`rlhf_mini.win_probability_rewards`), so that beta means the same for
every reward model.

One PPO iteration (Schulman et al. 2017, arXiv 1707.06347), as CleanRL writes it:

1. Rollout: sample ``samples_per_prompt`` responses y ~ pi_old(.|x) for every prompt.
2. Rewards with the KL penalty (the k1 estimate, as in Ziegler et al.):
       R(x, y) = r(x, y) - beta (log pi_old(y|x) - log pi_ref(y|x))
3. Advantages A = R - V(x). An episode is one step, so GAE reduces to this; and in a
   bandit the value V(x) = E_{y~pi_old}[R(x, y)] is computed exactly (no critic to learn).
4. ``update_epochs`` gradient steps on the clipped surrogate (:func:`rlhf_mini.ppo_clip_loss`),
       L(theta) = sum_x mean_j -min(rho A, clip(rho, 1 - eps, 1 + eps) A),
       rho = pi_theta(y|x) / pi_old(y|x),
   chained through the softmax: d log pi(y|x) / d theta[x, k] = 1[k == y] - pi(k|x).
   All samples of one candidate share its ratio and advantage, so the batch enters the
   loss only through the share c[x, y] / n of samples that drew each candidate.

The stationary point of the expected update is the KL-regularised optimum
pi*(y|x) ∝ pi_ref(y|x) exp(r(x, y) / beta) (:func:`rlhf_mini.optimal_kl_policy`), which the
tests check PPO approaches. The history is computed exactly from the policy table (expected
proxy and gold reward, KL to the reference, entropy), not from the noisy samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from rlhf_mini.core.backend import Backend, resolve_backend, to_numpy
from rlhf_mini.core.checks import check_in_range, check_int, check_positive
from rlhf_mini.core.config import TrainerConfig
from rlhf_mini.core.numerics import exp_log_ratio, log_softmax, one_hot
from rlhf_mini.core.runs import PolicyRun
from rlhf_mini.losses.kl import AdaptiveKLController
from rlhf_mini.losses.ppo_clip import ppo_clip_loss_grad
from rlhf_mini.models.reward_model import REWARD_SCALES, win_probability_rewards
from rlhf_mini.models.softmax_policy import SoftmaxPolicy
from rlhf_mini.trainers.sft import sft_policy
from rlhf_mini.worlds.bandit import load_world

__all__ = ["PPOConfig", "PPOResult", "train_ppo"]


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


@dataclass(frozen=True)
class PPOConfig(TrainerConfig):
    """Settings of :func:`train_ppo`."""

    beta: float = 0.1
    """KL coefficient of the penalty against the reference (the initial one with kl_target)."""
    steps: int = 500
    """PPO iterations: a rollout and update_epochs gradient steps each."""
    samples_per_prompt: int = 8
    """Responses sampled per prompt per rollout."""
    update_epochs: int = 2
    """Gradient steps per rollout on the clipped surrogate."""
    clip_eps: float = 0.2
    """Clip range of the probability ratio, in (0, 1)."""
    lr: float = 3.0
    """Step size on the logits (per prompt)."""
    anneal_lr: bool = True
    """Anneal the step size linearly to 0 over the run."""
    max_grad_norm: float | None = 1.0
    """Rescale each gradient to at most this global norm, as CleanRL does (None: no clip)."""
    kl_target: float | None = None
    """Adapt beta toward this KL with the controller of Ziegler et al. 2019 (None: fixed)."""
    kl_horizon: float = 10_000.0
    """Horizon of the adaptive KL controller, in samples."""
    reward_scale: str = field(default="win_probability", metadata={"choices": REWARD_SCALES})
    """The reward maximised: sigmoid(r - E_ref r) ("win_probability") or the scores ("raw")."""
    log_every: int | None = None
    """Log every this many steps, plus step 0 and the last (None: about 100 points)."""

    def check(self) -> dict[str, Any]:
        return {
            **super().check(),
            "beta": check_positive(self.beta, "beta"),
            "steps": check_int(self.steps, "steps"),
            "samples_per_prompt": check_int(self.samples_per_prompt, "samples_per_prompt"),
            "update_epochs": check_int(self.update_epochs, "update_epochs"),
            "clip_eps": check_in_range(
                self.clip_eps, "clip_eps", 0.0, 1.0, low_open=True, high_open=True
            ),
            "lr": check_positive(self.lr, "lr"),
            "max_grad_norm": None
            if self.max_grad_norm is None
            else check_positive(self.max_grad_norm, "max_grad_norm"),
            "kl_target": None
            if self.kl_target is None
            else check_positive(self.kl_target, "kl_target"),
            "kl_horizon": check_positive(self.kl_horizon, "kl_horizon"),
            "log_every": None if self.log_every is None else check_int(self.log_every, "log_every"),
        }


class PPOResult(PolicyRun):
    """A PPO run: the final policy, its reference and the logged history.

    ``history`` (one entry per logged step): step, proxy_reward (E_pi[r], mean over
    prompts, on the reward scale PPO maximised), gold_reward (E_pi[u]), kl (exact
    KL(pi || pi_ref)), objective (proxy_reward - beta kl), clip_fraction (share of samples
    whose ratio left [1 - eps, 1 + eps] during the step's epochs), entropy, beta.
    """


def _reward_table(rewards: Any, world: Any, seed: int) -> np.ndarray:
    if rewards is None:
        from rlhf_mini.trainers.reward_model import default_reward_model

        return default_reward_model(seed=seed, world=world).score_table(world)
    if hasattr(rewards, "score_table"):
        return np.asarray(rewards.score_table(world), dtype=float)
    table = np.asarray(to_numpy(rewards), dtype=float)
    if not np.all(np.isfinite(table)):
        raise ValueError("rewards must be finite")
    return table


def _rollout_shares(policy: SoftmaxPolicy, b: Backend, n: int, rng: np.random.Generator) -> Any:
    """Sample n responses per prompt from the policy; return c[x, y] / n, shape (P, K)."""
    n_prompts, k = policy.shape
    y = to_numpy(policy.sample(rng.random((n_prompts, n))))  # (P, n) sampled candidates
    return b.asarray(one_hot(y, k).sum(axis=1) / n)


def _clipped_step(
    cfg: PPOConfig, theta: Any, logp_old: Any, A: Any, weight: Any, lr: float
) -> tuple[Any, float]:
    """One gradient step on L = sum_x sum_y c[x, y]/n ppo_clip_loss(log pi, log pi_old, A);
    returns the new logits and the share of samples whose ratio is clipped."""
    xp = array_namespace(theta)
    logp_new = log_softmax(xp, theta)  # (P, K)
    ratio = exp_log_ratio(xp, logp_new - logp_old)
    clipped = float(xp.sum(weight * xp.astype(xp.abs(ratio - 1.0) > cfg.clip_eps, theta.dtype)))
    g = weight * ppo_clip_loss_grad(logp_new, logp_old, A, cfg.clip_eps)  # dL/d log pi(y|x)
    # chain rule through the softmax: dL/dtheta[x, k] = g[x, k] - pi(k|x) sum_y g[x, y]
    grad = g - xp.exp(logp_new) * xp.sum(g, axis=-1, keepdims=True)
    if cfg.max_grad_norm is not None:  # global gradient-norm clipping, as in CleanRL
        norm = float(xp.sqrt(xp.sum(grad * grad)))
        grad = grad * min(1.0, cfg.max_grad_norm / (norm + 1e-12))
    return theta - lr * grad, clipped


def train_ppo(
    rewards: Any = None,
    config: PPOConfig | None = None,
    *,
    reference: SoftmaxPolicy | None = None,
    gold: Any = None,
    world: Any = None,
    **options: Any,
) -> PPOResult:
    """Train the response-level policy with PPO against a reward table, KL-penalised.

    Parameters
    ----------
    rewards : RewardModel, (P, K) array or None
        The (proxy) reward-model scores r(x, y). None:
        :func:`rlhf_mini.default_reward_model` trained with the seed.
    config, **options
        :class:`PPOConfig`, or its fields as keywords (``train_ppo(beta=0.05)``).
    reference : SoftmaxPolicy, optional
        pi_ref and the initial policy; default the SFT policy of the world.
    gold : (P, K) array, optional
        The utility to report as gold_reward; default the world's gold utility.
    world : World, optional

    Examples
    --------
    >>> res = train_ppo(beta=0.1, steps=100, seed=0)
    >>> res.final()["kl"] > 0, res.final()["gold_reward"] > res.history["gold_reward"][0]
    (True, True)
    >>> train_ppo(beta=0.1, steps=100, seed=0).history == train_ppo(**res.config).history
    True
    """
    cfg = PPOConfig.from_options(config, **options)
    b = resolve_backend(cfg.backend, cfg.device, cfg.dtype)
    xp = b.xp
    world = load_world() if world is None else world
    if reference is None:
        reference = sft_policy(world, backend=b.name, device=b.device)
    elif not isinstance(reference, SoftmaxPolicy):
        raise TypeError(f"reference must be a SoftmaxPolicy, got {type(reference).__name__}")
    reference = SoftmaxPolicy(to_numpy(reference.logits), b)  # on this backend and device
    n_prompts, k = reference.shape
    r_np = _reward_table(rewards, world, cfg.seed)
    gold_np = world.gold_utility() if gold is None else np.asarray(gold, dtype=float)
    for name, table in (("rewards", r_np), ("gold", gold_np)):
        if table.shape != (n_prompts, k):
            raise ValueError(f"{name} must have shape {(n_prompts, k)}, got {table.shape}")
    if cfg.reward_scale == "win_probability":
        r_np = win_probability_rewards(r_np, reference)
    r = b.asarray(r_np)  # (P, K)
    log_every = cfg.log_every or max(1, cfg.steps // 100)
    controller = None
    if cfg.kl_target is not None:
        controller = AdaptiveKLController(cfg.beta, cfg.kl_target, cfg.kl_horizon)
    logp_ref = reference.log_probs()  # (P, K)
    rng = np.random.default_rng(cfg.seed)
    policy = reference
    history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}

    def log(step: int, clip_fraction: float, beta: float) -> None:
        """Exact expectations under the policy table, not the noisy samples."""
        proxy, kl = float(xp.mean(policy.expected(r))), float(xp.mean(policy.kl(reference)))
        values = {
            "step": step,
            "proxy_reward": proxy,
            "gold_reward": float(xp.mean(policy.expected(gold_np))),
            "kl": kl,
            "objective": proxy - beta * kl,
            "clip_fraction": clip_fraction,
            "entropy": float(xp.mean(policy.entropy())),
            "beta": beta,
        }
        for key in HISTORY_KEYS:
            history[key].append(values[key])

    beta = cfg.beta
    log(0, 0.0, beta)
    for step in range(1, cfg.steps + 1):
        lr_now = cfg.lr * (1.0 - (step - 1) / cfg.steps) if cfg.anneal_lr else cfg.lr
        # 1. Rollout: the share of the n samples of pi_old that drew each candidate
        weight = _rollout_shares(policy, b, cfg.samples_per_prompt, rng)  # (P, K)
        # 2. KL-penalised rewards R = r - beta (log pi_old - log pi_ref), per candidate
        logp_old = policy.log_probs()
        log_ratio_ref = logp_old - logp_ref  # (P, K)
        R = r - beta * log_ratio_ref
        # 3. Advantages against the exact value V(x) = E_{y ~ pi_old}[R(x, y)]
        A = R - xp.sum(xp.exp(logp_old) * R, axis=-1, keepdims=True)  # (P, K)
        # 4. Clipped-surrogate epochs
        theta, clipped = policy.logits, 0.0
        for _ in range(cfg.update_epochs):
            theta, clipped_now = _clipped_step(cfg, theta, logp_old, A, weight, lr_now)
            clipped += clipped_now
        policy = reference.copy(theta)
        if controller is not None:  # update beta with the batch's mean k1
            mean_k1 = float(xp.sum(weight * log_ratio_ref)) / n_prompts
            controller.update(mean_k1, n_prompts * cfg.samples_per_prompt)
            beta = controller.value
        if step % log_every == 0 or step == cfg.steps:
            log(step, clipped / (cfg.update_epochs * n_prompts), beta)
    return PPOResult(history=history, config=cfg.to_dict(), policy=policy, reference=reference)
