"""Figures of lesson 4, *Optimising with PPO* (``docs/lessons/04-ppo.md``).

PPO with a KL penalty: reward and KL over training for several betas.
"""

from __future__ import annotations

from typing import Any

from . import GREEN, GREY, INDIGO, ORANGE, figure


def _faithful_reward_model() -> Any:
    import rlhf_mini as rm

    return rm.train_reward_model(rm.simulate_comparisons(500, seed=0), log_every=50, seed=0).model


@figure("ppo-training", size=(7.2, 3.4))
def _ppo_training(fig: Any) -> None:
    from rlhf_mini.trainers.ppo import train_ppo

    reward_model = _faithful_reward_model()
    left, right = fig.subplots(1, 2)
    for beta, colour in ((0.01, ORANGE), (0.05, INDIGO), (0.2, GREEN), (1.0, GREY)):
        h = train_ppo(reward_model, beta=beta, steps=200, seed=0).history
        left.plot(h["step"], h["proxy_reward"], color=colour, lw=2, label=f"β = {beta}")
        right.plot(h["step"], h["kl"], color=colour, lw=2, label=f"β = {beta}")
    left.set_title("reward: P(beats the SFT model's typical answer)", fontsize=9)
    right.set_title("KL(π ‖ π_ref) in nats")
    for ax in (left, right):
        ax.set_xlabel("PPO iteration")
        ax.grid(alpha=0.3)
    right.legend()
