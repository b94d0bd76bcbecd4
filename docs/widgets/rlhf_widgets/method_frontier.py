"""Method frontier: PPO, GRPO, RLOO, best-of-n and DPO on one world, gold reward against KL.

UI only. :func:`rlhf_mini.compare_methods` trains every method on the same simulated
comparisons (DPO on the comparisons, the others on a reward model fitted to them) over a
range of its knob (beta, or n for best-of-n) and returns, for each run, the exact KL to the
SFT reference and the gold reward; the ceiling is the most gold reward any policy reaches at
each KL. The reader picks the labellers (faithful, or fond of long answers as in lesson 7)
and the seed of the data. The pure parts (:func:`run`, :func:`best_points`, :func:`summary`)
are tested in CPython (tests/test_widget_logic.py).

Budget: everything is recomputed in the browser on each change; bench/training.py keeps the
whole comparison near 0.2 s in CPython, so under a second in Pyodide (the browser test prints
the time). The run starts on the next animation frame, after the page shows "Computing", and
a newer request replaces one still waiting.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rlhf_mini import MethodComparison, compare_methods

if TYPE_CHECKING:
    from rlhf_widgets._dom import Widget

#: The labellers the comparisons come from: name -> (menu text, verbosity bias).
LABELLERS = {
    "faithful": ("faithful labellers", 0.0),
    "verbose": ("labellers who like long answers (lesson 7)", 3.0),
}
SEEDS = (0, 1, 2, 3, 4)
NAMES = {"ppo": "PPO", "grpo": "GRPO", "rloo": "RLOO", "best_of_n": "best-of-n", "dpo": "DPO"}
#: The chart's style index of each method (colour, dash, marker), and of the ceiling.
STYLES = {"ppo": 0, "grpo": 1, "rloo": 2, "best_of_n": 3, "dpo": 5, "ceiling": 4}
#: A drop in gold reward from a method's best point to its strongest-pressure point larger
#: than this counts as overoptimisation in the summary.
DROP = 0.05
SELECT_STYLE = "color: var(--md-default-fg-color); background: var(--md-default-bg-color);"


def run(labellers: str = "faithful", seed: int = 0) -> MethodComparison:
    """The widget's computation: every method on comparisons from ``labellers``."""
    if labellers not in LABELLERS:
        raise ValueError(f"labellers must be one of {tuple(LABELLERS)}, got {labellers!r}")
    return compare_methods(verbosity_bias=LABELLERS[labellers][1], seed=seed)


def knob_text(method: str, points: list[dict[str, float]]) -> str:
    """What the method's points vary: "beta 1, 0.3, 0.1" or "n 2, 4, ..., 32"."""
    name = "n" if method == "best_of_n" else "beta"
    return f"{name} " + ", ".join(f"{p['knob']:g}" for p in points)


def best_points(res: MethodComparison) -> dict[str, dict[str, float]]:
    """Each method's point with the most gold reward."""
    return {m: max(pts, key=lambda p: p["gold_reward"]) for m, pts in res.points.items()}


def summary(res: MethodComparison) -> str:
    """What the chart shows, in two sentences: how close each method comes to the ceiling,
    and which methods lost gold reward by optimising harder."""
    gaps = {}
    for method, pts in res.points.items():
        below = [res.gold_at_kl("ceiling", p["kl"]) - p["gold_reward"] for p in pts]
        gaps[method] = sum(max(0.0, g) for g in below) / len(below)
    closest, furthest = min(gaps, key=gaps.get), max(gaps, key=gaps.get)
    parts = [
        f"Closest to the ceiling: {NAMES[closest]} ({gaps[closest]:.2f} below it on average); "
        f"furthest: {NAMES[furthest]} ({gaps[furthest]:.2f})."
    ]
    dropped = [
        NAMES[m]
        for m, pts in res.points.items()
        if max(p["gold_reward"] for p in pts) - pts[-1]["gold_reward"] > DROP
    ]
    if dropped:
        parts.append(
            f"Optimising harder lowered the gold reward of {', '.join(dropped)}: the labels "
            "reward length, which people do not want, and more pressure finds more of it."
        )
    else:
        parts.append("No method lost gold reward by optimising harder: the labels are faithful.")
    return " ".join(parts)


def build(w: Widget) -> None:
    import js

    from rlhf_widgets._chart import Chart, Series
    from rlhf_widgets._dom import h, scroll_box

    labellers = h("select", data_action="labellers", aria_label="Labellers", style=SELECT_STYLE)
    for name, (text, _) in LABELLERS.items():
        labellers.appendChild(h("option", text, value=name))
    seed = h("select", data_action="seed", aria_label="Seed of the data", style=SELECT_STYLE)
    for s in SEEDS:
        seed.appendChild(h("option", f"data seed {s}", value=str(s)))
    shown = {}
    toggles = h("fieldset", h("legend", "Show"), class_="rlhf-row")
    for method, label in NAMES.items():
        box = h("input", type="checkbox", checked=True, data_action=f"show-{method}")
        shown[method] = box
        toggles.appendChild(h("label", box, f" {label}", style="margin-right: 1rem;"))
    status = h("p", "", data_output="status", role="status")
    chart = Chart(
        "Gold reward against KL to the SFT model",
        "KL(π ‖ π_SFT), nats",
        "gold reward",
        kind="scatter",
        name="frontier",
        height=300,
    )
    body = h("tbody")
    for method, label in NAMES.items():
        body.appendChild(
            h(
                "tr",
                h("th", label, scope="row"),
                h("td", "", data_output=f"knob-{method}"),
                h("td", "", data_output=f"gold-{method}"),
                h("td", "", data_output=f"kl-{method}"),
            )
        )
    table = h(
        "table",
        h(
            "thead",
            h(
                "tr",
                h("th", "Method"),
                h("th", "Knob"),
                h("th", "Best gold reward"),
                h("th", "at KL (nats)"),
            ),
        ),
        body,
    )
    verdict = h("p", "", data_output="verdict", aria_live="polite")
    timing = h("p", "", data_output="ms", class_="rlhf-run-status")
    w.body.append(
        h("div", labellers, seed, class_="rlhf-row"),
        toggles,
        status,
        chart.element,
        scroll_box(table, "Each method's best point"),
        h("p", "", data_output="reference"),
        verdict,
        timing,
    )
    state: dict[str, Any] = {"result": None, "pending": 0}

    def draw() -> None:
        res = state["result"]
        series = [  # the ceiling starts at the SFT reference (KL 0)
            Series(
                "ceiling (best possible), from the SFT model",
                [(0.0, res.reference_gold)] + [(p["kl"], p["gold_reward"]) for p in res.ceiling],
                STYLES["ceiling"],
                line=True,
                markers=False,
            )
        ]
        for method, pts in res.points.items():
            if shown[method].checked:
                series.append(
                    Series(
                        NAMES[method],
                        [(p["kl"], p["gold_reward"]) for p in sorted(pts, key=lambda p: p["kl"])],
                        STYLES[method],
                        line=True,
                    )
                )
        chart.show(series)

    def show(res: MethodComparison, ms: float) -> None:
        state["result"] = res
        draw()
        for method, p in best_points(res).items():
            knob = "n" if method == "best_of_n" else "beta"
            w.set(f"knob-{method}", p["knob"], f"{knob_text(method, res.points[method])}")
            w.set(
                f"gold-{method}", p["gold_reward"], f"{p['gold_reward']:.3f} ({knob} {p['knob']:g})"
            )
            w.set(f"kl-{method}", p["kl"], f"{p['kl']:.3f}")
        w.set(
            "reference",
            res.reference_gold,
            f"SFT reference: gold reward {res.reference_gold:.3f} at KL 0; best response of every "
            f"prompt: {res.best_gold:.3f}.",
        )
        w.set("verdict", summary(res))
        cfg = res.config
        w.set(
            "ms",
            ms,
            f"Computed {sum(len(p) for p in res.points.values())} runs on "
            f"{cfg['n_comparisons']} comparisons in your browser in {ms:.0f} ms.",
        )
        w.set("status", "done", "")

    def compute(request: int) -> None:
        if request != state["pending"]:
            return  # a newer request replaced this one
        t0 = time.perf_counter()
        res = run(str(labellers.value), int(seed.value))
        show(res, 1000 * (time.perf_counter() - t0))

    def request(evt: Any = None) -> None:
        state["pending"] += 1
        ticket = state["pending"]
        w.set("status", "computing", "Computing every method…")
        js.requestAnimationFrame(w.proxy(lambda ts: compute(ticket)))

    w.on(labellers, "change", request)
    w.on(seed, "change", request)
    for box in shown.values():
        w.on(box, "change", lambda evt: draw() if state["result"] is not None else None)
    t0 = time.perf_counter()
    show(run(), 1000 * (time.perf_counter() - t0))  # the default run at once: no empty chart
