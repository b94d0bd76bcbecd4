"""Figures of lesson 10, *Aligning a language model* (``docs/lessons/10-language-model.md``).

The pretraining and SFT loss curves (from the weights' manifest, which records them), and the
PPO runs of the alignment record (``rlhf_mini.load_alignment_record``): the KL weight, and
reward hacking against the verbosity-loving reward model. PPO's histories are drawn as means
over blocks of 10 iterations (``rlhf_mini.experiments.lm_alignment.smooth``): one rollout of
16 responses is a noisy measurement.
"""

from __future__ import annotations

from typing import Any

from . import GREY, INDIGO, ORANGE, figure


@figure("lm-pretraining-loss", size=(6.8, 3.4))
def _lm_pretraining_loss(fig: Any) -> None:
    from rlhf_mini.models.language_model import shipped_manifest

    stages = shipped_manifest()["stages"]
    pre, sft = stages["base"], stages["sft"]
    steps = pre["config"]["steps"]
    ax = fig.subplots()
    ax.plot(
        pre["loss_curve"]["step"],
        pre["loss_curve"]["loss"],
        color=INDIGO,
        lw=2,
        label="pretraining: every token of the internet mix",
    )
    ax.plot(
        [steps + s for s in sft["loss_curve"]["step"]],
        sft["loss_curve"]["loss"],
        color=ORANGE,
        lw=2,
        label="SFT: the response tokens of demonstrations",
    )
    ax.axvline(steps, color=GREY, ls="--", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("optimiser step (32 dialogues each)")
    ax.set_ylabel("next-token loss (nats, log scale)")
    ax.set_title(
        f"From log 595 = 6.4 nats to {pre['final_loss']:.2f} (pretraining), "
        f"then {sft['final_loss']:.2f} (SFT)",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")


def _curves(run: dict[str, Any]) -> tuple[list, dict[str, list]]:
    from rlhf_mini.experiments.lm_alignment import smooth

    points = smooth(run["history"])
    x = [p["step"] for p in points]
    return x, {k: [p[k] for p in points] for k in points[0] if k != "step"}


@figure("lm-kl-weight", size=(8.4, 3.2))
def _lm_kl_weight(fig: Any) -> None:
    import rlhf_mini as rm

    runs = rm.load_alignment_record()["ppo"]
    axes = fig.subplots(1, 3)
    titles = {
        "proxy_reward": "proxy reward",
        "kl": "KL to SFT (nats)",
        "gold_utility": "gold utility",
    }
    for rm_name, ls in (("verbose", "-"), ("faithful", ":")):
        for beta, colour in (("0.01", ORANGE), ("0.2", INDIGO)):
            x, y = _curves(runs[rm_name][beta])
            for ax, key in zip(axes, titles, strict=True):
                ax.plot(x, y[key], ls=ls, color=colour, lw=1.8, label=f"beta {beta}, {rm_name}")
    for ax, title in zip(axes, titles.values(), strict=True):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("PPO iteration")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)


@figure("lm-reward-hacking", size=(7.2, 3.6))
def _lm_reward_hacking(fig: Any) -> None:
    import rlhf_mini as rm

    record = rm.load_alignment_record()
    run = record["ppo"]["verbose"]["0.01"]
    x, y = _curves(run)
    peak = record["hacking"]["peak"]["peak"]
    ax = fig.subplots()
    gold = ax.twinx()
    ax.plot(x, y["proxy_reward"], color=ORANGE, lw=2, label="proxy reward (left)")
    gold.plot(x, y["gold_utility"], color=INDIGO, lw=2, label="gold utility (right)")
    gold.plot([peak["step"]], [peak["gold_utility"]], "o", color=INDIGO)
    gold.annotate(
        f"gold peaks: {peak['gold_utility']:.2f}",
        (peak["step"], peak["gold_utility"]),
        xytext=(peak["step"] + 20, peak["gold_utility"] - 0.6),
        arrowprops={"arrowstyle": "->", "color": GREY},
        fontsize=9,
    )
    ax.set_xlabel("PPO iteration (beta 0.01, verbosity-loving reward model)")
    ax.set_ylabel("proxy reward", color=ORANGE)
    gold.set_ylabel("gold utility", color=INDIGO)
    ax.set_title("The proxy keeps rising; the gold utility holds, then falls", fontsize=10)
    lines = ax.get_lines() + gold.get_lines()[:1]
    ax.legend(lines, [line.get_label() for line in lines], fontsize=8, loc="center left")
    ax.grid(alpha=0.3)
