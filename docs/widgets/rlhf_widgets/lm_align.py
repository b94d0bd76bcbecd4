"""Align the tiny language model in the page: PPO or DPO, live, with its samples.

UI only. A run is :class:`rlhf_mini.LMPPORun` (PPO against a shipped reward model, faithful
or verbosity-loving) or :class:`rlhf_mini.LMDPORun` (DPO on that reward model's own
comparisons, the first 256 of its training pairs, from the shipped alignment record), both
starting from the shipped SFT model. A run advances by ``slices()``: each slice is one
sampled token, one transformer block's forward or backward pass (at most a few tens of
milliseconds in Pyodide). The widget runs slices for about ``FRAME_BUDGET`` per animation
frame and then lets the page paint and answer clicks, so Stop is answered within a frame;
Resume continues the same run, Train starts a new one (the old one is dropped).

On arrival the widget shows the library's recorded run (the shipped record,
:func:`rlhf_mini.load_alignment_record`): PPO with beta = 0.01 against the verbosity-loving
reward model, 300 iterations, whose gold utility peaks and falls; the reader's own run
replaces it. A table keeps one row per run (the record's runs first), so runs with
different settings can be compared.

The pure parts (:func:`make_run`, :func:`trailing_mean`, :func:`summary`, :func:`runs_table`)
are tested in CPython (tests/test_widget_logic.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rlhf_mini import (
    LanguageModel,
    LMDPOConfig,
    LMDPORun,
    LMPPOConfig,
    LMPPORun,
    TextComparisons,
    load_alignment_record,
    load_language_model,
)
from rlhf_mini.trainers.lm_samples import REWARD_MODELS, SAMPLE_PROMPTS

if TYPE_CHECKING:
    from rlhf_widgets._dom import Widget

SELECT_STYLE = "color: var(--md-default-fg-color); background: var(--md-default-bg-color);"
METHODS = {"ppo": "PPO against the reward model", "dpo": "DPO on its comparisons"}
#: KL weights offered per method: PPO's per-token weight (0.01-0.2 in practice), DPO's beta.
BETAS = {"ppo": (0.01, 0.05, 0.2), "dpo": (0.1, 0.3, 1.0)}
RM_LABELS = {
    "faithful": "faithful labellers",
    "verbose": "labellers who love long answers",
}
#: Iterations (PPO) or steps (DPO) of a reader's run: the record's PPO runs are 300 long.
STEPS = {"ppo": 300, "dpo": 200}
#: The arrival run: the record's PPO run against the verbosity-loving reward model.
DEFAULTS = {"method": "ppo", "beta": 0.01, "reward_model": "verbose"}
#: Seconds of work per animation frame before the page may paint and answer clicks. A slice
#: (one transformer block's forward or backward pass, one sampled token) takes at most about
#: 40 ms in Pyodide on a busy 2-core machine, so a click waits at most about 70 ms; longer
#: frames would train faster but answer later, shorter ones spend more time painting.
FRAME_BUDGET = 0.030
#: Points of the trailing mean the charts draw (a rollout of 16 responses is noisy).
WINDOW = 10
#: The history entries the charts and the table show.
CURVES = ("proxy_reward", "gold_utility", "kl", "response_length")

_MODELS: dict[str, LanguageModel] = {}


def models() -> dict[str, LanguageModel]:
    """The shipped SFT model and both reward models (float32), loaded once per page."""
    if not _MODELS:
        for stage in ("sft", *REWARD_MODELS.values()):
            _MODELS[stage] = load_language_model(stage, dtype="float32")
    return _MODELS


def record_pairs(record: dict[str, Any], reward_model: str) -> TextComparisons:
    """The record's 256 comparisons labelled by the labellers behind ``reward_model``."""
    p = record["pairs"][reward_model]
    return TextComparisons(p["prompt_ids"], p["prompts"], p["chosen"], p["rejected"])


def make_run(
    method: str,
    beta: float,
    reward_model: str,
    record: dict[str, Any],
    *,
    steps: int | None = None,
    seed: int = 0,
) -> LMPPORun | LMDPORun:
    """The run the controls describe, from the shipped SFT model (policy and reference)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {tuple(METHODS)}, got {method!r}")
    m = models()
    common = {
        "policy": m["sft"],
        "reference": m["sft"],
        "reward_model": m[REWARD_MODELS[reward_model]],
        "beta": float(beta),
        "steps": STEPS[method] if steps is None else steps,
        "seed": seed,
    }
    # The models are passed already loaded; the config records which reward model they are.
    if method == "ppo":
        return LMPPORun(LMPPOConfig(reward_model=reward_model), **common)
    return LMDPORun(
        record_pairs(record, reward_model), LMDPOConfig(reward_model=reward_model), **common
    )


def trailing_mean(steps: list[int], values: list[float], window: int = WINDOW) -> list:
    """(step, mean of the last ``window`` values up to it) for every step."""
    out, total = [], 0.0
    for i, (s, v) in enumerate(zip(steps, values, strict=True)):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append((s, total / min(i + 1, window)))
    return out


def summary(history: dict[str, list[float]], dpo: bool = False) -> dict[str, float]:
    """The end of a run: ``step``, the iterations (steps, for DPO) done, and each curve's
    mean over the last ``WINDOW`` iterations (PPO's rollouts are noisy) or, for DPO, its
    last measurement. (PPO's history entry k measures the rollout of iteration k + 1.)"""
    n = 1 if dpo else min(WINDOW, len(history["step"]))
    done = history["step"][-1] + (0 if dpo else 1)
    return {"step": done, **{k: sum(history[k][-n:]) / n for k in CURVES}}


def runs_table(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's runs as table rows: method, beta, reward model, steps, and the ends of
    their curves (:func:`summary`; DPO's last measurement)."""
    rows = []
    for rm_name, by_beta in record["ppo"].items():
        for beta, run in by_beta.items():
            rows.append(
                {"method": "ppo", "beta": float(beta), "reward_model": rm_name, "source": "site"}
                | summary(run["history"])
            )
    for rm_name, run in record["dpo"].items():
        rows.append(
            {
                "method": "dpo",
                "beta": run["config"]["beta"],
                "reward_model": rm_name,
                "source": "site",
            }
            | summary(run["history"], dpo=True)
        )
    return rows


def build(w: Widget) -> Any:
    """The widget's first part at once; the rest once the weights are in (a coroutine)."""
    from rlhf_widgets import _deferred
    from rlhf_widgets._dom import h

    status = h("p", "Loading the language model…", data_output="status", role="status")
    w.body.append(status)

    async def finish() -> None:
        await _deferred.installed()
        _build(w, status)

    return finish()


def _build(w: Widget, status: Any) -> None:
    import js

    from rlhf_widgets._chart import Chart, Series
    from rlhf_widgets._dom import h, readouts, scroll_box

    js.rlhfRuntime.mark("lm-align weights in")
    record = load_alignment_record()
    js.rlhfRuntime.mark("lm-align record read")
    arrival = record["ppo"][DEFAULTS["reward_model"]][f"{DEFAULTS['beta']:g}"]

    def select(action: str, label: str, options: Any, value: Any) -> Any:
        el = h("select", data_action=action, aria_label=label, style=SELECT_STYLE)
        for key, text in options:
            el.appendChild(h("option", text, value=str(key)))
        el.value = str(value)
        return el

    method = select("method", "Method", METHODS.items(), DEFAULTS["method"])
    beta = select(
        "beta", "KL weight beta", [(b, f"beta = {b:g}") for b in BETAS["ppo"]], DEFAULTS["beta"]
    )
    rm_select = select(
        "reward-model",
        "Reward model (or, for DPO, whose comparisons)",
        [(k, f"reward model of {v}") for k, v in RM_LABELS.items()],
        DEFAULTS["reward_model"],
    )
    train = h("button", "Train", type="button", class_="md-button", data_action="train")
    stop = h("button", "Stop", type="button", class_="md-button", data_action="stop")
    resume = h("button", "Resume", type="button", class_="md-button", data_action="resume")

    cards = {}
    for pid in SAMPLE_PROMPTS:
        cards[pid] = {
            "prompt": h("p", "", class_="rlhf-sample-prompt"),
            "text": h("p", "", data_output=f"sample-{pid}", class_="rlhf-sample-text"),
            "scores": h("p", "", class_="rlhf-run-status"),
        }
    samples_box = h(
        "div",
        h("p", "", data_output="samples-step", class_="rlhf-label"),
        *[
            h("div", c["prompt"], c["text"], c["scores"], class_="rlhf-sample")
            for c in cards.values()
        ],
        class_="rlhf-samples",
        aria_live="polite",
    )
    rewards = Chart(
        "Proxy reward (what training sees) and gold utility (what people want)",
        "iteration",
        "proxy reward",
        y2_label="gold utility",
        name="rewards",
    )
    drift = Chart(
        "Drift from the SFT model", "iteration", "KL (nats)", y2_label="tokens", name="drift"
    )
    charts = h(
        "div",
        rewards.element,
        drift.element,
        style="display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr));"
        " gap: 0.8rem;",
    )
    values = readouts(
        (
            ("iteration", "Iteration"),
            ("proxy", "Proxy reward (last 10)"),
            ("gold", "Gold utility (last 10)"),
            ("kl", "KL to SFT, nats (last 10)"),
            ("length", "Response length, tokens (last 10)"),
        )
    )
    table_body = h("tbody", data_output="runs")
    table = h(
        "table",
        h(
            "thead",
            h(
                "tr",
                *[
                    h("th", t)
                    for t in (
                        "run",
                        "method",
                        "beta",
                        "reward model",
                        "steps",
                        "proxy",
                        "gold",
                        "KL",
                        "length",
                    )
                ],
            ),
        ),
        table_body,
    )
    w.body.append(
        h("div", method, beta, rm_select, class_="rlhf-row"),
        h("div", train, stop, resume, class_="rlhf-row"),
        samples_box,
        charts,
        values,
        h(
            "label",
            "Runs (the first ones are the library's recorded runs)",
            class_="rlhf-label",
        ),
        scroll_box(table, "Runs: their settings and where they ended"),
    )

    live: dict[str, Any] = {"run": None, "gen": None, "frame": None, "settings": None, "ms": []}
    table_rows = runs_table(record)
    n_site = len(table_rows)

    def set_state(state: str, text: str) -> None:
        w.root.setAttribute("data-training", state)
        stop.disabled = state != "running"
        resume.disabled = state != "stopped"
        w.set("status", state, text)

    def show_samples(snapshot: dict[str, Any]) -> None:
        w.set("samples-step", snapshot["step"], f"Samples after {snapshot['step']} iterations")
        for r in snapshot["responses"]:
            card = cards[r["prompt_id"]]
            card["prompt"].textContent = r["prompt"]
            w.set(f"sample-{r['prompt_id']}", r["text"])
            card["scores"].textContent = (
                f"proxy {r['proxy_reward']:+.2f} · gold {r['gold_utility']:.2f} · "
                f"{r['tokens']} tokens"
            )

    def show_history(history: dict[str, list[float]], steps: int, dpo: bool) -> None:
        x = history["step"]

        def curve(key: str) -> list:
            return (
                list(zip(x, history[key], strict=True)) if dpo else trailing_mean(x, history[key])
            )

        rewards.x_range(0, steps)
        drift.x_range(0, steps)
        rewards.show(
            [
                Series("proxy reward", curve("proxy_reward"), 0),
                Series("gold utility", curve("gold_utility"), 1, "y2"),
            ],
            animate=False,
        )
        drift.show(
            [
                Series("KL to SFT", curve("kl"), 2),
                Series("response length", curve("response_length"), 3, "y2"),
            ],
            animate=False,
        )
        end = summary(history, dpo)
        w.set("iteration", end["step"], f"{end['step']} of {steps}")
        w.set("proxy", end["proxy_reward"], f"{end['proxy_reward']:.3f}")
        w.set("gold", end["gold_utility"], f"{end['gold_utility']:.3f}")
        w.set("kl", end["kl"], f"{end['kl']:.2f}")
        w.set("length", end["response_length"], f"{end['response_length']:.1f}")

    def show_table() -> None:
        rows = []
        for i, row in enumerate(table_rows):
            label = "built with the site" if i < n_site else f"your run {i - n_site + 1}"
            rows.append(
                h(
                    "tr",
                    h("td", label),
                    h("td", row["method"].upper()),
                    h("td", f"{row['beta']:g}"),
                    h("td", row["reward_model"]),
                    h("td", str(row["step"]), data_key="step", data_value=str(row["step"])),
                    *[
                        h("td", f"{row[k]:.2f}", data_key=k, data_value=repr(row[k]))
                        for k in CURVES
                    ],
                    data_run=str(i),
                    data_source="site" if i < n_site else "reader",
                    data_method=row["method"],
                    data_beta=f"{row['beta']:g}",
                    data_reward_model=row["reward_model"],
                )
            )
        table_body.replaceChildren(*rows)
        table_body.setAttribute("data-value", str(len(table_rows)))

    def record_row() -> None:
        """The reader's run in the table (one row per run, updated as it goes)."""
        run, settings = live["run"], live["settings"]
        if run is None or not run.history["step"]:
            return
        dpo = settings["method"] == "dpo"
        row = {**settings, "source": "reader"} | summary(run.history, dpo)
        if live.get("row") is None:
            live["row"] = len(table_rows)
            table_rows.append(row)
        else:
            table_rows[live["row"]] = row
        show_table()

    def frame(timestamp: Any) -> None:
        gen, run = live["gen"], live["run"]
        if gen is None:
            return
        start = time.perf_counter()
        changed = sampled = False
        while True:
            t0 = time.perf_counter()
            event = next(gen, None)
            live["ms"].append(1000 * (time.perf_counter() - t0))
            if event is None:
                break
            if event in ("iteration", "measured"):
                changed = True
            if event in ("samples", "measured"):
                sampled = True
            if time.perf_counter() - start > FRAME_BUDGET:
                break
        frame_ms = 1000 * (time.perf_counter() - start)
        if frame_ms > live.get("frame_max", 0.0):  # for bench/browser.py
            live["frame_max"] = frame_ms
            w.root.setAttribute("data-frame-max-ms", f"{frame_ms:.1f}")
            w.root.setAttribute("data-slice-max-ms", f"{max(live['ms']):.1f}")
        if sampled and run.samples:
            show_samples(run.samples[-1])
        if changed:
            show_history(run.history, run.config.steps, live["settings"]["method"] == "dpo")
            record_row()
        if event is None:
            live["gen"] = live["frame"] = None
            set_state(
                "done",
                f"Done: {run.iteration} of {run.config.steps}. Train again, or change the settings.",
            )
            return
        live["frame"] = js.requestAnimationFrame(step_proxy)
        what = "iteration" if live["settings"]["method"] == "ppo" else "step"
        set_state("running", f"Training: {what} {run.iteration} of {run.config.steps}…")

    step_proxy = w.proxy(frame)

    def cancel() -> None:
        if live["frame"] is not None:
            js.cancelAnimationFrame(live["frame"])
        live["frame"] = None

    def on_train(evt: Any) -> None:
        cancel()
        settings = {
            "method": str(method.value),
            "beta": float(beta.value),
            "reward_model": str(rm_select.value),
        }
        run = make_run(settings["method"], settings["beta"], settings["reward_model"], record)
        live.update(run=run, gen=run.slices(), settings=settings, row=None, ms=[], frame_max=0.0)
        # the arrival run (or the previous run) leaves the charts and read-outs
        rewards.show([], animate=False)
        drift.show([], animate=False)
        w.set("iteration", 0, f"0 of {run.config.steps}")
        for name in ("proxy", "gold", "kl", "length"):
            w.set(name, "", "–")
        set_state("running", "Training: starting…")
        live["frame"] = js.requestAnimationFrame(step_proxy)

    def on_stop(evt: Any) -> None:
        if live["gen"] is None:
            return
        cancel()
        run = live["run"]
        set_state(
            "stopped",
            f"Stopped at {run.iteration} of {run.config.steps}. Resume, or Train a new run.",
        )

    def on_resume(evt: Any) -> None:
        if live["gen"] is None or live["frame"] is not None:
            return
        set_state("running", "Training: resuming…")
        live["frame"] = js.requestAnimationFrame(step_proxy)

    def on_method(evt: Any) -> None:
        options = BETAS[str(method.value)]
        beta.replaceChildren(*[h("option", f"beta = {b:g}", value=str(b)) for b in options])
        beta.value = str(options[0])

    w.on(train, "click", on_train)
    w.on(stop, "click", on_stop)
    w.on(resume, "click", on_resume)
    w.on(method, "change", on_method)

    # arrival: the library's recorded run (shipped, made by lm-alignment --out)
    show_history(arrival["history"], arrival["config"]["steps"], dpo=False)
    show_samples(arrival["samples"][-1])
    show_table()
    js.rlhfRuntime.mark("lm-align arrival drawn")
    set_state(
        "arrival",
        "Shown: the library's recorded run (PPO, beta = 0.01, the reward model of "
        "labellers who love long answers, 300 iterations). Press Train for your own.",
    )
