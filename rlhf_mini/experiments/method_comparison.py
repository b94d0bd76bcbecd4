"""PPO, GRPO, RLOO, best-of-n and DPO on one world: the gold reward each buys with its KL.

Public names
------------
compare_methods(...)  -> MethodComparison   every method over a range of its knob
MethodComparison                            .points[method], .ceiling, .to_dict()

Every method starts from the same SFT reference and learns from the same simulated
comparisons (``n_comparisons`` drawn with ``seed``, from labellers with ``verbosity_bias``):

- DPO trains on the comparisons themselves, one run per ``dpo_betas`` (Bradley–Terry units);
- a reward model is fitted to the same comparisons; PPO, GRPO and RLOO maximise it on the
  win-probability scale sigmoid(r - E_ref r) (:func:`rlhf_mini.win_probability_rewards`,
  so their ``betas`` mean the same), one run per beta;
- best-of-n draws n responses from the SFT policy and keeps the one the reward model scores
  highest, computed exactly (:func:`rlhf_mini.best_of_n_policy`), one point per ``ns``.

A point is (knob, KL(pi || pi_ref), gold reward, proxy reward), all exact: expectations under
the final policy table (best-of-n: under its exact distribution), mean over prompts. The
methods spend KL differently, so the fair comparison is the frontier, gold reward against
KL. The ``ceiling`` is the most gold reward *any* policy reaches at each KL: the
KL-regularised optimum of the gold utility itself, pi ∝ pi_ref exp(u / lam), over a range of
lam (:func:`rlhf_mini.optimal_kl_policy`; for a fixed KL it maximises E[u]).

Speed (a widget recomputes everything in the reader's browser): each run is ``steps``
iterations at a constant step size chosen so that every run sits on its plateau by then
(bench/training.py measures it); the whole comparison takes ~0.2 s in CPython.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rlhf_mini.core.checks import check_int, check_non_negative, check_positive
from rlhf_mini.losses.best_of_n import best_of_n_policy
from rlhf_mini.models.reward_model import win_probability_rewards
from rlhf_mini.models.softmax_policy import optimal_kl_policy
from rlhf_mini.trainers.dpo import train_dpo
from rlhf_mini.trainers.grpo import train_grpo, train_rloo
from rlhf_mini.trainers.ppo import train_ppo
from rlhf_mini.trainers.reward_model import train_reward_model
from rlhf_mini.trainers.sft import sft_policy
from rlhf_mini.worlds.bandit import load_world, simulate_comparisons

__all__ = [
    "DEFAULT_BETAS",
    "DEFAULT_DPO_BETAS",
    "DEFAULT_NS",
    "METHODS",
    "MethodComparison",
    "compare_methods",
]

METHODS = ("ppo", "grpo", "rloo", "best_of_n", "dpo")
#: KL weights of PPO, GRPO and RLOO on the win-probability scale: a strong leash to a loose one.
DEFAULT_BETAS = (1.0, 0.3, 0.1)
#: DPO's betas, in the Bradley–Terry units of its implicit reward.
DEFAULT_DPO_BETAS = (4.0, 1.0, 0.25)
#: Samples best-of-n picks from.
DEFAULT_NS = (2, 4, 8, 16, 32)
#: Constant step sizes that put each run on its plateau within the default steps. RLOO is
#: plain REINFORCE (one step per group, nothing clipped): its advantages carry beta times
#: the log-ratio, so its step shrinks as beta grows (RLOO_STEP / beta, at most RLOO_LR).
PPO_LR, GRPO_LR, RLOO_LR, RLOO_STEP, DPO_LR = 3.0, 3.0, 10.0, 3.0, 0.3
#: The ceiling's lam values (gold-utility units): from ~no drift to nearly greedy.
CEILING_LAMS = tuple(float(x) for x in np.geomspace(30.0, 0.05, 25))


@dataclass
class MethodComparison:
    """``points[method]``: one dict per knob value (knob, kl, gold_reward, proxy_reward),
    in the order given; ``ceiling``: (kl, gold_reward) of the best policy at each KL;
    ``reference_gold``: the SFT policy's gold reward; ``best_gold``: the best response's."""

    points: dict[str, list[dict[str, float]]]
    ceiling: list[dict[str, float]]
    reference_gold: float
    best_gold: float
    config: dict[str, Any]

    def gold_at_kl(self, method: str, kl: float) -> float:
        """Gold reward on ``method``'s frontier at ``kl`` (linear between its points; NaN
        outside the KL range they cover). ``method`` may be "ceiling"."""
        pts = self.ceiling if method == "ceiling" else self.points[method]
        pts = sorted(pts, key=lambda p: p["kl"])
        xs = [p["kl"] for p in pts]
        if not xs[0] <= kl <= xs[-1]:
            return float("nan")
        return float(np.interp(kl, xs, [p["gold_reward"] for p in pts]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "ceiling": self.ceiling,
            "reference_gold": self.reference_gold,
            "best_gold": self.best_gold,
            "config": self.config,
        }


def _ceiling(reference: Any, gold: np.ndarray) -> list[dict[str, float]]:
    """The most gold reward any policy reaches at each KL: the optimum of gold - lam KL."""
    ceiling = []
    for lam in CEILING_LAMS:
        best = optimal_kl_policy(reference, gold, lam)
        ceiling.append(
            {
                "knob": lam,
                "kl": float(np.mean(best.kl(reference))),
                "gold_reward": float(np.mean(best.expected(gold))),
            }
        )
    return ceiling


def compare_methods(
    *,
    methods: Any = METHODS,
    betas: Any = DEFAULT_BETAS,
    dpo_betas: Any = DEFAULT_DPO_BETAS,
    ns: Any = DEFAULT_NS,
    n_comparisons: int = 500,
    verbosity_bias: float = 0.0,
    steps: int = 60,
    seed: int = 0,
    world: Any = None,
) -> MethodComparison:
    """Run every method in ``methods`` on the same world and comparisons (module docstring).

    Examples
    --------
    >>> res = compare_methods(methods=("ppo", "best_of_n"), betas=(0.3,), ns=(4,))
    >>> [(m, len(p)) for m, p in res.points.items()]
    [('ppo', 1), ('best_of_n', 1)]
    >>> all(p["gold_reward"] > res.reference_gold for pts in res.points.values() for p in pts)
    True
    """
    methods = tuple(methods)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {methods!r}")
    betas = tuple(check_positive(b, "betas") for b in betas)
    dpo_betas = tuple(check_positive(b, "dpo_betas") for b in dpo_betas)
    ns = tuple(check_int(n, "ns") for n in ns)
    n_comparisons = check_int(n_comparisons, "n_comparisons")
    verbosity_bias = check_non_negative(verbosity_bias, "verbosity_bias")
    steps = check_int(steps, "steps")
    world = load_world() if world is None else world
    comparisons = simulate_comparisons(
        n_comparisons, seed, verbosity_bias=verbosity_bias, world=world
    )
    reference = sft_policy(world)
    gold = world.gold_utility()
    scores = train_reward_model(comparisons, seed=seed, world=world).model.score_table(world)
    win = win_probability_rewards(scores, reference)  # what PPO, GRPO and RLOO maximise

    def point(knob: float, policy: Any) -> dict[str, float]:
        return {
            "knob": knob,
            "kl": float(np.mean(policy.kl(reference))),
            "gold_reward": float(np.mean(policy.expected(gold))),
            "proxy_reward": float(np.mean(policy.expected(win))),
        }

    common: dict[str, Any] = {"steps": steps, "anneal_lr": False, "log_every": steps, "seed": seed}
    rl = {"reference": reference, "world": world, **common}
    points: dict[str, list[dict[str, float]]] = {}
    for method in methods:
        if method == "ppo":
            runs = [(b, train_ppo(scores, beta=b, lr=PPO_LR, **rl).policy) for b in betas]
        elif method == "grpo":
            runs = [(b, train_grpo(scores, beta=b, lr=GRPO_LR, **rl).policy) for b in betas]
        elif method == "rloo":
            runs = [
                (b, train_rloo(scores, beta=b, lr=min(RLOO_LR, RLOO_STEP / b), **rl).policy)
                for b in betas
            ]
        elif method == "dpo":
            runs = [
                (b, train_dpo(comparisons, beta=b, lr=DPO_LR, reference=reference, **common).policy)
                for b in dpo_betas
            ]
        else:  # best_of_n: exact, from the SFT policy, selected by the reward model
            pi, tiny = reference.to_numpy(), np.finfo(float).tiny
            runs = [
                (n, reference.copy(np.log(np.maximum(best_of_n_policy(pi, scores, n)[0], tiny))))
                for n in ns
            ]
        points[method] = [point(float(knob), policy) for knob, policy in runs]

    ceiling = _ceiling(reference, gold)
    config = {
        "methods": list(methods),
        "betas": list(betas),
        "dpo_betas": list(dpo_betas),
        "ns": list(ns),
        "n_comparisons": n_comparisons,
        "verbosity_bias": verbosity_bias,
        "steps": steps,
        "seed": seed,
    }
    return MethodComparison(
        points,
        ceiling,
        float(np.mean(reference.expected(gold))),
        float(np.mean(gold.max(axis=1))),
        config,
    )
