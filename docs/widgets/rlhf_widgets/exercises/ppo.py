"""Exercises of lesson 4 (PPO): the k1 and k3 KL estimators, the clipped surrogate, GAE."""

from __future__ import annotations

import numpy as np

import rlhf_mini as rm
from rlhf_widgets.exercises.framework import Case, Exercise, Target, Wrong

LESSON = "04-ppo"


def _random_logps(rng: np.random.Generator) -> Case:
    n = int(rng.integers(1, 7))
    logp = rng.uniform(-6.0, -0.1, size=n).round(3)
    return Case({"logp_policy": logp, "logp_ref": (logp + rng.normal(0.0, 1.5, n)).round(3)})


KL = Exercise(
    id="kl-estimators",
    lesson=LESSON,
    title="Estimating the KL from samples: k1 and k3",
    task=r"""
PPO watches how far the policy has drifted from the reference model with Monte-Carlo
estimates of $\mathrm{KL}(\pi \,\|\, \pi_{\text{ref}})$, computed from the log-probabilities of
responses sampled from $\pi$ (J. Schulman, "Approximating KL divergence", 2020). With

$$
\log r = \log \pi_{\text{ref}}(y) - \log \pi(y), \qquad r = \frac{\pi_{\text{ref}}(y)}{\pi(y)},
$$

the estimator $k_1 = -\log r$ is unbiased but a single sample of it can be negative, and
$k_3 = (r - 1) - \log r$ is unbiased too and never negative. Write both,
`kl_k1(logp_policy, logp_ref)` and `kl_k3(logp_policy, logp_ref)`, elementwise on numbers or
arrays.
""",
    starter='''import numpy as np


def kl_k1(logp_policy, logp_ref):
    """k1 = -log r, r = pi_ref(y) / pi(y), per sample."""
    # Your code here.


def kl_k3(logp_policy, logp_ref):
    """k3 = (r - 1) - log r, per sample (never negative)."""
    # Your code here.


kl_k1(-1.0, -3.0), kl_k3(-1.0, -3.0)  # (2.0, about 1.135) once they work
''',
    solution='''import numpy as np


def kl_k1(logp_policy, logp_ref):
    """k1 = -log r, r = pi_ref(y) / pi(y), per sample."""
    return logp_policy - logp_ref


def kl_k3(logp_policy, logp_ref):
    """k3 = (r - 1) - log r, per sample (never negative)."""
    log_r = logp_ref - logp_policy
    return np.expm1(log_r) - log_r  # expm1(x) = e^x - 1, accurate when x is tiny
''',
    hints=(
        "Start from `log_r = logp_ref - logp_policy`; then `r = np.exp(log_r)`.",
        "$k_1 = -\\log r$ is `-log_r`, that is `logp_policy - logp_ref`.",
        "$k_3$ is `(r - 1) - log_r`. `np.expm1(log_r)` computes $r - 1$ without losing "
        "digits when $r$ is close to 1.",
    ),
    wrong=(
        Wrong(
            "k1 with the log-ratio the wrong way round (log r instead of -log r)",
            """import numpy as np


def kl_k1(logp_policy, logp_ref):
    return logp_ref - logp_policy


def kl_k3(logp_policy, logp_ref):
    log_r = logp_ref - logp_policy
    return np.expm1(log_r) - log_r
""",
        ),
        Wrong(
            "k3 with r = pi / pi_ref instead of pi_ref / pi",
            """import numpy as np


def kl_k1(logp_policy, logp_ref):
    return logp_policy - logp_ref


def kl_k3(logp_policy, logp_ref):
    log_r = logp_policy - logp_ref
    return np.expm1(log_r) - log_r
""",
        ),
        Wrong(
            "k3 without the -1: r - log r is at least 1, even for identical policies",
            """import numpy as np


def kl_k1(logp_policy, logp_ref):
    return logp_policy - logp_ref


def kl_k3(logp_policy, logp_ref):
    log_r = logp_ref - logp_policy
    return np.exp(log_r) - log_r
""",
        ),
    ),
    targets=(Target("kl_k1", rm.kl_k1), Target("kl_k3", rm.kl_k3)),
    examples=(
        Case({"logp_policy": -1.0, "logp_ref": -3.0}, "the example in the starting code"),
        Case(
            {"logp_policy": np.array([-2.0, -0.5]), "logp_ref": np.array([-2.0, -0.5])},
            "a sample as likely under both models",
        ),
    ),
    random_case=_random_logps,
    edges=(
        Case(
            {"logp_policy": np.array([-20.0, -0.01]), "logp_ref": np.array([-0.01, -20.0])},
            "an edge case: log-ratios of about +20 and -20",
        ),
    ),
    forbid=("kl_k1", "kl_k2", "kl_k3", "kl_estimator_grad"),
    atol=1e-9,
)


def _random_ppo(rng: np.random.Generator) -> Case:
    n = int(rng.integers(1, 7))
    old = rng.uniform(-4.0, -0.1, size=n).round(3)
    return Case(
        {
            "logp_new": (old + rng.normal(0.0, 0.4, n)).round(3),
            "logp_old": old,
            "advantages": rng.normal(0.0, 1.0, n).round(3),
            "clip_eps": float(rng.choice([0.1, 0.2, 0.3])),
        }
    )


CLIP = Exercise(
    id="ppo-clip",
    lesson=LESSON,
    title="PPO's clipped surrogate loss",
    task=r"""
Write `ppo_clip_loss(logp_new, logp_old, advantages, clip_eps)`: PPO's clipped surrogate
loss, per sample,

$$
-\min\big(\rho A,\; \mathrm{clip}(\rho, 1-\epsilon, 1+\epsilon)\, A\big),
\qquad \rho = \exp\big(\log \pi_\theta(y) - \log \pi_{\text{old}}(y)\big),
$$

where `logp_new` is $\log \pi_\theta$, `logp_old` is $\log \pi_{\text{old}}$, `advantages` is
$A$ and `clip_eps` is $\epsilon$. All arrays have the same shape; return that shape.
""",
    starter='''import numpy as np


def ppo_clip_loss(logp_new, logp_old, advantages, clip_eps):
    """Per-sample -min(rho A, clip(rho, 1 - eps, 1 + eps) A)."""
    # Your code here.


ratio = np.array([1.5, 1.1, 0.5, 0.5])
advantage = np.array([1.0, 1.0, -1.0, 1.0])
ppo_clip_loss(np.log(ratio), np.zeros(4), advantage, 0.2)  # [-1.2, -1.1, 0.8, -0.5]
''',
    solution='''import numpy as np


def ppo_clip_loss(logp_new, logp_old, advantages, clip_eps):
    """Per-sample -min(rho A, clip(rho, 1 - eps, 1 + eps) A)."""
    ratio = np.exp(logp_new - logp_old)
    clipped = np.clip(ratio, 1 - clip_eps, 1 + clip_eps)
    return -np.minimum(ratio * advantages, clipped * advantages)
''',
    hints=(
        "The ratio is `np.exp(logp_new - logp_old)`.",
        "`np.clip(ratio, 1 - clip_eps, 1 + clip_eps)` and `np.minimum(a, b)` work element by "
        "element.",
        "Keep the minus sign: the loss is minimised, the surrogate objective maximised.",
    ),
    wrong=(
        Wrong(
            "takes the maximum (the optimistic bound) instead of the minimum",
            """import numpy as np


def ppo_clip_loss(logp_new, logp_old, advantages, clip_eps):
    ratio = np.exp(logp_new - logp_old)
    clipped = np.clip(ratio, 1 - clip_eps, 1 + clip_eps)
    return -np.maximum(ratio * advantages, clipped * advantages)
""",
        ),
        Wrong(
            "clips the advantage instead of the ratio",
            """import numpy as np


def ppo_clip_loss(logp_new, logp_old, advantages, clip_eps):
    ratio = np.exp(logp_new - logp_old)
    clipped = np.clip(advantages, 1 - clip_eps, 1 + clip_eps)
    return -np.minimum(ratio * advantages, ratio * clipped)
""",
        ),
        Wrong(
            "uses the log-ratio as the ratio (no exponential)",
            """import numpy as np


def ppo_clip_loss(logp_new, logp_old, advantages, clip_eps):
    ratio = logp_new - logp_old
    clipped = np.clip(ratio, 1 - clip_eps, 1 + clip_eps)
    return -np.minimum(ratio * advantages, clipped * advantages)
""",
        ),
    ),
    targets=(Target("ppo_clip_loss", rm.ppo_clip_loss),),
    examples=(
        Case(
            {
                "logp_new": np.log(np.array([1.5, 1.1, 0.5, 0.5])),
                "logp_old": np.zeros(4),
                "advantages": np.array([1.0, 1.0, -1.0, 1.0]),
                "clip_eps": 0.2,
            },
            "the lesson's example",
        ),
    ),
    random_case=_random_ppo,
    edges=(
        Case(
            {
                "logp_new": np.array([-1.0, -1.0]),
                "logp_old": np.array([-1.0, -1.0]),
                "advantages": np.array([2.0, -3.0]),
                "clip_eps": 0.2,
            },
            "an edge case: the policy has not moved (ratio 1)",
        ),
    ),
    forbid=("ppo_clip_loss", "ppo_clip_loss_grad"),
)


def _random_gae(rng: np.random.Generator) -> Case:
    b, t = int(rng.integers(1, 4)), int(rng.integers(1, 7))
    return Case(
        {
            "rewards": rng.normal(0.0, 1.0, size=(b, t)).round(2),
            "values": rng.normal(0.0, 1.0, size=(b, t)).round(2),
            "gamma": round(float(rng.uniform(0.5, 1.0)), 2),
            "lam": round(float(rng.uniform(0.0, 1.0)), 2),
        }
    )


_LESSON_REWARDS = np.array([[0.0, 0.0, 0.0, 1.0]])
_LESSON_VALUES = np.array([[0.5, 0.5, 0.6, 0.8]])

GAE = Exercise(
    id="gae",
    lesson=LESSON,
    title="Generalised advantage estimation",
    task=r"""
Write `gae(rewards, values, gamma, lam)` for a batch of episodes of equal length $T$ (arrays of
shape `(batch, T)`). With the TD residual

$$
\delta_t = r_t + \gamma V_{t+1} - V_t \qquad (V_T = 0 \text{ after the last step}),
$$

the advantages follow $A_t = \delta_t + \gamma\lambda\, A_{t+1}$ with $A_T = 0$, computed from
the last step backwards, and the returns (the critic's targets) are $R_t = A_t + V_t$. Return
`(advantages, returns)`, both of shape `(batch, T)`.
""",
    starter='''import numpy as np


def gae(rewards, values, gamma, lam):
    """Advantages and returns, both (batch, T)."""
    # Your code here.


rewards = np.array([[0.0, 0.0, 0.0, 1.0]])
values = np.array([[0.5, 0.5, 0.6, 0.8]])
gae(rewards, values, gamma=1.0, lam=0.95)  # advantages [[0.447, 0.4705, 0.39, 0.2]]
''',
    solution='''import numpy as np


def gae(rewards, values, gamma, lam):
    """Advantages and returns, both (batch, T)."""
    T = rewards.shape[1]
    advantages = np.zeros_like(rewards)
    next_value = np.zeros(rewards.shape[0])  # V after the last step: 0
    running = np.zeros(rewards.shape[0])  # A after the last step: 0
    for t in range(T - 1, -1, -1):  # from the last step backwards
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * lam * running
        advantages[:, t] = running
        next_value = values[:, t]
    return advantages, advantages + values
''',
    hints=(
        "Loop over the steps backwards, `for t in range(T - 1, -1, -1):`, carrying the next "
        "step's value and advantage, both 0 after the last step.",
        "Work on whole columns: `rewards[:, t]` and `values[:, t]` have shape `(batch,)`.",
        "Inside the loop: `delta = rewards[:, t] + gamma * next_value - values[:, t]`, then "
        "`running = delta + gamma * lam * running`; store it and set "
        "`next_value = values[:, t]`.",
    ),
    wrong=(
        Wrong(
            "takes the next value with np.roll, which wraps V_0 around to the last step",
            """import numpy as np


def gae(rewards, values, gamma, lam):
    delta = rewards + gamma * np.roll(values, -1, axis=1) - values
    advantages = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = delta[:, t] + gamma * lam * running
        advantages[:, t] = running
    return advantages, advantages + values
""",
        ),
        Wrong(
            "decays by lam alone instead of gamma * lam",
            """import numpy as np


def gae(rewards, values, gamma, lam):
    advantages = np.zeros_like(rewards)
    next_value = np.zeros(rewards.shape[0])
    running = np.zeros(rewards.shape[0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * next_value - values[:, t] + lam * running
        advantages[:, t] = running
        next_value = values[:, t]
    return advantages, advantages + values
""",
        ),
        Wrong(
            "returns the advantages as the returns (forgets + V)",
            """import numpy as np


def gae(rewards, values, gamma, lam):
    advantages = np.zeros_like(rewards)
    next_value = np.zeros(rewards.shape[0])
    running = np.zeros(rewards.shape[0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * next_value - values[:, t] + gamma * lam * running
        advantages[:, t] = running
        next_value = values[:, t]
    return advantages, advantages
""",
        ),
    ),
    targets=(Target("gae", rm.gae),),
    examples=(
        Case(
            {"rewards": _LESSON_REWARDS, "values": _LESSON_VALUES, "gamma": 1.0, "lam": 0.95},
            "the lesson's example",
        ),
    ),
    random_case=_random_gae,
    edges=(
        Case(
            {"rewards": _LESSON_REWARDS, "values": _LESSON_VALUES, "gamma": 1.0, "lam": 0.0},
            "an edge case: lam = 0 (only the TD residual)",
        ),
        Case(
            {"rewards": np.array([[2.0]]), "values": np.array([[0.5]]), "gamma": 0.9, "lam": 1.0},
            "an edge case: episodes of one step",
        ),
    ),
    outputs=("advantages", "returns"),
    forbid=("gae",),
)

EXERCISES = (KL, CLIP, GAE)
