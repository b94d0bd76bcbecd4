"""Exercises of lesson 5 (the pipeline): the KL-penalised per-token reward of the PPO step,
and the win rate the pipeline reports."""

from __future__ import annotations

import numpy as np

import rlhf_mini as rm
from rlhf_mini.experiments.pipeline import _win_rate
from rlhf_widgets.exercises.framework import Case, Exercise, Target, Wrong

LESSON = "05-pipeline"


def _random_tokens(rng: np.random.Generator) -> Case:
    b, t = int(rng.integers(1, 4)), int(rng.integers(1, 6))
    logp = rng.uniform(-4.0, -0.05, size=(b, t)).round(3)
    return Case(
        {
            "scores": rng.normal(0.0, 2.0, size=b).round(2),
            "logp_policy": logp,
            "logp_ref": (logp + rng.normal(0.0, 0.5, size=(b, t))).round(3),
            "beta": float(rng.choice([0.01, 0.05, 0.1, 0.5])),
        }
    )


KL_REWARDS = Exercise(
    id="kl-rewards",
    lesson=LESSON,
    title="The reward of the PPO step, token by token",
    task=r"""
Step 5 of the pipeline optimises the reward model's score minus $\beta$ times the log-ratio to
the SFT model, paid token by token (lesson 4). Write
`kl_penalized_rewards(scores, logp_policy, logp_ref, beta)`: the per-token rewards

$$
R_t = -\beta\,\big(\log \pi(y_t) - \log \pi_{\text{ref}}(y_t)\big) \;+\; [t = T]\;\text{score},
$$

a penalty at every token and the reward model's score added at the last one. `scores` has
shape `(batch,)`, one per response; `logp_policy` and `logp_ref` have shape `(batch, T)`.
Return shape `(batch, T)`.
""",
    starter='''import numpy as np


def kl_penalized_rewards(scores, logp_policy, logp_ref, beta):
    """Per-token rewards (batch, T): -beta * log-ratio, plus the score at the last token."""
    # Your code here.


logp_policy = np.log(np.array([[0.5, 0.9, 0.6]]))
logp_ref = np.log(np.array([[0.25, 0.9, 0.3]]))
kl_penalized_rewards(np.array([2.0]), logp_policy, logp_ref, beta=0.1)
# [[-0.0693, 0, 1.9307]] once it works
''',
    solution='''import numpy as np


def kl_penalized_rewards(scores, logp_policy, logp_ref, beta):
    """Per-token rewards (batch, T): -beta * log-ratio, plus the score at the last token."""
    rewards = -beta * (logp_policy - logp_ref)  # (batch, T): the KL penalty of every token
    rewards[:, -1] += scores  # the reward model's score arrives with the last token
    return rewards
''',
    hints=(
        "The penalty is one array operation: `-beta * (logp_policy - logp_ref)`, shape "
        "`(batch, T)`.",
        "`rewards[:, -1]` is the last column (each response's last token); add `scores` there.",
    ),
    wrong=(
        Wrong(
            "adds the score at every token",
            """import numpy as np


def kl_penalized_rewards(scores, logp_policy, logp_ref, beta):
    return -beta * (logp_policy - logp_ref) + scores[:, None]
""",
        ),
        Wrong(
            "rewards moving away from the reference (+beta)",
            """import numpy as np


def kl_penalized_rewards(scores, logp_policy, logp_ref, beta):
    rewards = beta * (logp_policy - logp_ref)
    rewards[:, -1] += scores
    return rewards
""",
        ),
        Wrong(
            "adds the score at the first token",
            """import numpy as np


def kl_penalized_rewards(scores, logp_policy, logp_ref, beta):
    rewards = -beta * (logp_policy - logp_ref)
    rewards[:, 0] += scores
    return rewards
""",
        ),
    ),
    targets=(Target("kl_penalized_rewards", rm.kl_penalized_rewards),),
    examples=(
        Case(
            {
                "scores": np.array([2.0]),
                "logp_policy": np.log(np.array([[0.5, 0.9, 0.6]])),
                "logp_ref": np.log(np.array([[0.25, 0.9, 0.3]])),
                "beta": 0.1,
            },
            "lesson 4's example",
        ),
    ),
    random_case=_random_tokens,
    edges=(
        Case(
            {
                "scores": np.array([1.5, -0.5]),
                "logp_policy": np.array([[-1.0], [-2.0]]),
                "logp_ref": np.array([[-1.5], [-1.0]]),
                "beta": 0.0,
            },
            "an edge case: one token per response, no penalty (beta = 0)",
        ),
    ),
    forbid=("kl_penalized_rewards",),
)


def _random_win(rng: np.random.Generator) -> Case:
    p, k = int(rng.integers(1, 5)), int(rng.integers(2, 6))
    return Case(
        {
            "pi_a": rng.dirichlet(np.ones(k), size=p).round(4),
            "pi_b": rng.dirichlet(np.ones(k), size=p).round(4),
            "gold": rng.integers(0, 5, size=(p, k)).astype(float),  # small integers: ties
        }
    )


WIN_RATE = Exercise(
    id="win-rate",
    lesson=LESSON,
    title="Win rate of one model against another",
    task=r"""
The pipeline reports that a response of the aligned model is preferred to one of the base
model 94 % of the time. Write `win_rate(pi_a, pi_b, gold)`: the probability that a response
drawn from policy A beats a response drawn from policy B to the same prompt, judged by the gold
utility, **ties counted as half a win**, averaged over the prompts (each prompt counts the
same). All three arrays have shape `(P, K)`: `pi_a[x, y]` is policy A's probability of
response $y$ to prompt $x$, `gold[x, y]` its utility. Return one number.

$$
\text{win}(A, B) = \frac{1}{P}\sum_x \sum_{i, j} \pi_A(i \mid x)\,\pi_B(j \mid x)\,
\Big([u_{x,i} > u_{x,j}] + \tfrac12 [u_{x,i} = u_{x,j}]\Big)
$$
""",
    starter='''import numpy as np


def win_rate(pi_a, pi_b, gold):
    """P(a response of A beats one of B by the gold utility), ties half, mean over prompts."""
    # Your code here.


pi = np.array([[0.2, 0.5, 0.3]])
win_rate(pi, pi, np.array([[1.0, 2.0, 3.0]]))  # any policy against itself: 0.5
''',
    solution='''import numpy as np


def win_rate(pi_a, pi_b, gold):
    """P(a response of A beats one of B by the gold utility), ties half, mean over prompts."""
    u_i, u_j = gold[:, :, None], gold[:, None, :]
    better = (u_i > u_j) + 0.5 * (u_i == u_j)  # (P, K, K): credit of response i against j
    both = pi_a[:, :, None] * pi_b[:, None, :]  # (P, K, K): P(A says i and B says j)
    return np.mean(np.sum(both * better, axis=(1, 2)))
''',
    hints=(
        "`better = (gold[:, :, None] > gold[:, None, :]) + 0.5 * (gold[:, :, None] == "
        "gold[:, None, :])` has shape `(P, K, K)`: the credit of response `i` against `j`.",
        "`pi_a[:, :, None] * pi_b[:, None, :]` is the probability that A says `i` and B says "
        "`j`, for every pair at once.",
        "Sum their product over the last two axes (one win probability per prompt), then take "
        "the mean over prompts.",
    ),
    wrong=(
        Wrong(
            "gives ties no credit",
            """import numpy as np


def win_rate(pi_a, pi_b, gold):
    better = gold[:, :, None] > gold[:, None, :]
    both = pi_a[:, :, None] * pi_b[:, None, :]
    return np.mean(np.sum(both * better, axis=(1, 2)))
""",
        ),
        Wrong(
            "counts ties as full wins",
            """import numpy as np


def win_rate(pi_a, pi_b, gold):
    better = gold[:, :, None] >= gold[:, None, :]
    both = pi_a[:, :, None] * pi_b[:, None, :]
    return np.mean(np.sum(both * better, axis=(1, 2)))
""",
        ),
        Wrong(
            "adds up the prompts instead of averaging them",
            """import numpy as np


def win_rate(pi_a, pi_b, gold):
    better = (gold[:, :, None] > gold[:, None, :]) + 0.5 * (gold[:, :, None] == gold[:, None, :])
    return np.sum(pi_a[:, :, None] * pi_b[:, None, :] * better)
""",
        ),
    ),
    targets=(Target("win_rate", _win_rate),),
    examples=(
        Case(
            {
                "pi_a": np.array([[0.2, 0.5, 0.3]]),
                "pi_b": np.array([[0.2, 0.5, 0.3]]),
                "gold": np.array([[1.0, 2.0, 3.0]]),
            },
            "a policy against itself",
        ),
    ),
    random_case=_random_win,
    edges=(
        Case(
            {
                "pi_a": np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]),
                "pi_b": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
                "gold": np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]),
            },
            "an edge case: certain policies; the second prompt's responses are all equal",
        ),
    ),
)

EXERCISES = (KL_REWARDS, WIN_RATE)
