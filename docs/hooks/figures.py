"""MkDocs hook: draw the lessons' figures at build time by running ``rlhf_mini``.

Every figure on the site is the output of code in this file calling the library, never a
pasted image. The ``widget-NAME`` figures are the default runs of the widgets (computed with
the widgets' own pure helpers), shown in each widget's box as its no-script fallback. In ``on_files`` each figure is rendered to SVG and added to the site as a
generated file ``figures/NAME.svg``; lessons link it as ``../figures/NAME.svg``, so
``mkdocs build --strict`` checks the links like any other.

Rendering takes a few seconds; the SVGs are cached under ``build/figures/<hash>/`` where the
hash covers this file, the library's sources and data and the widgets' sources, so a rebuild after an unrelated
edit is instant and any change to the code that draws a figure redraws it.

``render_all(out_dir)`` renders every figure into a directory (used by the tests).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.figures")

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "figures"

#: Figure name -> function drawing it on a fresh matplotlib Figure.
FIGURES: dict[str, Callable[[Any], None]] = {}

# Colours: the course's indigo, plus a contrasting orange and grey; readable in both themes
# because every figure has its own white background.
INDIGO, ORANGE, GREY, GREEN = "#3f51b5", "#e65100", "#757575", "#2e7d32"


def figure(name: str, size: tuple[float, float] = (6.4, 3.6)):
    """Register a drawing function under ``name`` (the SVG is ``figures/NAME.svg``)."""

    def register(draw: Callable[[Any], None]) -> Callable[[Any], None]:
        draw.size = size  # type: ignore[attr-defined]
        FIGURES[name] = draw
        return draw

    return register


# --------------------------------------------------------------------------------------
# Lesson 1: the pretrained model's taste
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Lesson 2: Bradley–Terry
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Lesson 3: the reward model
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Lesson 4: PPO with a KL penalty
# --------------------------------------------------------------------------------------


def _faithful_reward_model() -> Any:
    import rlhf_mini as rm

    return rm.train_reward_model(rm.simulate_comparisons(500, seed=0), log_every=50, seed=0).model


@figure("ppo-training", size=(7.2, 3.4))
def _ppo_training(fig: Any) -> None:
    from rlhf_mini.trainers.ppo import train_ppo

    reward_model = _faithful_reward_model()
    left, right = fig.subplots(1, 2)
    for beta, colour in ((0.01, ORANGE), (0.05, INDIGO), (0.2, GREEN), (1.0, GREY)):
        h = train_ppo(reward_model, beta=beta, steps=200, seed=0).history
        left.plot(h["step"], h["proxy_reward"], color=colour, lw=2, label=f"β = {beta}")
        right.plot(h["step"], h["kl"], color=colour, lw=2, label=f"β = {beta}")
    left.set_title("reward: P(beats the SFT model's typical answer)", fontsize=9)
    right.set_title("KL(π ‖ π_ref) in nats")
    for ax in (left, right):
        ax.set_xlabel("PPO iteration")
        ax.grid(alpha=0.3)
    right.legend()


# --------------------------------------------------------------------------------------
# Lesson 5: the pipeline
# --------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------
# Lesson 7: overoptimisation
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Lesson 6: DPO
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Widgets: the default run of each widget, drawn at build time. A widget's box shows its
# figure (figures/widget-NAME.svg) until the widget is ready, and for good when JavaScript
# is off or Python cannot start. Each figure calls the widget's own pure helpers with the
# widget's defaults, so it changes whenever the widget's first result would.
# --------------------------------------------------------------------------------------


def _widget_module(name: str) -> Any:
    """``rlhf_widgets.<name>`` (docs/widgets; its pure parts import no browser module)."""
    import importlib
    import sys

    widgets = str(ROOT / "docs" / "widgets")
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

    w = _widget_module("pipeline")
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
    w = _widget_module("dpo_trainer")
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

    w = _widget_module("playground")
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


# ======================================================================================
# Lesson 9: Beyond PPO (GRPO and RLOO, best-of-n, the DPO family, verifiable rewards) and
# its widget's fallback. One section, to be moved as a whole into the lesson's own module.
# ======================================================================================


def _lesson9_rl() -> tuple[Any, Any, Any]:
    """The default reward model's scores, the SFT reference and the win-probability reward
    (what PPO, GRPO and RLOO maximise by default)."""
    import rlhf_mini as rm

    scores = rm.default_reward_model(seed=0).score_table()
    reference = rm.sft_policy()
    return scores, reference, rm.win_probability_rewards(scores, reference)


@figure("kl-placement", size=(7.8, 3.5))
def _kl_placement(fig: Any) -> None:
    import numpy as np

    import rlhf_mini as rm

    scores, reference, win = _lesson9_rl()
    beta, g = 0.1, 8
    rloo = rm.train_rloo(scores, beta=beta, steps=300, seed=0).policy
    grpo = rm.train_grpo(scores, beta=beta, scale_rewards="none", lr=3.0, steps=300, seed=0)
    rlhf = rm.optimal_kl_policy(reference, win, beta)
    covering = rm.forward_kl_optimal_policy(reference, win, beta * g / (g - 1))
    world = rm.load_world()
    x = world.prompt_index("boiling-point")
    left, right = fig.subplots(1, 2, width_ratios=[1.4, 1])
    names = [r.behaviour.replace("_", " ") for r in world.prompts[x].responses]
    bars = (
        ("SFT reference", reference, GREY, None),
        ("RLOO (trained)", rloo, ORANGE, None),
        ("optimum, KL(π‖π_ref)", rlhf, ORANGE, "//"),
        ("GRPO, no std (trained)", grpo.policy, INDIGO, None),
        ("optimum, KL(π_ref‖π)", covering, INDIGO, "//"),
    )
    width = 0.16
    for j, (label, policy, colour, hatch) in enumerate(bars):
        probs = policy.to_numpy()[x]
        left.bar(
            np.arange(len(names)) + (j - 2) * width,
            probs,
            width,
            color=colour if hatch is None else "white",
            edgecolor=colour,
            hatch=hatch,
            label=label,
        )
    left.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
    left.set_ylabel("probability")
    left.set_title(f"“{world.prompts[x].text}”, β = {beta:g}", fontsize=9)
    left.legend(fontsize=7)
    left.grid(alpha=0.3, axis="y")
    betas = np.geomspace(0.01, 3.0, 40)
    fwd = [np.mean(rm.optimal_kl_policy(reference, win, b).kl(reference)) for b in betas]
    rev = [
        np.mean(rm.forward_kl_optimal_policy(reference, win, b * g / (g - 1)).kl(reference))
        for b in betas
    ]
    right.plot(betas, fwd, color=ORANGE, lw=2, label="KL in the reward (PPO, RLOO)")
    right.plot(betas, rev, color=INDIGO, lw=2, ls="--", label="k3 in the loss (GRPO)")
    right.plot([beta], [np.mean(rloo.kl(reference))], "o", color=ORANGE)
    right.plot([beta], [np.mean(grpo.policy.kl(reference))], "s", color=INDIGO)
    right.set_xscale("log")
    right.set_xlabel("β")
    right.set_ylabel("KL(π ‖ π_ref) at the optimum, nats")
    right.set_title("Where each penalty settles (dots: trained)", fontsize=9)
    right.legend(fontsize=7)
    right.grid(alpha=0.3)


@figure("best-of-n-kl", size=(7.6, 3.3))
def _best_of_n_kl(fig: Any) -> None:
    import numpy as np

    import rlhf_mini as rm

    scores, reference, _ = _lesson9_rl()
    gold = rm.load_world().gold_utility()
    pi = reference.to_numpy()
    ns = np.array([1, 2, 4, 8, 16, 32, 64, 128])
    kls, golds = [], []
    for n in ns:
        probs, kl = rm.best_of_n_policy(pi, scores, int(n))
        kls.append(kl)
        golds.append(float(np.mean(np.sum(probs * gold, axis=1))))
    kls = np.array(kls)  # (len(ns), P)
    left, right = fig.subplots(1, 2)
    left.plot(
        ns, [rm.best_of_n_kl_bound(int(n)) for n in ns], "o--", color=GREY, label="log n − (n−1)/n"
    )
    left.plot(ns, kls.mean(axis=1), "o-", color=INDIGO, lw=2, label="exact, mean over prompts")
    left.fill_between(
        ns,
        kls.min(axis=1),
        kls.max(axis=1),
        color=INDIGO,
        alpha=0.15,
        label="exact, range over prompts",
    )
    left.set_xscale("log", base=2)
    left.set_xlabel("n (samples per answer)")
    left.set_ylabel("KL(best-of-n ‖ SFT), nats")
    left.set_title("The bound and the exact KL (5 responses per prompt)", fontsize=9)
    left.legend(fontsize=7)
    left.grid(alpha=0.3)
    right.plot(
        kls.mean(axis=1), golds, "o-", color=INDIGO, lw=2, label="best-of-n (by the reward model)"
    )
    lams = np.geomspace(30.0, 0.05, 30)
    ceiling = [rm.optimal_kl_policy(reference, gold, lam) for lam in lams]
    right.plot(
        [np.mean(c.kl(reference)) for c in ceiling],
        [np.mean(c.expected(gold)) for c in ceiling],
        color=GREY,
        ls=":",
        label="ceiling (best possible)",
    )
    for n, k, g_ in zip(ns, kls.mean(axis=1), golds, strict=True):
        if n <= 32:  # 64 and 128 sit on top of 32: the exact KL saturates
            right.annotate(f"{n}", (k, g_), textcoords="offset points", xytext=(3, -10), fontsize=7)
    right.set_xlabel("KL, nats")
    right.set_ylabel("gold reward")
    right.set_title("Gold reward bought, labels = n", fontsize=9)
    right.legend(fontsize=7, loc="lower right")
    right.grid(alpha=0.3)


#: The DPO family on one chart: loss -> (label, colour, marker, betas).
_DPO_FAMILY = {
    "sigmoid": ("DPO", INDIGO, "o", (4.0, 1.0, 0.5, 0.25)),
    "ipo": ("IPO", ORANGE, "s", (1.0, 0.25, 0.1, 0.05)),
    "kto": ("KTO", GREEN, "^", (4.0, 1.0, 0.5, 0.25)),
    "simpo": ("SimPO", "#8e24aa", "D", (4.0, 1.0, 0.5, 0.25)),
    "orpo": ("ORPO", GREY, "v", (4.0, 1.0, 0.5, 0.25)),
}


@figure("dpo-family", size=(6.8, 3.8))
def _dpo_family(fig: Any) -> None:
    import numpy as np

    import rlhf_mini as rm

    comparisons = rm.simulate_comparisons(500, seed=0)
    world = rm.load_world()
    reference, gold = rm.sft_policy(world), world.gold_utility()
    ax = fig.subplots()
    for loss_type, (label, colour, marker, betas) in _DPO_FAMILY.items():
        pts = [
            rm.train_dpo(comparisons, loss_type=loss_type, beta=b, seed=0).final() for b in betas
        ]
        ax.plot(
            [p["kl"] for p in pts],
            [p["gold_reward"] for p in pts],
            marker=marker,
            color=colour,
            lw=1.5,
            label=label,
        )
        for b, p in zip(betas, pts, strict=True):
            ax.annotate(
                f"{b:g}",
                (p["kl"], p["gold_reward"]),
                textcoords="offset points",
                xytext=(3, -9),
                fontsize=6,
                color=colour,
            )
    lams = np.geomspace(30.0, 0.05, 30)
    ceiling = [rm.optimal_kl_policy(reference, gold, lam) for lam in lams]
    ax.plot(
        [np.mean(c.kl(reference)) for c in ceiling],
        [np.mean(c.expected(gold)) for c in ceiling],
        color="black",
        ls=":",
        lw=1,
        label="ceiling",
    )
    ax.axhline(float(np.mean(reference.expected(gold))), color=GREY, lw=0.8, ls="--")
    ax.set_xlabel("KL(π ‖ π_SFT), nats")
    ax.set_ylabel("gold reward")
    ax.set_title("The DPO family on the same 500 comparisons (labels = β)", fontsize=9)
    ax.set_xlim(left=0)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    ax.grid(alpha=0.3)


@figure("rlvr", size=(7.6, 3.3))
def _rlvr(fig: Any) -> None:
    import numpy as np

    import rlhf_mini as rm
    from rlhf_mini.worlds.verifiable import KINDS

    world = rm.load_verifiable_world()
    runs = {
        lenient: rm.train_grpo(
            world.rewards(lenient=lenient),
            reference=world.base_policy(),
            gold=world.correct(),
            reward_scale="raw",
            beta=0.01,
            steps=100,
            log_every=2,
            seed=0,
        )
        for lenient in (False, True)
    }
    left, right = fig.subplots(1, 2, width_ratios=[1.2, 1])
    for lenient, colour in ((False, INDIGO), (True, ORANGE)):
        h = runs[lenient].history
        name = "lenient checker" if lenient else "strict checker"
        left.plot(
            h["step"], h["proxy_reward"], color=colour, lw=2, ls="--", label=f"{name}: its reward"
        )
        left.plot(
            h["step"], h["gold_reward"], color=colour, lw=2, label=f"{name}: right, in format"
        )
    left.set_xlabel("GRPO step")
    left.set_ylabel("share of answers")
    left.set_ylim(0, 1.02)
    left.set_title("GRPO against a checker", fontsize=9)
    left.legend(fontsize=7)
    left.grid(alpha=0.3)
    policies = (
        ("base", world.base_policy(), GREY),
        ("strict", runs[False].policy, INDIGO),
        ("lenient", runs[True].policy, ORANGE),
    )
    width = 0.27
    for j, (label, policy, colour) in enumerate(policies):
        mass = world.kind_mass(policy)
        right.barh(
            np.arange(len(KINDS)) + (j - 1) * width,
            [mass[k] for k in KINDS],
            width,
            color=colour,
            label=label,
        )
    right.set_yticks(range(len(KINDS)), KINDS)
    right.invert_yaxis()
    right.set_xlabel("probability (mean over prompts)")
    right.set_title("What the policy answers", fontsize=9)
    right.legend(fontsize=7, loc="lower right")
    right.grid(alpha=0.3, axis="x")


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


# ======================================================================================
# End of lesson 9's section.
# ======================================================================================


# --------------------------------------------------------------------------------------
# Rendering, caching and the MkDocs event
# --------------------------------------------------------------------------------------


def _sources_hash() -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    for src in (ROOT / "rlhf_mini", ROOT / "docs" / "widgets"):  # the library, the widgets
        for path in sorted(
            p for p in src.rglob("*") if p.is_file() and p.suffix in (".py", ".json")
        ):
            h.update(str(path.relative_to(ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def render(name: str) -> bytes:
    """Run the drawing code of figure ``name`` and return the SVG bytes (deterministic)."""
    import matplotlib
    from matplotlib.figure import Figure

    draw = FIGURES[name]
    with matplotlib.rc_context(
        {
            "svg.hashsalt": name,  # stable element ids: same code, same bytes
            "svg.fonttype": "none",  # text stays text: small, selectable, searchable
            "font.size": 10,
            "figure.facecolor": "white",
            "axes.facecolor": "white",
        }
    ):
        fig = Figure(figsize=draw.size, layout="constrained")
        draw(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "rlhf_mini docs"})
    return buf.getvalue()


def render_all(out_dir: Path | None = None) -> dict[str, Path]:
    """Render every figure (or reuse the cache); return name -> path of its SVG."""
    if out_dir is None:
        out = CACHE / _sources_hash()
        if CACHE.is_dir():  # drop the figures of older versions of the code
            for stale in CACHE.iterdir():
                if stale.is_dir() and stale != out:
                    shutil.rmtree(stale, ignore_errors=True)
    else:
        out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in FIGURES:
        path = out / f"{name}.svg"
        if not path.exists():
            log.info("figures: drawing %s", name)
            tmp = path.with_suffix(f".svg.{os.getpid()}.tmp")  # concurrent builds
            tmp.write_bytes(render(name))
            tmp.replace(path)
        paths[name] = path
    return paths


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for name, path in render_all().items():
        files.append(File.generated(config, f"figures/{name}.svg", abs_src_path=str(path)))
    return files
