"""Figures of lesson 5, *The complete pipeline* (``docs/lessons/05-pipeline.md``).

What the model does at each stage, and its gold utility.
"""

from __future__ import annotations

from typing import Any

from . import GREY, INDIGO, figure

GOOD_BEHAVIOURS = (
    "clear_concise",
    "thoughtful_respectful",
    "expresses_uncertainty",
    "refuses_harmful_helps",
    "refuses_curtly",
)


@figure("pipeline-stages", size=(7.6, 3.6))
def _pipeline_stages(fig: Any) -> None:
    from matplotlib import colormaps

    import rlhf_mini as rm

    world = rm.load_world()
    result = rm.run_pipeline(ppo_steps=150, rm_steps=100, seed=0)  # as in the lesson
    stages = [("base", "1. base"), ("sft", "2. SFT"), ("aligned", "6. after PPO")]
    labels = world.behaviour_table()
    good = [b for b in GOOD_BEHAVIOURS if b in world.behaviours]
    bad = [b for b in world.behaviours if b not in good]
    greens, reds = colormaps["Greens"], colormaps["Oranges"]
    colours = {b: greens(0.85 - 0.5 * i / max(1, len(good) - 1)) for i, b in enumerate(good)}
    colours |= {b: reds(0.35 + 0.5 * i / max(1, len(bad) - 1)) for i, b in enumerate(bad)}
    ax, gold_ax = fig.subplots(1, 2, width_ratios=[3, 1])
    for j, (name, _title) in enumerate(stages):
        left = 0.0
        for b in good + bad:
            mass = result.stage(name).metrics.get(f"p_{b}")
            if mass is None:
                continue
            # p_b is averaged over the prompts that offer b; weight it by that share
            share = sum(b in row for row in labels) / len(labels)
            ax.barh(
                j,
                mass * share,
                left=left,
                color=colours[b],
                label=b.replace("_", " ") if j == 0 else None,
            )
            left += mass * share
        gold_ax.barh(j, result.stage(name).metrics["gold_reward"], color=INDIGO)
    ax.set_yticks(range(len(stages)), [t for _, t in stages])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the model's probability (all 14 prompts)")
    ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    gold_ax.set_yticks(range(len(stages)), [])
    gold_ax.invert_yaxis()
    gold_ax.set_xlabel("gold utility")
    gold_ax.set_xlim(0, float(world.gold_utility().max(axis=1).mean()) * 1.05)
    gold_ax.axvline(float(world.gold_utility().max(axis=1).mean()), color=GREY, ls="--", lw=1)
    fig.suptitle("Green: behaviours people want. Orange: behaviours they don't.", fontsize=9)
