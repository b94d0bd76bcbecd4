"""Figures of lesson 7, *Alignment playground* (``docs/lessons/07-playground.md``).

Overoptimisation: the proxy keeps rising while the gold utility peaks (Goodhart's law).
"""

from __future__ import annotations

from typing import Any

from . import GREY, INDIGO, ORANGE, figure


@figure("overoptimization", size=(6.8, 3.8))
def _overoptimization(fig: Any) -> None:
    import rlhf_mini as rm

    exact = rm.overoptimization_curve(seed=0)
    ppo = rm.overoptimization_curve(sweep="steps", seed=0)
    beta_run = ppo.points[0]["beta"]
    gold_ax = fig.subplots()
    proxy_ax = gold_ax.twinx()  # the proxy is a win probability, the gold a utility
    kl = [p["kl"] for p in exact.points]
    pkl = [p["kl"] for p in ppo.points]
    lines = [
        *proxy_ax.plot(
            kl,
            [p["proxy_reward"] for p in exact.points],
            "o-",
            color=ORANGE,
            lw=2,
            label="proxy reward (optimum per β, right axis)",
        ),
        *proxy_ax.plot(
            pkl,
            [p["proxy_reward"] for p in ppo.points],
            "--",
            color=ORANGE,
            lw=1.2,
            label=f"proxy, one PPO run (β = {beta_run:g})",
        ),
        *gold_ax.plot(
            kl,
            [p["gold_reward"] for p in exact.points],
            "o-",
            color=INDIGO,
            lw=2,
            label="gold utility (optimum per β, left axis)",
        ),
        *gold_ax.plot(
            pkl,
            [p["gold_reward"] for p in ppo.points],
            "--",
            color=INDIGO,
            lw=1.2,
            label=f"gold, one PPO run (β = {beta_run:g})",
        ),
        gold_ax.axhline(
            exact.reference_gold, color=GREY, ls=":", lw=1, label="gold of the SFT reference"
        ),
    ]
    peak = exact.peak()
    gold_ax.annotate(
        "gold peaks",
        (peak["kl"], peak["gold_reward"]),
        xytext=(peak["kl"] + 0.2, peak["gold_reward"] + 0.25),
        arrowprops={"arrowstyle": "->", "color": GREY},
    )
    gold_ax.set_xlabel("KL(π ‖ π_ref), nats: how hard the proxy is optimised")
    gold_ax.set_ylabel("gold utility")
    proxy_ax.set_ylabel("proxy reward (win probability)")
    gold_ax.set_title("Optimising a flawed proxy: Goodhart's law")
    gold_ax.legend(handles=lines, fontsize=7, loc="lower right")
    gold_ax.grid(alpha=0.3)
