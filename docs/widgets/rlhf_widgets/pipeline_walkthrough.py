"""The ``pipeline`` widget: the RLHF pipeline as a six-step walkthrough (previous / next).

UI only: :func:`rlhf_mini.run_pipeline` runs once (its defaults, the numbers the lesson
quotes) and each step shows that stage's summary, metrics and what the model at that stage
answers to the showcase prompts. :func:`stage_view` (pure, tested in CPython in
tests/test_widget_logic.py) turns a stage into the labelled text the widget shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rlhf_mini import PipelineStage, load_world

if TYPE_CHECKING:
    from rlhf_widgets._dom import Widget

METRIC_LABELS = {
    "gold_reward": "Gold utility (what people want), mean over prompts",
    "best_response_rate": "Probability of the best response",
    "kl_to_base": "KL to the base model (nats)",
    "n_comparisons": "Comparisons collected",
    "label_gold_agreement": "Labels agreeing with the gold utility",
    "heldout_accuracy": "Held-out accuracy",
    "train_accuracy": "Train accuracy",
    "gold_pair_accuracy": "Pairs ordered like the gold utility",
    "proxy_reward": "Reward-model score (proxy)",
    "kl_to_sft": "KL to the SFT model (nats)",
    "win_rate_vs_base": "Win rate against the base model (gold judge)",
    "win_rate_vs_sft": "Win rate against the SFT model (gold judge)",
}
PERCENT = {
    "best_response_rate",
    "label_gold_agreement",
    "heldout_accuracy",
    "train_accuracy",
    "gold_pair_accuracy",
    "win_rate_vs_base",
    "win_rate_vs_sft",
}
#: Behaviour rates shown at every policy stage (the rest are in the library's metrics).
BEHAVIOURS = (
    "complies_harmful",
    "verbose_repetitive",
    "confidently_wrong",
    "toxic_biased",
    "clear_concise",
)


def _format(name: str, value: float) -> str:
    if name == "n_comparisons":
        return f"{value:.0f}"
    if name in PERCENT or name.startswith("p_"):
        return f"{value:.1%}"
    return f"{value:.2f}"


def stage_view(stage: PipelineStage) -> dict[str, Any]:
    """What one step shows: title, summary, (label, text) metrics, and the samples."""
    behaviours = load_world().behaviours
    metrics = [
        (METRIC_LABELS.get(name, name), _format(name, value))
        for name, value in stage.metrics.items()
        if not name.startswith("p_")
    ]
    metrics += [
        (f"P({b}): {behaviours[b]}", _format(f"p_{b}", stage.metrics[f"p_{b}"]))
        for b in BEHAVIOURS
        if f"p_{b}" in stage.metrics
    ]
    if stage.name == "reward_model":
        caption = "The reward model's favourite response"
    elif stage.name == "preferences":
        caption = "The SFT model's most likely response (unchanged while labels are collected)"
    else:
        caption = "The model's most likely response"
    samples = [
        {
            "prompt": s["prompt"],
            "response": s["response"],
            "note": f"{caption}: {s['behaviour']}"
            + ("" if stage.name == "reward_model" else f", probability {s['probability']:.2f}"),
        }
        for s in stage.samples
    ]
    extra = []
    for ex in stage.extra.get("examples", []):
        extra.append(f"“{ex['prompt']}”: chosen “{ex['chosen']}” over “{ex['rejected']}”")
    for feature, weight in stage.extra.get("weights", {}).items():
        extra.append(f"weight of {feature}: {weight:+.2f}")
    return {
        "title": stage.title,
        "summary": stage.summary,
        "metrics": metrics,
        "samples": samples,
        "extra": extra,
    }


def build(w: Widget) -> None:
    from rlhf_mini import run_pipeline
    from rlhf_widgets._dom import h

    views = [stage_view(s) for s in run_pipeline().stages]  # computed once
    state = {"step": 0}
    prev = h("button", "Previous", type="button", class_="md-button", data_action="prev")
    nxt = h("button", "Next", type="button", class_="md-button", data_action="next")
    counter = h("span", "", data_output="step", role="status", aria_live="polite")
    title = h("h3", "", data_output="title")
    summary = h("p", "", data_output="summary")
    metrics = h("dl", class_="rlhf-readouts", data_output="metrics")
    samples = h("div", data_output="samples")
    extra = h("ul", data_output="extra")
    w.body.append(
        h("div", prev, nxt, counter, class_="rlhf-row", style="align-items: center;"),
        title,
        summary,
        metrics,
        samples,
        extra,
    )

    def show() -> None:
        i = state["step"]
        v = views[i]
        w.set("step", i + 1, f"Step {i + 1} of {len(views)}")
        w.set("title", v["title"])
        w.set("summary", v["summary"])
        rows = []
        for label, text in v["metrics"]:
            rows += [h("dt", label), h("dd", text)]
        metrics.replaceChildren(*rows)
        samples.replaceChildren(
            *[
                h(
                    "div",
                    h("p", f"Prompt: {s['prompt']}", class_="rlhf-label"),
                    h("p", s["response"], class_="rlhf-revised"),
                    h("p", s["note"]),
                )
                for s in v["samples"]
            ]
        )
        extra.replaceChildren(*[h("li", line) for line in v["extra"]])
        prev.disabled = i == 0
        nxt.disabled = i == len(views) - 1

    def move(delta: int) -> None:
        state["step"] = min(max(state["step"] + delta, 0), len(views) - 1)
        show()

    w.on(prev, "click", lambda evt: move(-1))
    w.on(nxt, "click", lambda evt: move(+1))
    show()
