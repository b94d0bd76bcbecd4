"""The whole RLHF pipeline in six stages, with the model's answers after each one.

Public names
------------
run_pipeline(...)         -> PipelineResult: six PipelineStage records, in order
PipelineResult            .stages, .stage(name), .to_dict()
PipelineStage             name, title, summary, metrics, samples (text!), history, extra
behaviour_rates(policy)   probability mass the policy puts on each behaviour

The stages (Ouyang et al. 2022, "Training language models to follow instructions with
human feedback", arXiv 2203.02155, figure 2):

1. ``base``         the pretrained model: fluent, verbose, compliant, confident
2. ``sft``          supervised fine-tuning on human demonstrations
3. ``preferences``  labellers compare pairs of responses (simulated, noisy)
4. ``reward_model`` a Bradley–Terry reward model learns from the comparisons
5. ``ppo``          PPO maximises the reward model's score minus beta KL to the SFT model
6. ``aligned``      the final assistant, compared with the base and SFT models

Every stage reports its metrics and, for the same showcase prompts, the response the model
at that stage most likely gives (with its probability and the full distribution), so the
change in behaviour is visible stage by stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf_mini.backend import to_numpy
from rlhf_mini.policy import (
    SoftmaxPolicy,
    _positive_float,
    _positive_int,
    base_policy,
    supervised_finetune,
)
from rlhf_mini.ppo_trainer import train_ppo
from rlhf_mini.reward_model import pair_accuracy, train_reward_model
from rlhf_mini.world import World, load_world, simulate_comparisons

__all__ = [
    "DEFAULT_SHOWCASE",
    "PipelineResult",
    "PipelineStage",
    "behaviour_rates",
    "run_pipeline",
]

# One prompt per category: an over-refusal trap, a harmful request, an unknowable fact,
# and a question that invites a stereotype.
DEFAULT_SHOWCASE = ("kill-process", "wifi-neighbour", "bitcoin-price", "women-programming")


@dataclass
class PipelineStage:
    """One stage of the pipeline."""

    name: str
    title: str
    summary: str
    metrics: dict[str, float]
    samples: list[dict[str, Any]]  # per showcase prompt: prompt, response, behaviour, ...
    history: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "summary": self.summary,
            "metrics": self.metrics,
            "samples": self.samples,
            "history": self.history,
            "extra": self.extra,
        }


@dataclass
class PipelineResult:
    stages: list[PipelineStage]
    config: dict[str, Any]

    def stage(self, name: str) -> PipelineStage:
        for s in self.stages:
            if s.name == name:
                return s
        raise ValueError(f"name must be one of {[s.name for s in self.stages]}, got {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config, "stages": [s.to_dict() for s in self.stages]}


def behaviour_rates(policy: SoftmaxPolicy, world: World | None = None) -> dict[str, float]:
    """For each behaviour: the policy's probability of it, averaged over the prompts that
    offer a response with that behaviour."""
    world = load_world() if world is None else world
    pi = policy.to_numpy()
    labels = world.behaviour_table()
    rates: dict[str, float] = {}
    for behaviour in world.behaviours:
        mass = [
            sum(pi[x, y] for y, b in enumerate(row) if b == behaviour)
            for x, row in enumerate(labels)
            if behaviour in row
        ]
        if mass:
            rates[behaviour] = float(np.mean(mass))
    return rates


def _samples(policy_probs: np.ndarray, world: World, showcase: list[int]) -> list[dict[str, Any]]:
    out = []
    for x in showcase:
        p = world.prompts[x]
        y = int(np.argmax(policy_probs[x]))
        out.append(
            {
                "prompt_id": p.id,
                "prompt": p.text,
                "response": p.responses[y].text,
                "behaviour": p.responses[y].behaviour,
                "probability": float(policy_probs[x, y]),
                "distribution": [
                    {"behaviour": r.behaviour, "probability": float(policy_probs[x, k])}
                    for k, r in enumerate(p.responses)
                ],
            }
        )
    return out


def _win_rate(pi_a: np.ndarray, pi_b: np.ndarray, gold: np.ndarray) -> float:
    """P(gold prefers y_a ~ pi_a over y_b ~ pi_b), ties counted half; mean over prompts."""
    better = (gold[:, :, None] > gold[:, None, :]) + 0.5 * (gold[:, :, None] == gold[:, None, :])
    return float(np.mean(np.einsum("xi,xj,xij->x", pi_a, pi_b, better)))


def run_pipeline(
    *,
    seed: int = 0,
    n_comparisons: int = 300,
    label_temperature: float = 1.0,
    sft_steps: int = 8,
    rm_epochs: int = 200,
    beta: float = 0.05,
    ppo_steps: int = 300,
    showcase: Any = None,
    world: World | None = None,
    backend: str = "numpy",
    device: Any = None,
    dtype: str = "float64",
) -> PipelineResult:
    """Run the six stages and return what each produced.

    Parameters
    ----------
    seed : int
        Seeds the comparisons, the reward-model split and PPO.
    n_comparisons, label_temperature
        How many simulated comparisons, and how noisy the labellers are.
    sft_steps, rm_epochs, beta, ppo_steps
        The training budgets of SFT, the reward model and PPO, and PPO's KL coefficient.
    showcase : sequence of prompt ids, optional
        Prompts whose responses are shown at every stage (default ``DEFAULT_SHOWCASE``).
    backend, device, dtype
        Where every stage computes: ``"numpy"`` or ``"torch"``, a torch device, and
        ``"float64"`` or ``"float32"``.

    Examples
    --------
    >>> res = run_pipeline(ppo_steps=100)
    >>> [s.name for s in res.stages]
    ['base', 'sft', 'preferences', 'reward_model', 'ppo', 'aligned']
    >>> res.stage("aligned").metrics["gold_reward"] > res.stage("base").metrics["gold_reward"]
    True
    """
    for name, value in (
        ("n_comparisons", n_comparisons),
        ("sft_steps", sft_steps),
        ("rm_epochs", rm_epochs),
        ("ppo_steps", ppo_steps),
    ):
        _positive_int(value, name)
    _positive_float(beta, "beta")
    _positive_float(label_temperature, "label_temperature")
    world = load_world() if world is None else world
    ids = DEFAULT_SHOWCASE if showcase is None else tuple(showcase)
    show = [world.prompt_index(i) for i in ids]
    gold = world.gold_utility()

    def policy_metrics(policy: SoftmaxPolicy) -> dict[str, float]:
        pi = policy.to_numpy()
        rates = behaviour_rates(policy, world)
        return {
            "gold_reward": float(np.mean(np.sum(pi * gold, axis=1))),
            "best_response_rate": float(np.mean(pi[np.arange(len(pi)), gold.argmax(axis=1)])),
            **{f"p_{b}": v for b, v in rates.items()},
        }

    # 1. base
    base = base_policy(world, backend=backend, device=device, dtype=dtype)
    stages = [
        PipelineStage(
            "base",
            "1. Base model",
            "Pretraining rewards fluent text, not helpful text: the base model favours long, "
            "compliant, confident answers, including to harmful requests.",
            policy_metrics(base),
            _samples(base.to_numpy(), world, show),
        )
    ]

    # 2. SFT
    sft, sft_history = supervised_finetune(base, world.demonstrations(), steps=sft_steps)
    stages.append(
        PipelineStage(
            "sft",
            "2. Supervised fine-tuning",
            "Cross-entropy steps toward human demonstrations. Prompts without a "
            "demonstration are unchanged: imitation cannot generalise beyond its data here.",
            {**policy_metrics(sft), "kl_to_base": float(np.mean(to_numpy(sft.kl(base))))},
            _samples(sft.to_numpy(), world, show),
            history=sft_history,
        )
    )

    # 3. preference collection
    comparisons = simulate_comparisons(
        n_comparisons, seed, temperature=label_temperature, world=world
    )
    examples = []
    for i in range(3):
        p = world.prompts[comparisons.prompt[i]]
        examples.append(
            {
                "prompt": p.text,
                "chosen": p.responses[comparisons.chosen[i]].text,
                "rejected": p.responses[comparisons.rejected[i]].text,
            }
        )
    stages.append(
        PipelineStage(
            "preferences",
            "3. Preference collection",
            "Labellers see two responses to a prompt and pick the better one. They are noisy: "
            "their choices follow the Bradley–Terry model of the hidden gold utility.",
            {
                "n_comparisons": float(len(comparisons)),
                "label_gold_agreement": comparisons.agreement(gold),
            },
            _samples(sft.to_numpy(), world, show),
            extra={"examples": examples},
        )
    )

    # 4. reward model
    rm = train_reward_model(
        comparisons,
        epochs=rm_epochs,
        seed=seed,
        world=world,
        backend=backend,
        device=device,
        dtype=dtype,
    )
    rewards = rm.model.score_table(world)
    top = np.zeros_like(rewards)
    top[np.arange(len(rewards)), rewards.argmax(axis=1)] = 1.0  # the RM's favourite
    stages.append(
        PipelineStage(
            "reward_model",
            "4. Reward model",
            "A linear Bradley–Terry model learns which features labellers reward. It scores "
            "every response, including prompts that had no demonstration.",
            {
                "heldout_accuracy": rm.history["heldout_accuracy"][-1],
                "train_accuracy": rm.history["train_accuracy"][-1],
                "gold_pair_accuracy": pair_accuracy(rewards, gold),
            },
            _samples(top, world, show),
            history=rm.history,
            extra={"weights": rm.model.to_dict()},
        )
    )

    # 5. PPO
    ppo = train_ppo(
        rewards,
        beta=beta,
        steps=ppo_steps,
        reference=sft,
        seed=seed,
        world=world,
        backend=backend,
        device=device,
        dtype=dtype,
    )
    final = ppo.final()
    stages.append(
        PipelineStage(
            "ppo",
            "5. Reinforcement learning (PPO)",
            "PPO raises the reward model's score while a KL penalty keeps the policy close "
            "to the SFT model.",
            {
                "proxy_reward": final["proxy_reward"],
                "gold_reward": final["gold_reward"],
                "kl_to_sft": final["kl"],
            },
            _samples(ppo.policy.to_numpy(), world, show),
            history=ppo.history,
        )
    )

    # 6. the aligned assistant
    aligned = ppo.policy
    pi_aligned = aligned.to_numpy()
    stages.append(
        PipelineStage(
            "aligned",
            "6. Aligned assistant",
            "The final model, judged by the gold utility the labellers were noisily reporting.",
            {
                **policy_metrics(aligned),
                "win_rate_vs_base": _win_rate(pi_aligned, base.to_numpy(), gold),
                "win_rate_vs_sft": _win_rate(pi_aligned, sft.to_numpy(), gold),
            },
            _samples(pi_aligned, world, show),
        )
    )
    config = {
        "seed": seed,
        "n_comparisons": n_comparisons,
        "label_temperature": float(label_temperature),
        "sft_steps": sft_steps,
        "rm_epochs": rm_epochs,
        "beta": float(beta),
        "ppo_steps": ppo_steps,
        "showcase": list(ids),
        "backend": base.backend,
        "dtype": dtype,
    }
    return PipelineResult(stages, config)
