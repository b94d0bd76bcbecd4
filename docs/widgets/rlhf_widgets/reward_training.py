"""Reward-model training: fit the Bradley–Terry reward model and watch it learn, live.

UI only; the data are :func:`rlhf_mini.simulate_comparisons`, the model
:func:`rlhf_mini.reward_model_training` (full-batch gradient descent on the Bradley–Terry
loss, one snapshot per epoch), the table :meth:`rlhf_mini.RewardModel.score_table` next to
the world's hidden gold utility. Training runs a few epochs per animation frame, and the
chart, read-outs and table show the model of the latest epoch, so the reader watches the
loss fall and the learned rewards sort themselves. The pure parts (:func:`training`,
:func:`train`, :func:`sample_rows`) are tested in CPython (tests/test_widget_logic.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rlhf_mini import RewardModelResult, load_world, reward_model_training, simulate_comparisons

#: Selects follow Material's light/dark colours (the browser default is always light).
SELECT_STYLE = "color: var(--md-default-fg-color); background: var(--md-default-bg-color);"

if TYPE_CHECKING:
    from rlhf_widgets._dom import Widget

SIZES = (50, 200, 1000)
#: Label noise: the labellers' Bradley–Terry temperature.
NOISE = (("low", 0.25), ("medium", 1.0), ("high", 4.0))
EPOCHS = 100
#: Epochs trained per animation frame: 100 epochs take 50 frames (about 0.8 s at 60 Hz).
EPOCHS_PER_FRAME = 2
#: The reward models on offer: label -> ``hidden`` (None: linear in the features).
MODELS = (("linear", None), ("MLP, 8 tanh units", 8))
DEFAULTS = {"n": 200, "noise": "medium", "seed": 0, "model": "linear"}


def training(
    n: int, temperature: float, seed: int = 0, hidden: int | None = None
) -> Iterator[RewardModelResult]:
    """Simulate ``n`` comparisons; the reward model fitted to them, one result per epoch."""
    comparisons = simulate_comparisons(n, seed, temperature=temperature)
    return reward_model_training(comparisons, steps=EPOCHS, seed=seed, log_every=1, hidden=hidden)


def train(
    n: int, temperature: float, seed: int = 0, hidden: int | None = None
) -> RewardModelResult:
    """The fully trained model of :func:`training` (its last snapshot)."""
    *_, last = training(n, temperature, seed, hidden)
    return last


def sample_rows(result: RewardModelResult, prompt_index: int) -> list[dict[str, Any]]:
    """One prompt's responses with learned reward and gold utility, best reward first."""
    world = load_world()
    rewards = result.model.score_table(world)[prompt_index]  # (K,)
    gold = world.gold_utility()[prompt_index]
    rows = [
        {
            "text": r.text,
            "behaviour": r.behaviour,
            "reward": float(rewards[k]),
            "gold": float(gold[k]),
        }
        for k, r in enumerate(world.prompts[prompt_index].responses)
    ]
    return sorted(rows, key=lambda row: -row["reward"])


def build(w: Widget) -> None:
    import js

    from rlhf_widgets._chart import Chart, Series
    from rlhf_widgets._dom import h, readouts, scroll_box

    world = load_world()
    size = h("select", data_action="n", aria_label="Number of comparisons", style=SELECT_STYLE)
    for n in SIZES:
        size.appendChild(h("option", f"{n} comparisons", value=str(n)))
    size.value = str(DEFAULTS["n"])
    noise = h("select", data_action="noise", aria_label="Label noise", style=SELECT_STYLE)
    for label, t in NOISE:
        noise.appendChild(h("option", f"{label} label noise (temperature {t:g})", value=label))
    noise.value = DEFAULTS["noise"]
    model = h("select", data_action="model", aria_label="Reward model", style=SELECT_STYLE)
    for label, _ in MODELS:
        model.appendChild(h("option", f"{label} reward model", value=label))
    model.value = DEFAULTS["model"]
    for control in (size, noise, model):
        w.persist(control)  # the reader's settings of an earlier visit
    seed = {"value": int(w.saved().get("seed", DEFAULTS["seed"]))}
    run = h("button", "Train", type="button", class_="md-button", data_action="train")
    resample = h(
        "button",
        "New labels (next seed)",
        type="button",
        class_="md-button",
        data_action="resample",
    )

    read_outs = readouts(
        (
            ("data", "Data"),
            ("epochs", "Epochs"),
            ("train-accuracy", "Train accuracy"),
            ("heldout-accuracy", "Held-out accuracy"),
            ("label-agreement", "Held-out labels agreeing with gold (one label vs the truth)"),
            ("gold-pair-accuracy", "Pairs ordered like the gold utility"),
        )
    )

    chart = Chart(
        "Reward model training",
        "step",
        "loss",
        y2_label="accuracy",
        name="training",
    )
    chart.x_range(0, EPOCHS)
    prompt_select = h(
        "select", data_action="prompt", aria_label="Prompt for the sample table", style=SELECT_STYLE
    )
    for i, p in enumerate(world.prompts):
        prompt_select.appendChild(h("option", p.text, value=str(i)))
    table_body = h("tbody", data_output="samples")
    table = h(
        "table",
        h(
            "thead",
            h(
                "tr",
                h("th", "Response"),
                h("th", "Behaviour"),
                h("th", "Learned reward"),
                h("th", "Gold utility"),
            ),
        ),
        table_body,
    )
    w.body.append(
        h("div", size, noise, model, run, resample, class_="rlhf-row"),
        chart.element,
        read_outs,
        h("label", "Sample responses and their learned rewards", class_="rlhf-label"),
        prompt_select,
        scroll_box(table, "Sample responses and their learned rewards"),
    )
    state: dict[str, Any] = {}

    def show_table() -> None:
        rows = sample_rows(state["result"], int(prompt_select.value))
        table_body.replaceChildren(
            *[
                h(
                    "tr",
                    h("td", r["text"]),
                    h("td", r["behaviour"]),
                    h("td", f"{r['reward']:+.2f}"),
                    h("td", f"{r['gold']:+.2f}"),
                )
                for r in rows
            ]
        )
        table_body.setAttribute("data-value", ",".join(f"{r['reward']:.4f}" for r in rows))

    def show(res: RewardModelResult) -> None:
        hist = res.history
        epochs = hist["step"]
        chart.show(
            [
                Series("train loss", list(zip(epochs, hist["train_loss"], strict=True)), 0),
                Series("held-out loss", list(zip(epochs, hist["heldout_loss"], strict=True)), 1),
                Series(
                    "train accuracy",
                    list(zip(epochs, hist["train_accuracy"], strict=True)),
                    2,
                    "y2",
                ),
                Series(
                    "held-out accuracy",
                    list(zip(epochs, hist["heldout_accuracy"], strict=True)),
                    3,
                    "y2",
                ),
            ],
            animate=False,  # redrawn every frame while training
        )
        w.set("epochs", epochs[-1], f"{epochs[-1]} of {EPOCHS}")
        for name, value in (
            ("train-accuracy", hist["train_accuracy"][-1]),
            ("heldout-accuracy", hist["heldout_accuracy"][-1]),
            ("label-agreement", res.metrics["heldout_label_gold_agreement"]),
            ("gold-pair-accuracy", res.metrics["gold_pair_accuracy"]),
        ):
            w.set(name, value, f"{value:.1%}")
        state["result"] = res
        show_table()

    # One training run at a time: a new one (Train, New labels) stops the one in progress.
    live: dict[str, Any] = {"snapshots": iter(()), "frame": None}

    def step(timestamp: Any) -> None:
        latest = None
        for _ in range(EPOCHS_PER_FRAME):
            snapshot = next(live["snapshots"], None)
            if snapshot is None:
                break
            latest = snapshot
        if latest is None:  # the last epoch was shown by the previous frame
            live["frame"] = None
            w.root.setAttribute("data-training", "done")
            return
        show(latest)
        live["frame"] = js.requestAnimationFrame(frame)

    frame = w.proxy(step)

    def fit() -> None:
        if live["frame"] is not None:
            js.cancelAnimationFrame(live["frame"])
        n = int(size.value)
        temperature = dict(NOISE)[str(noise.value)]
        hidden = dict(MODELS)[str(model.value)]
        snapshots = training(n, temperature, seed["value"], hidden)
        first = next(snapshots)  # epoch 0, shown at once
        live["snapshots"] = snapshots
        w.root.setAttribute("data-training", "running")
        w.set(
            "data",
            f"{n} {temperature} {seed['value']} {hidden}",
            f"{first.n_train} train + {first.n_heldout} held-out comparisons, seed "
            f"{seed['value']}, {model.value} reward model",
        )
        show(first)
        live["frame"] = js.requestAnimationFrame(frame)

    def next_seed(evt: Any) -> None:
        seed["value"] += 1
        w.save(seed=seed["value"])
        fit()

    w.on(run, "click", lambda evt: fit())
    w.on(resample, "click", next_seed)
    w.on(prompt_select, "change", lambda evt: show_table())
    fit()
