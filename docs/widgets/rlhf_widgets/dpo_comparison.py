"""The ``dpo-trainer`` widget: pick beta, train DPO, compare with RM + PPO on the same data.

UI only. :class:`rlhf_mini.DPOvsPPO` holds the data (simulated comparisons, a fifth held out
to measure how DPO's implicit reward generalises), trains DPO on the training comparisons
and PPO against a reward model fitted to the *same* comparisons, with the same beta and the
same SFT reference (PPO on the reward model's raw scores, the units of DPO's beta). Tested in
CPython in tests/test_widget_logic.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rlhf_mini import DPOvsPPO

if TYPE_CHECKING:
    from rlhf_widgets._dom import Widget

BETAS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
DEFAULT_BETA = 0.5
N_COMPARISONS = 500
HELDOUT_FRACTION = 0.2


def comparison(seed: int = 0) -> DPOvsPPO:
    """The widget's data set: N_COMPARISONS simulated comparisons, HELDOUT_FRACTION held out."""
    return DPOvsPPO.simulate(N_COMPARISONS, heldout_fraction=HELDOUT_FRACTION, seed=seed)


def build(w: Widget) -> None:
    from rlhf_widgets._chart import Chart, Series
    from rlhf_widgets._dom import h, scroll_box

    data = comparison()
    slider = h(
        "input",
        type="range",
        min="0",
        max=str(len(BETAS) - 1),
        step="1",
        value=str(BETAS.index(DEFAULT_BETA)),
        data_action="beta",
        aria_label="beta",
    )
    slider.value = str(BETAS.index(DEFAULT_BETA))
    beta_out = h("output", "", data_output="beta")
    chart = Chart("DPO training", "step", "loss / accuracy", y2_label="reward margin", name="dpo")
    rows = {}
    body = h("tbody")
    for key, label in (
        ("ref", "SFT reference (start)"),
        ("dpo", "DPO"),
        ("ppo", "Reward model + PPO"),
    ):
        gold = h("td", "", data_output=f"{key}-gold")
        kl = h("td", "", data_output=f"{key}-kl")
        rows[key] = (gold, kl)
        body.appendChild(h("tr", h("th", label, scope="row"), gold, kl))
    table = h(
        "table",
        h("thead", h("tr", h("th", "Policy"), h("th", "Gold reward"), h("th", "KL to SFT (nats)"))),
        body,
    )
    w.body.append(
        h("label", h("span", "KL strength beta: "), beta_out, class_="rlhf-label"),
        slider,
        h(
            "p",
            f"{len(data.comparisons)} comparisons to train on and {len(data.heldout)} held "
            f"out; DPO: {data.dpo_steps} Adam steps on the training ones; PPO: "
            f"{data.ppo_steps} steps against a reward model fitted to the same training "
            "comparisons.",
            data_output="setup",
        ),
        chart.element,
        scroll_box(table, "Gold reward and KL of each policy"),
        h("p", "", data_output="accuracy"),
    )

    def beta() -> float:
        return BETAS[int(slider.value)]

    def label(evt: Any = None) -> None:
        w.set("beta", beta(), f"{beta():g}")

    def train(evt: Any = None) -> None:
        label()
        dpo, ppo = data.run(beta())
        hist = dpo.history
        steps = hist["step"]
        chart.show(
            [
                Series("loss", list(zip(steps, hist["loss"], strict=True)), 0),
                Series("accuracy", list(zip(steps, hist["accuracy"], strict=True)), 1),
                Series(
                    "held-out accuracy",
                    list(zip(steps, hist["heldout_accuracy"], strict=True)),
                    3,
                ),
                Series(
                    "reward margin", list(zip(steps, hist["reward_margin"], strict=True)), 2, "y2"
                ),
            ]
        )
        w.set("ref-gold", data.reference_gold, f"{data.reference_gold:.3f}")
        w.set("ref-kl", 0.0, "0")
        for key, final in (("dpo", dpo.final()), ("ppo", ppo.final())):
            w.set(f"{key}-gold", final["gold_reward"], f"{final['gold_reward']:.3f}")
            w.set(f"{key}-kl", final["kl"], f"{final['kl']:.3f}")
        d = dpo.final()
        w.set(
            "accuracy",
            d["accuracy"],
            f"DPO after {d['step']:g} steps: loss {d['loss']:.3f}, preference accuracy "
            f"{d['accuracy']:.1%} on the training comparisons and {d['heldout_accuracy']:.1%} "
            f"on the held-out ones, mean implicit reward margin {d['reward_margin']:.2f}.",
        )

    w.on(slider, "input", label)
    w.on(slider, "change", train)
    train()
