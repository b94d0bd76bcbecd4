"""DPO against RLHF (reward model + PPO) on the same comparisons, compared fairly.

Public names
------------
DPOvsPPO            one preference data set, DPO on it and reward model + PPO on it
compare_dpo_ppo()   -> DPOvsPPOResult: both methods over a range of beta, and the
                    gold utility each reaches at the same KL from the reference

Both methods aim at the KL-regularised optimum pi*(y|x) ∝ pi_ref(y|x) exp(r(x, y) / beta)
(Rafailov et al. 2023, arXiv 2305.18290, eq. 4), where r is the Bradley–Terry score of the
labels: DPO's implicit reward beta log(pi / pi_ref) is such a score. For the same beta to
mean the same target, PPO here optimises the reward model's raw scores
(``reward_scale="raw"``), not the win-probability scale :func:`rlhf_mini.train_ppo` uses by
default. Even then the two reach different policies (DPO sees only the labelled responses,
PPO samples and lets the reward model generalise), so the fair comparison is the frontier:
gold utility against the KL each method spends (:meth:`DPOvsPPOResult.kl_matched`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf_mini.dpo_trainer import DPOResult, train_dpo
from rlhf_mini.policy import sft_policy
from rlhf_mini.ppo_trainer import PPOResult, train_ppo
from rlhf_mini.reward_model import train_reward_model
from rlhf_mini.world import Comparisons, load_world, simulate_comparisons

__all__ = ["DEFAULT_BETAS", "DPOvsPPO", "DPOvsPPOResult", "compare_dpo_ppo"]

#: From a weak leash to a strong one, in Bradley–Terry score units (DPO's beta).
DEFAULT_BETAS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass
class DPOvsPPO:
    """One preference data set; DPO on it, and PPO on a reward model fitted to it.

    Build it with :meth:`simulate` (simulated labellers) or directly from comparisons.
    ``run(beta)`` trains both with that beta from the same SFT reference.
    """

    comparisons: Comparisons
    heldout: Comparisons | None = None
    seed: int = 0
    dpo_steps: int = 300
    ppo_steps: int = 150
    rm_epochs: int = 200
    world: Any = None
    reward_model: Any = field(init=False, repr=False)
    reference: Any = field(init=False, repr=False)
    reference_gold: float = field(init=False)

    def __post_init__(self) -> None:
        self.world = load_world() if self.world is None else self.world
        self.reward_model = train_reward_model(
            self.comparisons,
            heldout=self.heldout,
            epochs=self.rm_epochs,
            seed=self.seed,
            world=self.world,
        ).model
        self.reference = sft_policy(self.world)
        gold = self.world.gold_utility()
        self.reference_gold = float(np.mean(self.reference.expected(gold)))

    @classmethod
    def simulate(
        cls, n_comparisons: int = 500, heldout_fraction: float = 0.0, seed: int = 0, **kwargs: Any
    ) -> DPOvsPPO:
        """``n_comparisons`` simulated comparisons, of which ``heldout_fraction`` are kept out
        of training (DPO and the reward model measure their accuracy on them)."""
        world = kwargs.get("world") or load_world()
        data = simulate_comparisons(n_comparisons, seed, world=world)
        if heldout_fraction:
            train, heldout = data.split(heldout_fraction, seed=seed)
            return cls(train, heldout, seed=seed, **{**kwargs, "world": world})
        return cls(data, None, seed=seed, **{**kwargs, "world": world})

    def run(self, beta: float) -> tuple[DPOResult, PPOResult]:
        """DPO and reward model + PPO, both with KL weight ``beta`` (Bradley–Terry units)."""
        dpo = train_dpo(
            self.comparisons,
            heldout=self.heldout,
            beta=beta,
            steps=self.dpo_steps,
            seed=self.seed,
            world=self.world,
        )
        ppo = train_ppo(
            self.reward_model,
            beta=beta,
            steps=self.ppo_steps,
            reward_scale="raw",
            seed=self.seed,
            world=self.world,
        )
        return dpo, ppo


@dataclass
class DPOvsPPOResult:
    """Final points of both methods per beta: ``points[method]`` is a list of dicts with
    beta, kl, gold_reward (and, for DPO, accuracy), in the order of ``betas``."""

    betas: tuple[float, ...]
    points: dict[str, list[dict[str, float]]]
    reference_gold: float
    config: dict[str, Any]

    def gold_at_kl(self, method: str, kl: float) -> float:
        """The gold utility ``method`` reaches at KL ``kl`` from the reference, linearly
        interpolated along its frontier (NaN outside the range its betas cover)."""
        pts = sorted(self.points[method], key=lambda p: p["kl"])
        xs = [p["kl"] for p in pts]
        if not xs[0] <= kl <= xs[-1]:
            return float("nan")
        return float(np.interp(kl, xs, [p["gold_reward"] for p in pts]))

    def kl_matched(self) -> list[dict[str, float]]:
        """For each DPO point, PPO's gold utility at the same KL (where PPO's frontier
        covers it): the fair comparison, since the two methods spend KL differently."""
        rows = []
        for p in self.points["dpo"]:
            rows.append(
                {
                    "kl": p["kl"],
                    "dpo_gold": p["gold_reward"],
                    "ppo_gold": self.gold_at_kl("ppo", p["kl"]),
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "betas": list(self.betas),
            "points": self.points,
            "kl_matched": self.kl_matched(),
            "reference_gold": self.reference_gold,
            "config": self.config,
        }


def compare_dpo_ppo(
    betas: Any = DEFAULT_BETAS,
    *,
    n_comparisons: int = 500,
    seed: int = 0,
    dpo_steps: int = 300,
    ppo_steps: int = 150,
    rm_epochs: int = 200,
    world: Any = None,
) -> DPOvsPPOResult:
    """Train DPO and reward model + PPO on the same ``n_comparisons`` simulated comparisons,
    once per beta, and return both frontiers (gold utility against KL to the SFT reference).

    Examples
    --------
    >>> res = compare_dpo_ppo(betas=(0.5, 2.0), dpo_steps=100, ppo_steps=60)
    >>> [round(p["beta"], 1) for p in res.points["dpo"]]
    [0.5, 2.0]
    >>> all(p["gold_reward"] > res.reference_gold for m in ("dpo", "ppo") for p in res.points[m])
    True
    """
    betas = tuple(float(b) for b in betas)
    if not betas:
        raise ValueError("betas must not be empty")
    data = DPOvsPPO.simulate(
        n_comparisons,
        seed=seed,
        dpo_steps=dpo_steps,
        ppo_steps=ppo_steps,
        rm_epochs=rm_epochs,
        world=world,
    )
    points: dict[str, list[dict[str, float]]] = {"dpo": [], "ppo": []}
    for beta in betas:
        dpo, ppo = data.run(beta)
        d, p = dpo.final(), ppo.final()
        points["dpo"].append(
            {
                "beta": beta,
                "kl": d["kl"],
                "gold_reward": d["gold_reward"],
                "accuracy": d["accuracy"],
            }
        )
        points["ppo"].append({"beta": beta, "kl": p["kl"], "gold_reward": p["gold_reward"]})
    config = {
        "n_comparisons": n_comparisons,
        "seed": seed,
        "dpo_steps": dpo_steps,
        "ppo_steps": ppo_steps,
        "rm_epochs": rm_epochs,
    }
    return DPOvsPPOResult(betas, points, data.reference_gold, config)
