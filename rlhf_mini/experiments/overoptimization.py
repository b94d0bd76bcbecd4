"""Reward overoptimisation: optimise a flawed proxy reward model and watch the gold reward.

Public names
------------
proxy_reward_model(...)     a reward model trained on few comparisons from labellers who
                            like verbosity (the flawed proxy)
overoptimization_curve(...) -> OveroptimizationResult: points (beta or step, kl, proxy, gold)

Gao, Schulman & Hilton 2022, "Scaling Laws for Reward Model Overoptimization", arXiv
2210.10760: as a policy is optimised harder against a learned proxy reward (measured by its
KL divergence from the initial policy), the proxy score keeps rising while the gold score
(what the proxy was meant to stand for) first rises, then falls - Goodhart's law.

Here the proxy is a linear reward model fitted to comparisons from labellers with a taste
for verbosity (``verbosity_bias``). Optimising it first moves probability away from toxic,
harmful and wrong answers (gold goes up), then onto long, padded answers (gold goes down).

Three ways to trace the curve:

- ``sweep="beta", method="exact"`` (default, instant): for each beta the KL-regularised
  optimum pi* ∝ pi_ref exp(r / beta) of the proxy's reward on the scale PPO optimises,
  r = sigmoid(r_proxy - E_ref[r_proxy]) (:func:`rlhf_mini.optimal_kl_policy`,
  :func:`rlhf_mini.win_probability_rewards`), which PPO converges to (tested in
  tests/test_ppo_trainer.py);
- ``sweep="beta", method="ppo"``: one :func:`rlhf_mini.train_ppo` run per beta;
- ``sweep="steps"``: one PPO run with a small beta, one point per logged step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from rlhf_mini.core.checks import check_choice, check_int, check_positive
from rlhf_mini.models.reward_model import RewardModel, pair_accuracy, win_probability_rewards
from rlhf_mini.models.softmax_policy import optimal_kl_policy
from rlhf_mini.trainers.ppo import train_ppo
from rlhf_mini.trainers.reward_model import train_reward_model
from rlhf_mini.trainers.sft import sft_policy
from rlhf_mini.worlds.bandit import load_world, simulate_comparisons

__all__ = [
    "OveroptimizationResult",
    "gold_peak",
    "overoptimization_curve",
    "proxy_reward_model",
]

#: A fall of the gold reward below its peak by more than this counts as overoptimisation.
DROP_TOL = 0.01

#: From a strong leash to almost none, on the win-probability reward scale that PPO optimises
#: (:func:`rlhf_mini.win_probability_rewards`): the KL weights of practice (0.01-0.2) sit
#: in the middle of the range.
DEFAULT_BETAS = tuple(float(b) for b in np.geomspace(2.0, 0.005, 12))


@dataclass
class OveroptimizationResult:
    """``points``: dicts with beta (or step), kl, proxy_reward, gold_reward, in order of
    increasing optimisation pressure. ``proxy_weights``: the flawed reward model."""

    points: list[dict[str, float]]
    proxy_weights: dict[str, float]
    reference_gold: float  # E_{pi_ref}[gold]
    best_gold: float  # mean over prompts of the best response's gold utility
    proxy_gold_pair_accuracy: float
    config: dict[str, Any] = field(default_factory=dict)

    def peak(self) -> dict[str, float]:
        """The point with the highest gold reward (the first of equal ones)."""
        return gold_peak(self.points)["peak"]

    def overoptimised(self, tol: float = DROP_TOL) -> bool:
        """Whether the gold reward fell more than ``tol`` below its peak while the proxy
        kept rising past it (:func:`gold_peak`)."""
        return gold_peak(self.points, tol)["overoptimised"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "peak": self.peak(),
            "proxy_weights": self.proxy_weights,
            "reference_gold": self.reference_gold,
            "best_gold": self.best_gold,
            "proxy_gold_pair_accuracy": self.proxy_gold_pair_accuracy,
            "config": self.config,
        }


_POINT_KEYS = ("kl", "proxy_reward", "gold_reward")


def _exact_point(reference: Any, r_win: np.ndarray, gold: np.ndarray, beta: float) -> dict:
    """The KL-regularised optimum for ``beta`` (what PPO converges to), measured exactly."""
    policy = optimal_kl_policy(reference, r_win, beta)
    return {
        "beta": beta,
        "kl": float(np.mean(policy.kl(reference))),
        "proxy_reward": float(np.mean(policy.expected(r_win))),
        "gold_reward": float(np.mean(policy.expected(gold))),
    }


def _steps_points(proxy: Any, beta: float, steps: int, options: dict[str, Any]) -> list[dict]:
    """One PPO run with a constant step size (0.3 unless options give lr): a point per
    logged step."""
    options = {"lr": 0.3, **options}
    h = train_ppo(proxy, beta=beta, steps=steps, anneal_lr=False, **options).history
    return [
        {"step": step, "beta": beta, **{k: h[k][i] for k in _POINT_KEYS}}
        for i, step in enumerate(h["step"])
    ]


def gold_peak(points: Any, tol: float = DROP_TOL, *, gold: str = "gold_reward") -> dict[str, Any]:
    """Where more proxy reward stopped meaning more gold reward, along a run or a sweep.

    ``points`` are dicts with ``gold_reward`` and ``proxy_reward`` (and anything else, e.g.
    step, beta, kl) in order of increasing optimisation pressure; a training history (a
    dict of lists) is accepted too. Returns ``peak`` (the first point of highest gold
    reward), ``end`` (the last point) and ``overoptimised``: the gold reward at the end is
    more than ``tol`` below the peak while the proxy reward there is above its value at the
    peak - the rise-then-fall of Gao et al. 2022 (arXiv 2210.10760). ``gold`` names the
    gold entry (the language model's histories call it ``gold_utility``).

    Examples
    --------
    >>> run = {"step": [0, 1, 2], "proxy_reward": [0.5, 0.6, 0.7], "gold_reward": [4.0, 5.0, 4.5]}
    >>> res = gold_peak(run)
    >>> res["peak"]["step"], res["overoptimised"]
    (1, True)
    """
    if isinstance(points, dict):
        keys = list(points)
        points = [dict(zip(keys, row, strict=True)) for row in zip(*points.values(), strict=True)]
    points = list(points)
    if not points:
        raise ValueError("points must not be empty")
    best = max(range(len(points)), key=lambda i: (points[i][gold], -i))
    peak, end = points[best], points[-1]
    overoptimised = peak[gold] - end[gold] > tol and end["proxy_reward"] > peak["proxy_reward"]
    return {"peak": peak, "end": end, "overoptimised": bool(overoptimised)}


def proxy_reward_model(
    n_comparisons: int = 200,
    *,
    verbosity_bias: float = 4.0,
    temperature: float = 1.0,
    seed: int = 0,
    world: Any = None,
) -> RewardModel:
    """A reward model trained on ``n_comparisons`` labels from verbosity-loving labellers:
    P(a > b) = sigmoid((u_a - u_b + verbosity_bias (v_a - v_b)) / temperature)."""
    world = load_world() if world is None else world
    comparisons = simulate_comparisons(
        check_int(n_comparisons, "n_comparisons"),
        seed,
        temperature=temperature,
        verbosity_bias=verbosity_bias,
        world=world,
    )
    model = train_reward_model(comparisons, heldout_fraction=0.0, world=world).model
    return cast(RewardModel, model)  # linear: no hidden= was given


def overoptimization_curve(
    betas: Any = None,
    *,
    sweep: str = "beta",
    method: str = "exact",
    n_comparisons: int = 200,
    verbosity_bias: float = 4.0,
    temperature: float = 1.0,
    steps: int = 300,
    lr: float | None = None,
    seed: int = 0,
    world: Any = None,
    backend: str = "numpy",
    device: Any = None,
    dtype: str = "float64",
) -> OveroptimizationResult:
    """Proxy and gold reward of policies optimised ever harder against a flawed proxy.

    Parameters
    ----------
    betas : sequence of float > 0, optional
        KL coefficients, swept from large (close to the reference) to small. Default: 12
        values from 2 down to 0.005. With ``sweep="steps"`` only the first is used
        (default 0.02).
    sweep : {"beta", "steps"}
    method : {"exact", "ppo"}
        For ``sweep="beta"``: the closed-form optimum pi* or a PPO run per beta.
    n_comparisons, verbosity_bias, temperature
        The proxy's training data (:func:`proxy_reward_model`).
    steps, lr
        PPO steps and learning rate (default lr: train_ppo's for the beta sweep, 0.3,
        constant, for the steps sweep, so the rise and fall are visible).
    seed : int
        Seeds the comparisons and PPO.
    backend, device, dtype
        Where the PPO runs compute (``method="exact"`` is a closed form, always numpy).

    Returns
    -------
    OveroptimizationResult

    Examples
    --------
    >>> res = overoptimization_curve()
    >>> golds = [p["gold_reward"] for p in res.points]
    >>> 0 < golds.index(max(golds)) < len(golds) - 1          # gold peaks in the middle
    True
    >>> proxies = [p["proxy_reward"] for p in res.points]
    >>> all(a < b for a, b in zip(proxies, proxies[1:]))       # the proxy never stops rising
    True
    """
    check_choice(sweep, "sweep", ("beta", "steps"))
    check_choice(method, "method", ("exact", "ppo"))
    if betas is None:
        betas = DEFAULT_BETAS if sweep == "beta" else (0.02,)
    betas = [check_positive(b, "betas") for b in np.atleast_1d(np.asarray(betas, dtype=float))]
    if not betas:
        raise ValueError("betas must not be empty")
    steps = check_int(steps, "steps")
    world = load_world() if world is None else world
    proxy = proxy_reward_model(
        n_comparisons,
        verbosity_bias=verbosity_bias,
        temperature=temperature,
        seed=seed,
        world=world,
    )
    reference = sft_policy(world)
    r_proxy = proxy.score_table(world)  # (P, K) raw scores
    r_win = win_probability_rewards(r_proxy, reference)  # the reward PPO maximises
    gold = world.gold_utility()

    ppo_options = {
        "seed": seed,
        "world": world,
        "backend": backend,
        "device": device,
        "dtype": dtype,
        **({} if lr is None else {"lr": lr}),
    }
    if sweep == "steps":
        points = _steps_points(proxy, betas[0], steps, ppo_options)
    elif method == "exact":
        points = [_exact_point(reference, r_win, gold, b) for b in sorted(betas, reverse=True)]
    else:  # a PPO run per beta, weakest optimisation first
        points = []
        for beta in sorted(betas, reverse=True):
            final = train_ppo(proxy, beta=beta, steps=steps, **ppo_options).final()
            points.append({"beta": beta, **{k: final[k] for k in _POINT_KEYS}})
    config = {
        "sweep": sweep,
        "method": method if sweep == "beta" else "ppo",
        "n_comparisons": n_comparisons,
        "verbosity_bias": float(verbosity_bias),
        "temperature": float(temperature),
        "steps": steps,
        "seed": seed,
        "backend": backend,
        "dtype": dtype,
    }
    return OveroptimizationResult(
        points=points,
        proxy_weights=proxy.to_dict(),
        reference_gold=float(np.mean(reference.expected(gold))),
        best_gold=float(np.mean(gold.max(axis=1))),
        proxy_gold_pair_accuracy=pair_accuracy(r_proxy, gold),
        config=config,
    )
