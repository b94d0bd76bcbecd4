"""DPO trainer: pick beta, train DPO on the comparisons, and compare with PPO on the same data.

UI only. The comparisons are :func:`rlhf_mini.simulate_comparisons`, split into training
and held-out comparisons; DPO is :func:`rlhf_mini.train_dpo` on the training ones (the
held-out ones measure how its implicit reward generalises); PPO is
:func:`rlhf_mini.train_ppo` against a reward model fitted to the *same* training comparisons
(:func:`rlhf_mini.train_reward_model`), with the same beta and the same SFT reference.
:class:`Comparison` (pure, tested in CPython in tests/test_widget_logic.py) holds the data
and runs both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from rlhf_mini import (
    DPOResult,
    PPOResult,
    load_world,
    sft_policy,
    simulate_comparisons,
    train_dpo,
    train_ppo,
    train_reward_model,
)

if TYPE_CHECKING:
    from rlhf_widgets._dom import Widget

BETAS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
DEFAULT_BETA = 0.5
N_COMPARISONS = 500
HELDOUT_FRACTION = 0.2
DPO_STEPS = 150
PPO_STEPS = 100
RM_EPOCHS = 100


class Comparison:
    """One preference data set; DPO on it, and PPO on a reward model fitted to it."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.world = load_world()
        self.comparisons, self.heldout = simulate_comparisons(
            N_COMPARISONS, seed, world=self.world
        ).split(HELDOUT_FRACTION, seed=seed)
        self.reward_model = train_reward_model(
            self.comparisons, heldout=self.heldout, epochs=RM_EPOCHS, seed=seed, world=self.world
        ).model
        self.reference = sft_policy(self.world)
        gold = self.world.gold_utility()
        self.reference_gold = float(np.mean(self.reference.expected(gold)))

    def run(self, beta: float) -> tuple[DPOResult, PPOResult]:
        dpo = train_dpo(
            self.comparisons,
            heldout=self.heldout,
            beta=beta,
            steps=DPO_STEPS,
            seed=self.seed,
            world=self.world,
        )
        ppo = train_ppo(
            self.reward_model, beta=beta, steps=PPO_STEPS, seed=self.seed, world=self.world
        )
        return dpo, ppo


def build(w: Widget) -> None:
    from rlhf_widgets._chart import Chart, Series
    from rlhf_widgets._dom import h, scroll_box

    data = Comparison()
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
            f"out; DPO: {DPO_STEPS} Adam steps on the training ones; PPO: {PPO_STEPS} steps "
            "against a reward model fitted to the same training comparisons.",
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
