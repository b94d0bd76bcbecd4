"""PPO sweep over the KL weight beta, against a flawed proxy reward model.

UI only. The proxy is :func:`rlhf_mini.proxy_reward_model` (a reward model fitted to
labellers who like verbosity), each run is :func:`rlhf_mini.train_ppo` with the chosen
beta, and the charts plot its history: proxy reward, gold reward (the world's hidden
utility) and KL to the SFT reference per step. The pure parts (:func:`sweep`,
:func:`overoptimization_summary`) are tested in CPython (tests/test_widget_logic.py).

Budget: the whole sweep (five betas) must compute in about a second in Pyodide, so each
run is ``STEPS`` PPO iterations (measured by bench/browser.py; the widget shows the count
and the time it took). It is that fast (about 0.1 s), so the widget runs the default sweep
as it mounts: the reader never meets empty charts.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from rlhf_mini import train_ppo
from rlhf_mini.overoptimization import proxy_reward_model

if TYPE_CHECKING:
    from rlhf_widgets._dom import Widget

#: The range used for language models (0.01-0.2), plus 1.0: in this world's reward units
#: (candidates differ by several reward points) beta is a temperature, and only beta ~ 1
#: holds the policy visibly close to the SFT model (lesson 4, "Choosing beta").
BETAS = (0.01, 0.05, 0.1, 0.2, 1.0)
STEPS = 60
LR = 0.3  # constant step size: the rise and fall of the gold reward shows within STEPS
LOG_EVERY = 2
#: A fall of the gold reward below its peak by more than this counts as overoptimisation.
DROP_TOL = 0.01


def sweep(proxy: np.ndarray, betas: Any, steps: int = STEPS, seed: int = 0) -> dict[float, dict]:
    """One PPO run per beta against the (P, K) proxy reward table: beta -> history."""
    return {
        float(beta): train_ppo(
            proxy,
            beta=float(beta),
            steps=steps,
            lr=LR,
            anneal_lr=False,
            seed=seed,
            log_every=LOG_EVERY,
        ).history
        for beta in betas
    }


def overoptimization_summary(histories: dict[float, dict]) -> dict[str, Any]:
    """Where more proxy reward stopped meaning more gold reward, for the smallest beta.

    Returns beta, the peak (step, gold, proxy, kl), the end (step, gold, proxy, kl),
    ``overoptimised`` (gold fell by more than ``DROP_TOL`` after its peak while the proxy
    kept rising) and a sentence saying so.
    """
    if not histories:
        raise ValueError("histories must not be empty")
    beta = min(histories)
    h = histories[beta]
    i = int(np.argmax(h["gold_reward"]))
    peak = {key: h[key][i] for key in ("step", "gold_reward", "proxy_reward", "kl")}
    end = {key: h[key][-1] for key in ("step", "gold_reward", "proxy_reward", "kl")}
    overoptimised = (
        peak["gold_reward"] - end["gold_reward"] > DROP_TOL
        and end["proxy_reward"] > peak["proxy_reward"]
    )
    if overoptimised:
        sentence = (
            f"With beta = {beta:g}, the gold reward peaked at {peak['gold_reward']:.2f} after "
            f"{peak['step']:g} steps (proxy {peak['proxy_reward']:.2f}, KL "
            f"{peak['kl']:.2f} nats). Past that point the proxy kept rising, to "
            f"{end['proxy_reward']:.2f}, while the gold reward fell to {end['gold_reward']:.2f}: "
            "more reward stopped meaning better behaviour."
        )
    else:
        sentence = (
            f"With beta = {beta:g}, the gold reward rose with the proxy for all "
            f"{end['step']:g} steps (gold {end['gold_reward']:.2f}, proxy "
            f"{end['proxy_reward']:.2f}): no overoptimisation yet."
        )
    return {
        "beta": beta,
        "peak": peak,
        "end": end,
        "overoptimised": overoptimised,
        "sentence": sentence,
    }


def build(w: Widget) -> None:
    from rlhf_widgets._chart import Chart, Series
    from rlhf_widgets._dom import h, scroll_box

    proxy = proxy_reward_model().score_table()  # (P, K): the flawed reward PPO optimises
    boxes = {}
    choose = h(
        "fieldset",
        h("legend", "KL weights beta to run (0.01-0.2 as for language models; 1.0 a strong leash)"),
        class_="rlhf-row",
    )
    for beta in BETAS:
        box = h("input", type="checkbox", checked=True, data_action=f"beta-{beta:g}")
        boxes[beta] = box
        choose.appendChild(h("label", box, f" {beta:g}", style="margin-right: 1rem;"))
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
        "proxy_reward": Chart("Proxy reward (what PPO sees)", "step", "proxy reward", name="proxy"),
        "gold_reward": Chart("Gold reward (what people want)", "step", "gold reward", name="gold"),
        "kl": Chart("KL to the SFT model", "step", "KL (nats)", name="kl"),
    }
    final = Chart(
        "Final points: reward against KL", "KL (nats)", "reward", kind="scatter", name="final"
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
        histories = sweep(proxy, betas)
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
                Series("final gold reward", [(kl, g) for kl, _, g in ends], 1),
            ]
        )
        for b in BETAS:
            for key, name in (("proxy", "proxy_reward"), ("gold", "gold_reward"), ("kl", "kl")):
                if b in histories:
                    v = histories[b][name][-1]
                    w.set(f"{key}-{b:g}", v, f"{v:.3f}")
                else:
                    w.set(f"{key}-{b:g}", "", "not run")
        w.set("verdict", overoptimization_summary(histories)["sentence"])
        w.set(
            "sweep-ms",
            ms,
            f"Computed {len(betas)} runs x {STEPS} steps in your browser in {ms:.0f} ms.",
        )

    w.on(run, "click", run_sweep)
    run_sweep(None)  # the default sweep (every beta) at once: ~0.1 s, no empty charts
