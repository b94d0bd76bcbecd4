"""Figures of lesson 1, *Why RLHF* (``docs/lessons/01-why-rlhf.md``).

The pretrained model's taste: what it says against what people want.
"""

from __future__ import annotations

from typing import Any

from . import GREEN, INDIGO, figure


def _behaviour_mass(world: Any, probs: Any) -> tuple[list[str], Any, Any]:
    """Behaviours sorted by mean gold utility; mean probability mass and mean utility."""
    import numpy as np

    labels = world.behaviour_table()
    u = world.gold_utility()
    names = sorted(world.behaviours)
    mass = np.array(
        [
            sum(probs[i, k] for i, row in enumerate(labels) for k, b in enumerate(row) if b == n)
            for n in names
        ]
    ) / len(labels)
    utility = np.array(
        [
            np.mean([u[i, k] for i, row in enumerate(labels) for k, b in enumerate(row) if b == n])
            for n in names
        ]
    )
    order = np.argsort(utility)
    return [names[i] for i in order], mass[order], utility[order]


@figure("base-model-behaviours", size=(7.2, 3.8))
def _base_model_behaviours(fig: Any) -> None:
    from rlhf_mini.models.softmax_policy import base_policy
    from rlhf_mini.worlds.bandit import load_world

    world = load_world()
    names, mass, utility = _behaviour_mass(world, base_policy(world).to_numpy())
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=[1.2, 1])
    y = range(len(names))
    left.barh(y, mass, color=INDIGO)
    left.set_yticks(list(y), [n.replace("_", " ") for n in names])
    left.set_xlabel("probability under the base model\n(mean over the 14 prompts)")
    left.set_title("What the pretrained model says")
    right.barh(y, utility, color=GREEN)
    right.set_xlabel("gold utility (mean)")
    right.set_title("What people want")
    for ax in (left, right):
        ax.grid(alpha=0.3, axis="x")
