"""Figures of lesson 2, *Human preferences* (``docs/lessons/02-human-preferences.md``).

Bradley–Terry: the logistic curve, and how well maximum likelihood recovers the scores.
"""

from __future__ import annotations

from typing import Any

from . import GREY, INDIGO, ORANGE, figure


@figure("bradley-terry-curve")
def _bradley_terry_curve(fig: Any) -> None:
    import numpy as np

    import rlhf_mini as rm

    ax = fig.subplots()
    diff = np.linspace(-6, 6, 241)
    ax.plot(diff, rm.preference_probability(diff, 0.0), color=INDIGO, lw=2)
    p = float(rm.preference_probability(2.0, 0.0))
    ax.plot([2, 2, -6], [0, p, p], color=GREY, ls="--", lw=1)
    ax.plot([2], [p], "o", color=ORANGE)
    ax.annotate(
        f"$r_A=2,\\ r_B=0$: P = {p:.2f}",
        (2, p),
        xytext=(2.6, 0.62),
        arrowprops={"arrowstyle": "->", "color": GREY},
    )
    ax.set_xlim(-6, 6)
    ax.set_ylim(0, 1)
    ax.set_xlabel("score difference $r_A - r_B$")
    ax.set_ylabel("P(A preferred to B)")
    ax.set_title("Bradley–Terry: a logistic curve in the score difference")
    ax.grid(alpha=0.3)


@figure("bradley-terry-recovery")
def _bradley_terry_recovery(fig: Any) -> None:
    import numpy as np

    import rlhf_mini as rm

    true_scores = np.array([1.5, 0.5, 0.0, -2.0])
    centred = true_scores - true_scores.mean()
    sizes = np.array([200, 500, 1000, 2000, 5000, 10000, 20000])
    seeds = range(8)
    rmse = np.zeros((len(seeds), sizes.size))
    for i, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        for j, n in enumerate(sizes):
            first = rng.integers(0, 4, size=n)
            second = (first + rng.integers(1, 4, size=n)) % 4
            p_first = rm.preference_probability(true_scores[first], true_scores[second])
            first_wins = rng.random(n) < p_first
            comparisons = np.stack(
                [np.where(first_wins, first, second), np.where(first_wins, second, first)], 1
            )
            fitted = rm.fit_bradley_terry(comparisons, n_items=4)
            rmse[i, j] = np.sqrt(np.mean((fitted - centred) ** 2))
    ax = fig.subplots()
    for row in rmse:
        ax.plot(sizes, row, color=INDIGO, alpha=0.25, lw=1)
    mean = rmse.mean(axis=0)
    ax.plot(sizes, mean, "o-", color=INDIGO, lw=2, label="fit error (mean of 8 seeds)")
    ref = mean[0] * np.sqrt(sizes[0] / sizes)
    ax.plot(sizes, ref, "--", color=ORANGE, label=r"$\propto 1/\sqrt{m}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of comparisons m")
    ax.set_ylabel("RMS error of fitted scores")
    ax.set_title("Maximum likelihood recovers the hidden scores")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
