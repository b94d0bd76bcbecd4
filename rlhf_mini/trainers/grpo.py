"""GRPO and RLOO on the response bandit: a group of samples per prompt, and no value function.

Public names
------------
GRPOConfig, RLOOConfig             the settings, one doc line each
train_grpo(...)  -> GRPOResult     group-relative advantages, k3 KL penalty in the loss
train_rloo(...)  -> RLOOResult     leave-one-out baseline, k1 KL penalty in the reward

PPO needs a baseline V(x) to turn rewards into advantages, and in a language model that is a
second network as large as the policy (the critic). GRPO and RLOO sample a *group* of G
responses y_1..y_G ~ pi_old(.|x) to every prompt and use the group itself as the baseline:
a response is reinforced for scoring better than its siblings. Per iteration:

GRPO (Shao et al. 2024, "DeepSeekMath", arXiv 2402.03300, eq. 3; TRL's ``GRPOTrainer``)

    A_j = (r_j - mean_l r_l) / (std_l r_l + 1e-4)            rlhf_mini.grpo_advantages
    L   = mean_j [ -min(rho_j A_j, clip(rho_j, 1 - eps, 1 + eps_high) A_j) + beta k3_j ]
    k3_j = pi_ref(y_j)/pi(y_j) - 1 - log(pi_ref(y_j)/pi(y_j))   (rlhf_mini.grpo_loss)

RLOO (Ahmadian et al. 2024, "Back to Basics", arXiv 2402.14740; TRL's ``RLOOTrainer``)

    R_j = r_j - beta (log pi_old(y_j|x) - log pi_ref(y_j|x))   the KL (k1) in the reward
    A_j = R_j - mean_{l != j} R_l                               rlhf_mini.rloo_advantages
    L   = mean_j -min(rho_j A_j, clip(rho_j, 1 - eps, 1 + eps) A_j)   (grpo_loss, beta = 0)

with rho_j = pi_theta(y_j|x) / pi_old(y_j|x); ``update_epochs`` gradient steps per group
(GRPO's mu; with 1, rho = 1 and the clip never acts: plain REINFORCE with a baseline). The
loss is summed over prompts (each prompt's group averaged), as the PPO trainer does, so a step
size means the same per prompt. On the bandit a response is one action, so GRPO's loss
aggregations (TRL's ``loss_type`` "grpo", "bnpo", "dapo", "dr_grpo") are one and the same:
they differ only in how tokens of different lengths are weighted, which needs a language model.

One module for both: they share every line but two (where the KL goes, which baseline).

What each converges to (checked by the tests). Take expectations over the group at
pi_old = pi:

- RLOO. The leave-one-out baseline does not depend on the sample it is subtracted from, so
  E[A_j d log pi(y_j)] = d E_pi[R] exactly; and with the k1 penalty in the reward, REINFORCE
  on R is the gradient of E_pi[r] - beta KL(pi || pi_ref) (the penalty's own dependence on
  theta adds E_pi[d log pi] = 0). The stationary point is PPO's:
  pi*(y) ∝ pi_ref(y) exp(r(y) / beta) (:func:`rlhf_mini.optimal_kl_policy`).
- GRPO with ``scale_rewards="none"`` (Dr. GRPO, Liu et al. 2025, arXiv 2503.20783). The
  group mean includes the sample itself, which scales the policy gradient by (G - 1) / G.
  And the k3 term, differentiated with the samples held fixed, has expectation
  sum_y pi(y) (1 - pi_ref(y)/pi(y)) d log pi(y) = -sum_y pi_ref(y) d log pi(y): the gradient
  of the *forward* KL(pi_ref || pi) (mass-covering), not of the reverse KL(pi || pi_ref) that
  RLHF penalises (Tang & Munos 2025, arXiv 2506.09477). The stationary point maximises
  (G - 1)/G E_pi[r] - beta KL(pi_ref || pi):
  pi(y) = beta' pi_ref(y) / (mu - r(y)) with beta' = beta G / (G - 1)
  (:func:`rlhf_mini.forward_kl_optimal_policy`).
- GRPO with ``scale_rewards="group"`` (the paper's and TRL's default). Dividing by each
  group's standard deviation rescales every update by a factor that depends on the rewards
  drawn (large where a group's rewards nearly agree); the update is then the gradient of no
  fixed objective, which is Dr. GRPO's objection. The tests check only what holds anyway:
  reward rises, and a smaller beta buys more reward for more KL.

The history is exact (computed from the policy table), as in :func:`rlhf_mini.train_ppo`.

On a language model the loop is the same with tokens: ``logp``, ``logp_old`` and
``logp_ref`` become (n, T) per-token log-probabilities of the sampled completions with a
padding mask, the advantage of a completion is shared by its tokens, and GRPO's
``loss_type`` ("grpo", "dapo", "dr_grpo") decides how completions of different lengths are
weighted (:func:`rlhf_mini.grpo_loss` takes all of that as it is).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from rlhf_mini.core.backend import resolve_backend, to_numpy
from rlhf_mini.core.checks import check_in_range, check_int, check_non_negative, check_positive
from rlhf_mini.core.config import TrainerConfig
from rlhf_mini.core.numerics import exp_log_ratio, log_softmax, one_hot
from rlhf_mini.core.runs import PolicyRun
from rlhf_mini.core.sampling import sample_categorical
from rlhf_mini.losses.group_advantages import GRPO_SCALES, grpo_advantages, rloo_advantages
from rlhf_mini.losses.grpo import grpo_loss_grad
from rlhf_mini.models.reward_model import REWARD_SCALES, win_probability_rewards
from rlhf_mini.models.softmax_policy import SoftmaxPolicy
from rlhf_mini.trainers.ppo import _reward_table
from rlhf_mini.trainers.sft import sft_policy
from rlhf_mini.worlds.bandit import load_world

__all__ = ["GRPOConfig", "GRPOResult", "RLOOConfig", "RLOOResult", "train_grpo", "train_rloo"]

HISTORY_KEYS = (
    "step",
    "proxy_reward",
    "gold_reward",
    "kl",
    "entropy",
    "clip_fraction",
    "frac_reward_zero_std",
)


@dataclass(frozen=True)
class _GroupConfig(TrainerConfig):
    """Settings GRPO and RLOO share."""

    beta: float = 0.1
    """KL coefficient against the reference (0: no penalty, as TRL's GRPO default)."""
    steps: int = 200
    """Iterations: a group of samples per prompt and update_epochs gradient steps each."""
    group_size: int = 8
    """Responses sampled per prompt per iteration (G; TRL's num_generations), >= 2."""
    update_epochs: int = 1
    """Gradient steps per group (GRPO's mu; TRL's num_iterations)."""
    clip_eps: float = 0.2
    """Clip range of the probability ratio, in (0, 1) (acts only with update_epochs > 1)."""
    lr: float = 1.0
    """Step size on the logits (per prompt)."""
    anneal_lr: bool = True
    """Anneal the step size linearly to 0 over the run."""
    max_grad_norm: float | None = 1.0
    """Rescale each gradient to at most this global norm (None: no clip)."""
    reward_scale: str = field(default="win_probability", metadata={"choices": REWARD_SCALES})
    """The reward maximised: sigmoid(r - E_ref r) ("win_probability") or the scores ("raw")."""
    log_every: int | None = None
    """Log every this many steps, plus step 0 and the last (None: about 100 points)."""

    def check(self) -> dict[str, Any]:
        return {
            **super().check(),
            "beta": check_non_negative(self.beta, "beta"),
            "steps": check_int(self.steps, "steps"),
            "group_size": check_int(self.group_size, "group_size", 2),
            "update_epochs": check_int(self.update_epochs, "update_epochs"),
            "clip_eps": check_in_range(
                self.clip_eps, "clip_eps", 0.0, 1.0, low_open=True, high_open=True
            ),
            "lr": check_positive(self.lr, "lr"),
            "max_grad_norm": None
            if self.max_grad_norm is None
            else check_positive(self.max_grad_norm, "max_grad_norm"),
            "log_every": None if self.log_every is None else check_int(self.log_every, "log_every"),
        }


@dataclass(frozen=True)
class GRPOConfig(_GroupConfig):
    """Settings of :func:`train_grpo`."""

    lr: float = 1.0
    """Step size on the logits (per prompt; scaled advantages are in standard deviations)."""
    scale_rewards: str = field(default="group", metadata={"choices": GRPO_SCALES})
    """Divide advantages by the group's reward std ("group"), the batch's, or not ("none")."""
    clip_eps_high: float | None = None
    """Upper clip range, DAPO's clip-higher (None: clip_eps)."""

    def check(self) -> dict[str, Any]:
        return {
            **super().check(),
            "clip_eps_high": None
            if self.clip_eps_high is None
            else check_positive(self.clip_eps_high, "clip_eps_high"),
        }


@dataclass(frozen=True)
class RLOOConfig(_GroupConfig):
    """Settings of :func:`train_rloo`."""

    lr: float = 5.0
    """Step size on the logits (per prompt; advantages are in reward units, ~0.1 here)."""


class GRPOResult(PolicyRun):
    """A GRPO run. ``history`` (one entry per logged step): step, proxy_reward (E_pi[r], mean
    over prompts, on the scale optimised), gold_reward (E_pi[u]), kl (exact
    KL(pi || pi_ref)), entropy, clip_fraction (share of samples whose ratio left the clip
    range during the step's epochs), frac_reward_zero_std (share of groups whose rewards
    were all equal: advantage 0, nothing learned from them)."""


class RLOOResult(PolicyRun):
    """An RLOO run; ``history`` as :class:`GRPOResult` (frac_reward_zero_std on the
    KL-penalised rewards R)."""


def _train_group(
    cfg: GRPOConfig | RLOOConfig,
    rewards: Any,
    reference: SoftmaxPolicy | None,
    gold: Any,
    world: Any,
) -> tuple[dict[str, list[float]], SoftmaxPolicy, SoftmaxPolicy]:
    """The loop both trainers share; the config's class says which method it runs."""
    b = resolve_backend(cfg.backend, cfg.device, cfg.dtype)
    xp = b.xp
    if world is None and (reference is None or gold is None or rewards is None):
        world = load_world()
    if reference is None:
        reference = sft_policy(world, backend=b.name, device=b.device)
    elif not isinstance(reference, SoftmaxPolicy):
        raise TypeError(f"reference must be a SoftmaxPolicy, got {type(reference).__name__}")
    reference = SoftmaxPolicy(to_numpy(reference.logits), b)  # on this backend and device
    n_prompts, k = reference.shape
    r_np = _reward_table(rewards, world, cfg.seed)
    gold_np = world.gold_utility() if gold is None else np.asarray(to_numpy(gold), dtype=float)
    for name, table in (("rewards", r_np), ("gold", gold_np)):
        if table.shape != (n_prompts, k):
            raise ValueError(f"{name} must have shape {(n_prompts, k)}, got {table.shape}")
    if cfg.reward_scale == "win_probability":
        r_np = win_probability_rewards(r_np, reference)
    r = b.asarray(r_np)  # (P, K)
    g_size = cfg.group_size
    high = cfg.clip_eps_high if isinstance(cfg, GRPOConfig) else None
    clip_high = cfg.clip_eps if high is None else high
    log_every = cfg.log_every or max(1, cfg.steps // 100)
    logp_ref = reference.log_probs()  # (P, K)
    ones = b.asarray(np.ones((n_prompts * g_size, 1)))  # every "completion" is one action
    rng = np.random.default_rng(cfg.seed)
    policy = reference
    history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}

    def log(step: int, clip_fraction: float, zero_std: float) -> None:
        """Exact expectations under the policy table, not the noisy samples."""
        values = {
            "step": step,
            "proxy_reward": float(xp.mean(policy.expected(r))),
            "gold_reward": float(xp.mean(policy.expected(gold_np))),
            "kl": float(xp.mean(policy.kl(reference))),
            "entropy": float(xp.mean(policy.entropy())),
            "clip_fraction": clip_fraction,
            "frac_reward_zero_std": zero_std,
        }
        for key in HISTORY_KEYS:
            history[key].append(values[key])

    log(0, 0.0, 0.0)
    theta = reference.logits  # (P, K): the policy's logits, a SoftmaxPolicy only to log
    for step in range(1, cfg.steps + 1):
        lr_now = cfg.lr * (1.0 - (step - 1) / cfg.steps) if cfg.anneal_lr else cfg.lr
        # 1. A group of G samples per prompt from pi_old, and what each scored
        logp_old = log_softmax(xp, theta)  # (P, K)
        uniforms = b.asarray(rng.random((n_prompts, g_size)))
        y = to_numpy(sample_categorical(xp, xp.exp(logp_old), uniforms))  # (P, G) candidates
        pick = b.asarray(one_hot(y, k))  # (P, G, K)
        scores, old, ref = _sampled(pick, r), _sampled(pick, logp_old), _sampled(pick, logp_ref)
        # 2. Advantages from the group: the baseline a critic would otherwise give
        if isinstance(cfg, GRPOConfig):
            advantages, beta_loss = grpo_advantages(scores, cfg.scale_rewards), cfg.beta
        else:  # RLOO
            scores = scores - cfg.beta * (old - ref)  # KL (k1) in the reward
            advantages, beta_loss = rloo_advantages(scores), 0.0
        spread = xp.max(scores, axis=1) - xp.min(scores, axis=1)
        zero_std = float(xp.mean(xp.astype(spread == 0, scores.dtype)))
        # 3. update_epochs gradient steps on the clipped loss (with GRPO's k3 term)
        clipped = 0.0
        for _ in range(cfg.update_epochs):
            theta, clipped_now = _step(
                cfg, theta, pick, old, ref, advantages, ones, beta_loss, clip_high, lr_now
            )
            clipped += clipped_now
        if step % log_every == 0 or step == cfg.steps:
            policy = reference.copy(theta)
            log(step, clipped / cfg.update_epochs, zero_std)
    return history, policy, reference


def _sampled(pick: Any, table: Any) -> Any:
    """table[x, y_j] for the sampled candidates: (P, G, K) one-hot rows times a (P, K) table."""
    xp = array_namespace(table)
    return xp.sum(pick * table[:, None, :], axis=-1)  # (P, G)


def _step(
    cfg: _GroupConfig,
    theta: Any,
    pick: Any,
    old: Any,
    ref: Any,
    advantages: Any,
    ones: Any,
    beta: float,
    clip_high: float,
    lr: float,
) -> tuple[Any, float]:
    """One gradient step on L = sum_x mean_j l(y_j) (the GRPO loss of each prompt's group);
    returns the new logits and the share of samples whose ratio is outside the clip range."""
    xp = array_namespace(theta)
    n_prompts, g_size = old.shape
    logp = log_softmax(xp, theta)  # (P, K)
    new = _sampled(pick, logp)  # (P, G)
    ratio = exp_log_ratio(xp, new - old)
    outside = (ratio < 1 - cfg.clip_eps) | (ratio > 1 + clip_high)
    clipped = float(xp.mean(xp.astype(outside, theta.dtype)))
    g = grpo_loss_grad(
        xp.reshape(new, (-1, 1)),
        xp.reshape(old, (-1, 1)),
        xp.reshape(ref, (-1, 1)),
        xp.reshape(advantages, (-1,)),
        ones,
        beta=beta,
        clip_eps=cfg.clip_eps,
        clip_eps_high=clip_high,
    )  # (P*G, 1): d (mean over all samples) / d log pi(y_j|x)
    g = xp.reshape(g, (n_prompts, g_size)) * n_prompts  # sum over prompts of each group mean
    table = xp.sum(g[:, :, None] * pick, axis=1)  # dL/d log pi(y|x), scattered back: (P, K)
    # chain rule through the softmax: dL/dtheta[x, k] = g[x, k] - pi(k|x) sum_y g[x, y]
    grad = table - xp.exp(logp) * xp.sum(table, axis=-1, keepdims=True)
    if cfg.max_grad_norm is not None:  # global gradient-norm clipping, as in CleanRL
        norm = float(xp.sqrt(xp.sum(grad * grad)))
        grad = grad * min(1.0, cfg.max_grad_norm / (norm + 1e-12))
    return theta - lr * grad, clipped


def train_grpo(
    rewards: Any = None,
    config: GRPOConfig | None = None,
    *,
    reference: SoftmaxPolicy | None = None,
    gold: Any = None,
    world: Any = None,
    **options: Any,
) -> GRPOResult:
    """Train the response-level policy with GRPO: group-relative advantages, k3 KL in the loss.

    Parameters
    ----------
    rewards : RewardModel, (P, K) array or None
        The reward r(x, y) of every candidate (a reward model's scores, or a verifier's 0/1
        with ``reward_scale="raw"``). None: :func:`rlhf_mini.default_reward_model`.
    config, **options
        :class:`GRPOConfig`, or its fields as keywords (``train_grpo(beta=0.05)``).
    reference : SoftmaxPolicy, optional
        pi_ref and the initial policy; default the SFT policy of the world.
    gold : (P, K) array, optional
        The utility to report as gold_reward; default the world's gold utility.
    world : World, optional

    Examples
    --------
    >>> res = train_grpo(beta=0.1, steps=100, seed=0)
    >>> res.final()["kl"] > 0, res.final()["gold_reward"] > res.history["gold_reward"][0]
    (True, True)
    >>> train_grpo(**res.config).history == res.history
    True
    """
    cfg = GRPOConfig.from_options(config, **options)
    history, policy, ref = _train_group(cfg, rewards, reference, gold, world)
    return GRPOResult(history=history, config=cfg.to_dict(), policy=policy, reference=ref)


def train_rloo(
    rewards: Any = None,
    config: RLOOConfig | None = None,
    *,
    reference: SoftmaxPolicy | None = None,
    gold: Any = None,
    world: Any = None,
    **options: Any,
) -> RLOOResult:
    """Train the response-level policy with RLOO: leave-one-out baseline, k1 KL in the reward.

    Parameters as :func:`train_grpo`, with :class:`RLOOConfig`.

    Examples
    --------
    >>> res = train_rloo(beta=0.1, steps=100, seed=0)
    >>> res.final()["kl"] > 0, res.final()["gold_reward"] > res.history["gold_reward"][0]
    (True, True)
    """
    cfg = RLOOConfig.from_options(config, **options)
    history, policy, ref = _train_group(cfg, rewards, reference, gold, world)
    return RLOOResult(history=history, config=cfg.to_dict(), policy=policy, reference=ref)
