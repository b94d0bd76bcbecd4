"""Supervised fine-tuning (SFT) of the response-level policy on human demonstrations.

Public names
------------
SFTConfig                   the settings (steps, lr)
supervised_finetune(...)    -> PolicyRun: cross-entropy steps toward each demonstration
sft_policy(world)           the base policy after SFT: the reference model of RLHF

The loss (the next-token loss of lesson 1, on one-response "texts"), over the prompts x that
have a demonstrated response d(x):

    L(theta) = mean_{x with a demonstration}  -log pi(d(x) | x)
    dL/dtheta[x] = (pi(. | x) - onehot(d(x))) / n_demos

Prompts without a demonstration (``demonstrations[x] == -1``) keep their logits: in this
toy each prompt is its own row of the table, so SFT cannot generalise across prompts (a
language model, which shares its parameters, does, partly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rlhf_mini.core.checks import check_int, check_positive
from rlhf_mini.core.config import Config
from rlhf_mini.core.numerics import log_softmax
from rlhf_mini.core.runs import PolicyRun
from rlhf_mini.models.softmax_policy import SoftmaxPolicy, base_policy

__all__ = ["SFTConfig", "sft_policy", "supervised_finetune"]


@dataclass(frozen=True)
class SFTConfig(Config):
    """Settings of :func:`supervised_finetune`."""

    steps: int = 8
    """Full-batch gradient steps on the demonstrations' cross-entropy."""
    lr: float = 0.5
    """Step size per prompt (independent of how many prompts have a demonstration)."""

    def check(self) -> dict[str, Any]:
        return {"steps": check_int(self.steps, "steps"), "lr": check_positive(self.lr, "lr")}


def supervised_finetune(
    policy: SoftmaxPolicy, demonstrations: Any, config: SFTConfig | None = None, **options: Any
) -> PolicyRun:
    """Fine-tune ``policy`` toward the demonstrated responses (equations in the module doc).

    Parameters
    ----------
    policy : SoftmaxPolicy
        The starting point (also the result's ``reference``).
    demonstrations : (P,) int array
        Index of each prompt's demonstrated response, -1 for none.
    config, **options
        :class:`SFTConfig`, or its fields as keywords.

    Returns
    -------
    PolicyRun
        ``history``: step, loss and demo_prob (mean probability of the demonstrated
        responses), before each step and after the last.

    Examples
    --------
    >>> from rlhf_mini.worlds.bandit import load_world
    >>> world = load_world()
    >>> run = supervised_finetune(base_policy(world), world.demonstrations(), steps=8)
    >>> run.history["demo_prob"][0] < 0.3 < 0.6 < run.history["demo_prob"][-1]
    True
    """
    cfg = SFTConfig.from_options(config, **options)
    if not isinstance(policy, SoftmaxPolicy):
        raise TypeError(f"policy must be a SoftmaxPolicy, got {type(policy).__name__}")
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
    history: dict[str, list[float]] = {"step": [], "loss": [], "demo_prob": []}
    for step in range(cfg.steps + 1):
        logp = log_softmax(xp, theta)
        history["step"].append(step)
        history["loss"].append(float(-xp.sum(target * logp)) / n_demos)
        history["demo_prob"].append(float(xp.sum(target * xp.exp(logp))) / n_demos)
        if step == cfg.steps:
            break
        grad = (xp.exp(logp) - target) * mask / n_demos  # dL/dtheta
        theta = theta - cfg.lr * n_demos * grad  # lr per prompt, independent of n_demos
    return PolicyRun(
        history=history, config=cfg.to_dict(), policy=policy.copy(theta), reference=policy
    )


def sft_policy(
    world: Any = None,
    *,
    backend: str = "numpy",
    device: Any = None,
    dtype: str = "float64",
    **options: Any,
) -> SoftmaxPolicy:
    """The supervised fine-tuned policy (the reference model of RLHF): :func:`base_policy`
    after :func:`supervised_finetune` on the world's demonstrations (``options``: SFTConfig)."""
    from rlhf_mini.worlds.bandit import load_world

    world = load_world() if world is None else world
    base = base_policy(world, backend=backend, device=device, dtype=dtype)
    return supervised_finetune(base, world.demonstrations(), **options).policy
