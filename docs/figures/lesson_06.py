"""Figures of lesson 6, *DPO* (``docs/lessons/06-dpo.md``).

DPO's training curves, and DPO against RM + PPO on the same comparisons.
"""

from __future__ import annotations

from typing import Any

from . import GREY, INDIGO, ORANGE, figure


@figure("dpo-training", size=(7.6, 3.5))
def _dpo_training(fig: Any) -> None:
    import rlhf_mini as rm
    from rlhf_mini.trainers.dpo import train_dpo

    comparisons = rm.simulate_comparisons(500, seed=0)
    left, right = fig.subplots(1, 2)
    h = train_dpo(comparisons, beta=0.5, steps=300, seed=0).history
    left.plot(h["step"], h["loss"], color=INDIGO, lw=2, label="DPO loss")
    left.plot(h["step"], h["accuracy"], color=ORANGE, lw=2, label="preference accuracy")
    left.axhline(0.6931, color=GREY, ls=":", lw=1, label="log 2")
    left.set_xlabel("Adam step")
    left.set_title("DPO, β = 0.5")
    left.legend(fontsize=8)
    result = rm.compare_dpo_ppo()  # the same comparisons (500, seed 0), one run per β
    for method, name, colour, marker in (
        ("dpo", "DPO", INDIGO, "o"),
        ("ppo", "RM + PPO", ORANGE, "s"),
    ):
        pts = result.points[method]
        kl = [p["kl"] for p in pts]
        gold = [p["gold_reward"] for p in pts]
        right.plot(kl, gold, marker=marker, color=colour, lw=1.5, label=name)
        for p in pts:
            right.annotate(
                f"{p['beta']:g}",
                (p["kl"], p["gold_reward"]),
                textcoords="offset points",
                xytext=(4, -10),
                fontsize=7,
                color=colour,
            )
    right.set_xlabel("KL(π ‖ π_ref), nats")
    right.set_ylabel("gold utility")
    right.set_title("Same comparisons, labels = β")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
