"""PPO sweep over the KL weight beta: how much reward a looser leash buys, for how much drift.

UI only. Each run is :func:`rlhf_mini.train_ppo` with the chosen beta against a reward model
(the faithful one of lesson 3, :func:`rlhf_mini.default_reward_model`, or the verbosity-biased
proxy of lesson 7, :func:`rlhf_mini.proxy_reward_model`), on the win-probability reward scale
PPO uses by default (:func:`rlhf_mini.win_probability_rewards`); the charts plot its history:
proxy reward, gold reward (the world's hidden utility) and KL to the SFT reference per step.
Where the gold reward peaked is :func:`rlhf_mini.gold_peak`. The pure parts (:func:`sweep`,
:func:`summary`) are tested in CPython (tests/test_widget_logic.py).

Budget: the whole sweep (five betas) must compute in well under a second in Pyodide, so each
run is ``STEPS`` PPO iterations (measured by bench/browser.py; the widget shows the count
and the time it took). It is that fast (about 0.1 s), so the widget runs the default sweep
as it mounts: the reader never meets empty charts.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rlhf_mini import default_reward_model, gold_peak, proxy_reward_model, train_ppo

if TYPE_CHECKING:
    from rlhf_widgets._dom import Widget

#: The range used for language models (0.01-0.2), plus 1.0, a strong leash.
BETAS = (0.01, 0.05, 0.1, 0.2, 1.0)
STEPS = 60
LR = 3.0  # constant step size: every run is close to its optimum within STEPS
LOG_EVERY = 2
#: The reward models the reader can optimise: name -> (label, scores of every candidate).
REWARD_MODELS = {
    "faithful": "the reward model of lesson 3 (faithful labellers)",
    "verbosity": "a reward model from labellers who like long answers (lesson 7)",
}


def reward_scores(name: str) -> Any:
    """(P, K) scores of the reward model called ``name`` (a key of REWARD_MODELS)."""
    if name == "faithful":
        return default_reward_model().score_table()
    if name == "verbosity":
        return proxy_reward_model().score_table()
    raise ValueError(f"name must be one of {tuple(REWARD_MODELS)}, got {name!r}")


def sweep(scores: Any, betas: Any, steps: int = STEPS, seed: int = 0) -> dict[float, dict]:
    """One PPO run per beta against the (P, K) reward-model scores: beta -> history."""
    return {
        float(beta): train_ppo(
            scores,
            beta=float(beta),
            steps=steps,
            lr=LR,
            anneal_lr=False,
            seed=seed,
            log_every=LOG_EVERY,
        ).history
        for beta in betas
    }


def summary(histories: dict[float, dict]) -> dict[str, Any]:
    """What the sweep shows, in a sentence: the trade-off between the smallest and the
    largest beta run, and whether the smallest beta overoptimised (:func:`gold_peak`)."""
    if not histories:
        raise ValueError("histories must not be empty")
    low, high = min(histories), max(histories)
    lo, hi = histories[low], histories[high]
    parts = []
    if low != high:
        ratio = lo["kl"][-1] / hi["kl"][-1] if hi["kl"][-1] > 0 else float("inf")
        parts.append(
            f"beta = {low:g} ended at proxy reward {lo['proxy_reward'][-1]:.3f} and KL "
            f"{lo['kl'][-1]:.2f} nats; beta = {high:g} at {hi['proxy_reward'][-1]:.3f} and "
            f"{hi['kl'][-1]:.2f} nats: the looser leash bought "
            f"{lo['proxy_reward'][-1] - hi['proxy_reward'][-1]:+.3f} reward for "
            f"{ratio:.1f}x the drift."
        )
    peak = gold_peak(lo)
    if peak["overoptimised"]:
        p, e = peak["peak"], peak["end"]
        parts.append(
            f"With beta = {low:g} the gold reward peaked at {p['gold_reward']:.2f} after "
            f"{p['step']:g} steps (KL {p['kl']:.2f}); the proxy kept rising, to "
            f"{e['proxy_reward']:.3f}, while the gold reward fell to {e['gold_reward']:.2f}: "
            "more reward stopped meaning better behaviour."
        )
    else:
        parts.append(
            f"With beta = {low:g} the gold reward rose with the proxy to "
            f"{lo['gold_reward'][-1]:.2f}: no overoptimisation."
        )
    return {"low": low, "high": high, "gold_peak": peak, "sentence": " ".join(parts)}


def build(w: Widget) -> None:
    from rlhf_widgets._chart import Chart, Series
    from rlhf_widgets._dom import h, scroll_box

    scores = {name: None for name in REWARD_MODELS}  # computed on first use

    def reward(name: str) -> Any:
        if scores[name] is None:
            scores[name] = reward_scores(name)
        return scores[name]

    pick_rm = h(
        "select",
        *[h("option", label, value=name) for name, label in REWARD_MODELS.items()],
        data_action="reward-model",
        aria_label="Reward model",
        style="color: var(--md-default-fg-color); background: var(--md-default-bg-color);",
    )
    boxes = {}
    choose = h(
        "fieldset",
        h("legend", "KL weights beta to run (0.01-0.2 as in practice; 1.0 a strong leash)"),
        class_="rlhf-row",
    )
    for beta in BETAS:
        box = h("input", type="checkbox", checked=True, data_action=f"beta-{beta:g}")
        boxes[beta] = box
        choose.appendChild(h("label", box, f" {beta:g}", style="margin-right: 1rem;"))
    for control in (pick_rm, *boxes.values()):
        w.persist(control)  # the reader's settings of an earlier visit
    run = h(
        "button",
        "Run PPO",
        type="button",
        class_="md-button",
        data_action="run-sweep",
    )
    status = h(
        "p",
        f"Each run: {STEPS} PPO steps (8 samples per prompt, 2 epochs each).",
        data_output="steps",
        role="status",
    )

    charts = {
        "proxy_reward": Chart(
            "Proxy reward (what PPO sees: P(beats the SFT model's typical answer))",
            "step",
            "proxy reward",
            name="proxy",
        ),
        "gold_reward": Chart("Gold reward (what people want)", "step", "gold reward", name="gold"),
        "kl": Chart("KL to the SFT model", "step", "KL (nats)", name="kl"),
    }
    final = Chart(  # the two rewards have their own scales: gold on the right axis
        "Final points: reward against KL",
        "KL (nats)",
        "proxy reward",
        y2_label="gold reward",
        kind="scatter",
        name="final",
    )
    grid = h(
        "div",
        *[c.element for c in charts.values()],
        final.element,
        style="display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr));"
        " gap: 0.8rem;",
    )
    table_body = h("tbody")
    for beta in BETAS:
        table_body.appendChild(
            h(
                "tr",
                h("td", f"{beta:g}"),
                *[
                    h("td", "not run", data_output=f"{key}-{beta:g}")
                    for key in ("proxy", "gold", "kl")
                ],
            )
        )
    table = h(
        "table",
        h(
            "thead",
            h(
                "tr",
                h("th", "beta"),
                h("th", "final proxy reward"),
                h("th", "final gold reward"),
                h("th", "final KL"),
            ),
        ),
        table_body,
    )
    verdict = h("p", "", data_output="verdict", class_="rlhf-warning", aria_live="polite")
    timing = h("p", "", data_output="sweep-ms", class_="rlhf-run-status")
    w.body.append(
        h("label", "Optimise ", pick_rm, class_="rlhf-row"),
        choose,
        h("div", run, class_="rlhf-row"),
        status,
        grid,
        scroll_box(table, "Final values of each run"),
        verdict,
        timing,
    )

    def run_sweep(evt: Any) -> None:
        betas = [b for b in BETAS if boxes[b].checked]
        if not betas:
            w.set("verdict", "", "Tick at least one beta.")
            return
        t0 = time.perf_counter()
        histories = sweep(reward(pick_rm.value), betas)
        ms = 1000 * (time.perf_counter() - t0)
        style = {b: BETAS.index(b) for b in BETAS}
        for key, chart in charts.items():
            chart.show(
                [
                    Series(f"beta {b:g}", list(zip(h_["step"], h_[key], strict=True)), style[b])
                    for b, h_ in histories.items()
                ]
            )
        ends = [
            (h_["kl"][-1], h_["proxy_reward"][-1], h_["gold_reward"][-1])
            for h_ in histories.values()
        ]
        final.show(
            [
                Series("final proxy reward", [(kl, p) for kl, p, _ in ends], 0),
                Series("final gold reward", [(kl, g) for kl, _, g in ends], 1, "y2"),
            ]
        )
        for b in BETAS:
            for key, name in (("proxy", "proxy_reward"), ("gold", "gold_reward"), ("kl", "kl")):
                if b in histories:
                    v = histories[b][name][-1]
                    w.set(f"{key}-{b:g}", v, f"{v:.3f}")
                else:
                    w.set(f"{key}-{b:g}", "", "not run")
        w.set("verdict", summary(histories)["sentence"])
        w.set(
            "sweep-ms",
            ms,
            f"Computed {len(betas)} runs x {STEPS} steps in your browser in {ms:.0f} ms.",
        )

    w.on(run, "click", run_sweep)
    run_sweep(None)  # the default sweep (every beta) at once: ~0.1 s, no empty charts
