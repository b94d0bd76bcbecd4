"""Figures of lesson 9, *Beyond PPO* (``docs/lessons/09-beyond-ppo.md``).

Where the KL goes (reward or loss), best-of-n's KL against its bound, the DPO family on one
chart, and verifiable rewards.
"""

from __future__ import annotations

from typing import Any

from . import GREEN, GREY, INDIGO, ORANGE, figure


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
            reference=rm.base_policy(world),
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
        ("base", rm.base_policy(world), GREY),
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
