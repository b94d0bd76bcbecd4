"""Figures of the widgets' default runs: each widget's no-script fallback.

A widget's box shows its figure (``figures/widget-NAME.svg``) until the widget is ready, and
for good when JavaScript is off or Python cannot start. Each figure calls the widget's own
pure helpers with the widget's defaults, so it changes whenever the widget's first result
would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import GREEN, GREY, INDIGO, ORANGE, figure


def _widget_module(name: str) -> Any:
    """``rlhf_widgets.<name>`` (docs/widgets; its pure parts import no browser module)."""
    import importlib
    import sys

    widgets = str(Path(__file__).resolve().parents[1] / "widgets")
    if widgets not in sys.path:
        sys.path.insert(0, widgets)
    return importlib.import_module(f"rlhf_widgets.{name}")


@figure("widget-preference-game", size=(7.2, 3.4))
def _widget_preference_game(fig: Any) -> None:
    import numpy as np

    game = _widget_module("preference_game").PreferenceGame()
    game.simulate()  # the widget's "Simulate 50 labellers" on its first prompt
    prompt = game.prompt
    gold = game.world.gold_utility()[game.prompt_index]
    order = np.argsort(gold)
    y = np.arange(game.k)
    ax = fig.subplots()
    ax.barh(y + 0.2, game.scores[order], 0.4, color=INDIGO, label="Bradley–Terry score (fitted)")
    ax.barh(y - 0.2, (gold - gold.mean())[order], 0.4, color=GREY, label="gold utility (centred)")
    ax.set_yticks(y, [prompt.responses[k].behaviour.replace("_", " ") for k in order])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("score (mean zero)")
    ax.set_title(
        f"“{prompt.text}”: scores after {game.n_comparisons} simulated comparisons",
        fontsize=9,
    )
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, axis="x")


@figure("widget-reward-training", size=(6.8, 3.4))
def _widget_reward_training(fig: Any) -> None:
    w = _widget_module("reward_training")
    d = w.DEFAULTS
    hidden = dict(w.MODELS)[d["model"]]
    result = w.train(d["n"], dict(w.NOISE)[d["noise"]], d["seed"], hidden)
    h = result.history
    ax = fig.subplots()
    acc = ax.twinx()
    ax.plot(h["step"], h["train_loss"], color=INDIGO, lw=2, label="train loss")
    ax.plot(h["step"], h["heldout_loss"], color=INDIGO, lw=2, ls="--", label="held-out loss")
    acc.plot(h["step"], h["train_accuracy"], color=ORANGE, lw=2, label="train accuracy")
    acc.plot(
        h["step"], h["heldout_accuracy"], color=ORANGE, lw=2, ls="--", label="held-out accuracy"
    )
    ax.set_xlabel("step (one pass over the comparisons)")
    ax.set_ylabel("Bradley–Terry loss")
    acc.set_ylabel("pairwise accuracy")
    ax.set_title(
        f"{d['n']} comparisons, {d['noise']} label noise, {d['model']} reward model",
        fontsize=9,
    )
    lines = ax.get_lines() + acc.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], fontsize=8, loc="center right")
    ax.grid(alpha=0.3)


@figure("widget-ppo-sweep", size=(7.6, 5.4))
def _widget_ppo_sweep(fig: Any) -> None:
    w = _widget_module("ppo_sweep")
    default = next(iter(w.REWARD_MODELS))  # the widget's reward-model menu starts here
    histories = w.sweep(w.reward_scores(default), w.BETAS)
    colours = (ORANGE, "#8e24aa", INDIGO, GREEN, GREY)
    axes = fig.subplots(2, 2).ravel()
    for ax, key, title in zip(
        axes,
        ("proxy_reward", "gold_reward", "kl"),
        ("Proxy reward (P(beats SFT's typical answer))", "Gold reward", "KL to the SFT model"),
        strict=False,
    ):
        for (beta, h), colour in zip(histories.items(), colours, strict=True):
            ax.plot(h["step"], h[key], color=colour, lw=1.8, label=f"β = {beta:g}")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("PPO step")
        ax.grid(alpha=0.3)
    axes[2].set_ylabel("nats")
    axes[0].legend(fontsize=7)
    final = axes[3]
    ends = [(h["kl"][-1], h["proxy_reward"][-1], h["gold_reward"][-1]) for h in histories.values()]
    gold = final.twinx()  # the two rewards have their own scales
    final.plot([e[0] for e in ends], [e[1] for e in ends], "s", color=ORANGE, label="proxy")
    gold.plot([e[0] for e in ends], [e[2] for e in ends], "o", color=INDIGO, label="gold")
    final.set_ylabel("proxy reward", color=ORANGE)
    gold.set_ylabel("gold reward", color=INDIGO)
    final.set_title("Final points: reward against KL", fontsize=9)
    final.set_xlabel("KL (nats)")
    final.legend(handles=final.get_lines() + gold.get_lines(), fontsize=7, loc="lower right")
    final.grid(alpha=0.3)


@figure("widget-pipeline", size=(7.4, 3.6))
def _widget_pipeline(fig: Any) -> None:
    import numpy as np

    import rlhf_mini as rm

    w = _widget_module("pipeline_walkthrough")
    result = rm.run_pipeline()  # the widget's run: the library's defaults
    stages = [result.stage(name) for name in ("base", "sft", "aligned")]
    colours = (GREY, ORANGE, INDIGO)
    left, right = fig.subplots(1, 2, width_ratios=[1, 2.2])
    x = np.arange(len(stages))
    left.bar(x, [s.metrics["gold_reward"] for s in stages], color=colours)
    left.set_xticks(x, [s.title.split(". ", 1)[0] for s in stages])
    left.set_xlabel("step of the walkthrough")
    left.set_title("Gold utility", fontsize=9)
    left.grid(alpha=0.3, axis="y")
    width = 0.8 / len(stages)
    for j, s in enumerate(stages):
        right.barh(
            np.arange(len(w.BEHAVIOURS)) + (j - (len(stages) - 1) / 2) * width,
            [s.metrics[f"p_{b}"] for b in w.BEHAVIOURS],
            width,
            color=colours[j],
            label=s.title,
        )
    right.set_yticks(range(len(w.BEHAVIOURS)), [b.replace("_", " ") for b in w.BEHAVIOURS])
    right.invert_yaxis()
    right.set_xlabel("probability (mean over prompts)")
    right.set_title("What the model does", fontsize=9)
    right.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.4, -0.2))
    right.grid(alpha=0.3, axis="x")


@figure("widget-dpo-trainer", size=(7.6, 3.4))
def _widget_dpo_trainer(fig: Any) -> None:
    w = _widget_module("dpo_comparison")
    data = w.comparison()
    dpo, ppo = data.run(w.DEFAULT_BETA)
    h = dpo.history
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    left.plot(h["step"], h["loss"], color=INDIGO, lw=2, label="loss")
    left.plot(h["step"], h["accuracy"], color=ORANGE, lw=2, label="accuracy")
    left.plot(h["step"], h["heldout_accuracy"], color=ORANGE, lw=2, ls="--", label="held-out acc.")
    left.plot(h["step"], h["reward_margin"], color=GREEN, lw=1.5, ls=":", label="reward margin")
    left.set_xlabel("Adam step")
    left.set_title(f"DPO training, β = {w.DEFAULT_BETA:g}", fontsize=9)
    left.legend(fontsize=7)
    left.grid(alpha=0.3)
    names = ("SFT reference", "DPO", "RM + PPO")
    gold = (data.reference_gold, dpo.final()["gold_reward"], ppo.final()["gold_reward"])
    kl = (0.0, dpo.final()["kl"], ppo.final()["kl"])
    bars = right.bar(names, gold, color=(GREY, INDIGO, ORANGE))
    for bar, k in zip(bars, kl, strict=True):
        right.annotate(
            f"KL {k:.2f}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    right.set_ylim(0, max(gold) * 1.15)
    right.set_title("Gold reward (KL to SFT in nats)", fontsize=9)
    right.grid(alpha=0.3, axis="y")


@figure("widget-playground", size=(7.2, 3.2))
def _widget_playground(fig: Any) -> None:
    import numpy as np

    import rlhf_mini as rm

    w = _widget_module("response_scorer")
    scores = [rm.score_response(text, prompt) for _, _, prompt, text in w.EXAMPLES]
    y = np.arange(len(scores))
    ax = fig.subplots()
    ax.barh(y - 0.2, [s.reward for s in scores], 0.4, color=ORANGE, label="reward score (proxy)")
    ax.barh(y + 0.2, [s.alignment for s in scores], 0.4, color=INDIGO, label="alignment score")
    ax.set_yticks(y, [label for label, *_ in w.EXAMPLES])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("score")
    ax.set_title("The playground's example responses, scored", fontsize=9)
    ax.legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    ax.grid(alpha=0.3, axis="x")


@figure("widget-method-frontier", size=(7.2, 3.8))
def _widget_method_frontier(fig: Any) -> None:
    w = _widget_module("method_frontier")
    res = w.run()  # the widget's default: faithful labellers, data seed 0
    colours = {
        "ppo": ORANGE,
        "grpo": INDIGO,
        "rloo": GREEN,
        "best_of_n": "#8e24aa",
        "dpo": "#d81b60",
    }
    markers = {"ppo": "o", "grpo": "s", "rloo": "^", "best_of_n": "D", "dpo": "v"}
    ax = fig.subplots()
    ax.plot(
        [p["kl"] for p in res.ceiling],
        [p["gold_reward"] for p in res.ceiling],
        color="black",
        ls=":",
        lw=1,
        label="ceiling (best possible)",
    )
    ax.plot([0.0], [res.reference_gold], "o", color=GREY, label="SFT reference")
    for method, pts in res.points.items():
        pts = sorted(pts, key=lambda p: p["kl"])
        ax.plot(
            [p["kl"] for p in pts],
            [p["gold_reward"] for p in pts],
            marker=markers[method],
            color=colours[method],
            lw=1.5,
            label=w.NAMES[method],
        )
    ax.set_xlabel("KL(π ‖ π_SFT), nats")
    ax.set_ylabel("gold reward")
    ax.set_title("Every method on the same 500 comparisons (faithful labellers)", fontsize=9)
    ax.legend(fontsize=7, loc="lower right", ncol=2)
    ax.grid(alpha=0.3)


@figure("widget-lm-align", size=(7.6, 3.4))
def _widget_lm_align(fig: Any) -> None:
    import rlhf_mini as rm

    w = _widget_module("lm_align")
    d = w.DEFAULTS
    run = rm.load_alignment_record()["ppo"][d["reward_model"]][f"{d['beta']:g}"]
    h = run["history"]
    left, right = fig.subplots(1, 2)
    gold = left.twinx()
    left.plot(
        *zip(*w.trailing_mean(h["step"], h["proxy_reward"]), strict=True),
        color=ORANGE,
        lw=2,
        label="proxy reward",
    )
    gold.plot(
        *zip(*w.trailing_mean(h["step"], h["gold_utility"]), strict=True),
        color=INDIGO,
        lw=2,
        label="gold utility",
    )
    left.set_ylabel("proxy reward", color=ORANGE)
    gold.set_ylabel("gold utility", color=INDIGO)
    length = right.twinx()
    right.plot(*zip(*w.trailing_mean(h["step"], h["kl"]), strict=True), color=GREEN, lw=2)
    length.plot(
        *zip(*w.trailing_mean(h["step"], h["response_length"]), strict=True),
        color=GREY,
        lw=1.5,
        ls="--",
    )
    right.set_ylabel("KL to SFT (nats)", color=GREEN)
    length.set_ylabel("response length (tokens)", color=GREY)
    for ax, title in ((left, "Proxy and gold"), (right, "Drift and length")):
        ax.set_xlabel("PPO iteration")
        ax.set_title(f"{title} (beta {d['beta']:g}, {d['reward_model']} reward model)", fontsize=9)
        ax.grid(alpha=0.3)
