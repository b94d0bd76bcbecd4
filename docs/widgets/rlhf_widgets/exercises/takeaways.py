"""Exercises of lesson 8 (takeaways): rewards on a fixed scale, and the exact KL between two
table policies."""

from __future__ import annotations

import numpy as np

import rlhf_mini as rm
from rlhf_widgets.exercises.framework import Case, Exercise, Target, Wrong

LESSON = "08-takeaways"


def _random_scores(rng: np.random.Generator) -> Case:
    p, k = int(rng.integers(1, 5)), int(rng.integers(2, 6))
    return Case(
        {
            "scores": rng.normal(3.0, 2.0, size=(p, k)).round(2),
            "pi_ref": rng.dirichlet(np.ones(k), size=p).round(4),
        }
    )


WIN_PROBABILITY = Exercise(
    id="win-probability",
    lesson=LESSON,
    title="Rewards on a fixed scale",
    task=r"""
Takeaway 7: $\beta$ is a temperature in reward units, so rewards are put on a fixed scale
before it means anything. The course's PPO uses the Bradley–Terry probability that a response
beats the reference policy's typical answer:

$$
r_{\text{win}}(x, y) = \sigma\Big(r(x, y) - \mathbb{E}_{y' \sim \pi_{\text{ref}}(\cdot\mid x)}\big[r(x, y')\big]\Big).
$$

Write `win_probability_rewards(scores, pi_ref)` for tables of shape `(P, K)`: `scores[x, y]` is
the reward model's score of response $y$ to prompt $x$, `pi_ref[x, y]` the reference policy's
probability of it. Return shape `(P, K)`.
""",
    starter='''import numpy as np


def win_probability_rewards(scores, pi_ref):
    """sigmoid(score - the reference policy's expected score on the same prompt), (P, K)."""
    # Your code here.


win_probability_rewards(np.array([[2.0, 0.0]]), np.array([[0.5, 0.5]]))  # [[0.731, 0.269]]
''',
    solution='''import numpy as np


def win_probability_rewards(scores, pi_ref):
    """sigmoid(score - the reference policy's expected score on the same prompt), (P, K)."""
    baseline = np.sum(pi_ref * scores, axis=1, keepdims=True)  # (P, 1): E_ref[r] per prompt
    return 1.0 / (1.0 + np.exp(-(scores - baseline)))
''',
    hints=(
        "The baseline of prompt $x$ is `np.sum(pi_ref[x] * scores[x])`; for all prompts at "
        "once, sum over `axis=1`.",
        "Keep the summed axis (`keepdims=True`, shape `(P, 1)`) so that `scores - baseline` "
        "subtracts each prompt's baseline from its own row.",
    ),
    wrong=(
        Wrong(
            "drops keepdims: the baselines are subtracted along the wrong axis",
            """import numpy as np


def win_probability_rewards(scores, pi_ref):
    baseline = np.sum(pi_ref * scores, axis=1)
    return 1.0 / (1.0 + np.exp(-(scores - baseline)))
""",
        ),
        Wrong(
            "uses the plain mean of the scores, not the reference policy's expectation",
            """import numpy as np


def win_probability_rewards(scores, pi_ref):
    baseline = scores.mean(axis=1, keepdims=True)
    return 1.0 / (1.0 + np.exp(-(scores - baseline)))
""",
        ),
    ),
    targets=(Target("win_probability_rewards", rm.win_probability_rewards),),
    examples=(
        Case(
            {"scores": np.array([[2.0, 0.0]]), "pi_ref": np.array([[0.5, 0.5]])},
            "the example in the starting code",
        ),
    ),
    random_case=_random_scores,
    edges=(
        Case(
            {
                "scores": np.array([[1.0, 2.0, 3.0], [10.0, 0.0, 0.0], [0.0, 0.0, 5.0]]),
                "pi_ref": np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8], [1 / 3, 1 / 3, 1 / 3]]),
            },
            "an edge case: as many prompts as responses (3 x 3)",
        ),
    ),
    forbid=("win_probability_rewards", "sigmoid"),
)


def kl_reference(pi, pi_ref):
    """:meth:`rlhf_mini.SoftmaxPolicy.kl` for the policies with these probabilities (a
    probability of exactly 0 becomes the logit log(1e-300): its term is 0 to 1e-297)."""
    policy = rm.SoftmaxPolicy(np.log(np.maximum(pi, 1e-300)))
    return np.asarray(policy.kl(rm.SoftmaxPolicy(np.log(pi_ref))))


def _random_kl(rng: np.random.Generator) -> Case:
    p, k = int(rng.integers(1, 5)), int(rng.integers(2, 6))
    pi = rng.dirichlet(np.ones(k), size=p)
    pi[rng.random((p, k)) < 0.3] = 0.0  # responses the policy never gives
    pi[:, 0] += 1e-3  # every row keeps some mass
    return Case(
        {
            "pi": pi / pi.sum(axis=1, keepdims=True),
            "pi_ref": rng.dirichlet(np.ones(k), size=p) * 0.95 + 0.05 / k,
        }
    )


EXACT_KL = Exercise(
    id="exact-kl",
    lesson=LESSON,
    title="The exact KL between two policies",
    task=r"""
Takeaways 5 and 9 measure drift in nats of KL from the reference model. For the course's table
policies the KL is exact, one value per prompt:

$$
\mathrm{KL}\big(\pi \,\|\, \pi_{\text{ref}}\big)(x) = \sum_y \pi(y \mid x)\,\big(\log\pi(y \mid x) - \log\pi_{\text{ref}}(y \mid x)\big).
$$

Write `kl_divergence(pi, pi_ref)` for tables of shape `(P, K)`, returning shape `(P,)`. A
response the policy never gives ($\pi = 0$) contributes nothing ($0 \log 0 = 0$), although
`np.log(0)` is `-inf` and `0 * -inf` is `nan`. The reference gives every response some
probability.
""",
    starter='''import numpy as np


def kl_divergence(pi, pi_ref):
    """KL(pi || pi_ref) per prompt: pi, pi_ref (P, K) -> (P,)."""
    # Your code here.


kl_divergence(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]]))  # log 2 = 0.6931... once it works
''',
    solution='''import numpy as np


def kl_divergence(pi, pi_ref):
    """KL(pi || pi_ref) per prompt: pi, pi_ref (P, K) -> (P,)."""
    safe = np.where(pi > 0, pi, 1.0)  # log(1) = 0 where pi = 0, so no -inf appears
    terms = np.where(pi > 0, pi * (np.log(safe) - np.log(pi_ref)), 0.0)
    return terms.sum(axis=1)
''',
    hints=(
        "Without the zeros it is one line: `np.sum(pi * (np.log(pi) - np.log(pi_ref)), axis=1)`.",
        "`np.where(pi > 0, ..., 0.0)` keeps a term only where the policy gives the response "
        "some probability. Take the log of `np.where(pi > 0, pi, 1.0)` so that no `-inf` is "
        "ever computed.",
    ),
    wrong=(
        Wrong(
            "computes 0 * log 0 as nan",
            """import numpy as np


def kl_divergence(pi, pi_ref):
    return np.sum(pi * (np.log(pi) - np.log(pi_ref)), axis=1)
""",
        ),
        Wrong(
            "swaps the two policies: KL(pi_ref || pi)",
            """import numpy as np


def kl_divergence(pi, pi_ref):
    safe = np.where(pi > 0, pi, 1e-300)
    return np.sum(pi_ref * (np.log(pi_ref) - np.log(safe)), axis=1)
""",
        ),
    ),
    targets=(Target("kl_divergence", kl_reference),),
    examples=(
        Case(
            {"pi": np.array([[1.0, 0.0]]), "pi_ref": np.array([[0.5, 0.5]])},
            "the example in the starting code",
        ),
        Case(
            {"pi": np.array([[0.2, 0.3, 0.5]]), "pi_ref": np.array([[0.2, 0.3, 0.5]])},
            "a policy equal to the reference (KL 0)",
        ),
    ),
    random_case=_random_kl,
    edges=(
        Case(
            {
                "pi": np.array([[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]]),
                "pi_ref": np.array([[0.25, 0.25, 0.5], [0.1, 0.1, 0.8]]),
            },
            "an edge case: responses the policy never gives",
        ),
    ),
    forbid=("kl",),
)

EXERCISES = (WIN_PROBABILITY, EXACT_KL)
