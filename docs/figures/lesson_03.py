"""Figures of lesson 3, *The reward model* (``docs/lessons/03-reward-model.md``).

Training curves, and the weights learned from faithful and from verbosity-biased labels.
"""

from __future__ import annotations

from typing import Any

from . import GREEN, GREY, INDIGO, ORANGE, figure


@figure("reward-model-training")
def _reward_model_training(fig: Any) -> None:
    import rlhf_mini as rm

    result = rm.train_reward_model(rm.simulate_comparisons(500, seed=0), steps=200, seed=0)
    h = result.history
    ax = fig.subplots()
    ax.plot(h["step"], h["train_accuracy"], color=INDIGO, lw=2, label="train accuracy")
    ax.plot(h["step"], h["heldout_accuracy"], color=ORANGE, lw=2, label="held-out accuracy")
    agreement = result.metrics["heldout_label_gold_agreement"]
    ax.axhline(
        agreement, color=GREY, ls="--", label=f"held-out labels agreeing with gold: {agreement:.2f}"
    )
    ax.plot(h["step"], h["heldout_loss"], color=GREEN, lw=1.5, label="held-out loss")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(0, 200)
    ax.set_xlabel("epoch (full-batch gradient step, log scale)")
    ax.set_ylabel("pairwise accuracy / loss")
    ax.set_ylim(0, 1)
    ax.set_title("Predicting noisy labels levels off near the labels' own agreement")
    ax.legend(loc="center right")
    ax.grid(alpha=0.3)


@figure("reward-model-weights", size=(6.8, 3.6))
def _reward_model_weights(fig: Any) -> None:
    import numpy as np

    import rlhf_mini as rm

    world = rm.load_world()
    faithful = rm.train_reward_model(rm.simulate_comparisons(500, seed=0), log_every=50, seed=0)
    biased = rm.train_reward_model(
        rm.simulate_comparisons(500, seed=0, verbosity_bias=3.0), log_every=50, seed=0
    )
    x = np.arange(world.n_features)
    ax = fig.subplots()
    width = 0.27
    ax.bar(x - width, world.gold_weights, width, color=GREY, label="gold (hidden)")
    ax.bar(x, faithful.model.weights, width, color=INDIGO, label="learned, faithful labels")
    ax.bar(
        x + width,
        biased.model.weights,
        width,
        color=ORANGE,
        label="learned, verbosity-biased labels",
    )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, world.features, rotation=20)
    ax.set_ylabel("weight in r(x, y) = w · φ")
    ax.set_title("What the reward model learned")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
