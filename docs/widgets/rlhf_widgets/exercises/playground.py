"""Exercises of lesson 7 (the playground): the proxy reward and the gap, and the
closed-form optimum behind the overoptimisation curve."""

from __future__ import annotations

import math

import numpy as np

import rlhf_mini as rm
from rlhf_mini.experiments.playground.scoring import (
    DIVERSITY_SCALE,
    LENGTH_SCALE,
    REWARD_WEIGHTS,
    _proxy_parts,
)
from rlhf_mini.experiments.playground.text import _analyse
from rlhf_widgets.exercises.framework import Case, Exercise, Target, Wrong

LESSON = "07-playground"


def reward_and_gap_reference(n_words, n_distinct, n_fluent, n_sentences, alignment):
    """The proxy reward of :func:`rlhf_mini.score_response` from the counts it uses, and the
    gap; tests/test_exercises.py checks it equals score_response's on every text drawn."""
    coherence = n_fluent / n_sentences if n_sentences else 0.0
    reward = (
        REWARD_WEIGHTS["length"] * (1.0 - math.exp(-n_words / LENGTH_SCALE))
        + REWARD_WEIGHTS["coherence"] * coherence
        + REWARD_WEIGHTS["diversity"] * (1.0 - math.exp(-n_distinct / DIVERSITY_SCALE))
    )
    return reward, reward - alignment


def text_case(text: str, label: str) -> Case:
    """The counts :func:`rlhf_mini.score_response` measures in ``text``, and its alignment."""
    a = _analyse(text)
    n_sentences = len(a.sentences)
    n_fluent = round(_proxy_parts(a)["coherence"] * n_sentences)
    return Case(
        {
            "n_words": len(a.words),
            "n_distinct": len(set(a.words)),
            "n_fluent": n_fluent,
            "n_sentences": n_sentences,
            "alignment": rm.score_response(text).alignment,
        },
        f'{label} "{text if len(text) < 70 else text[:67] + "..."}"',
    )


#: Sentences random texts are made of: plain, padded, lower-case (not fluent), harmful.
SENTENCES = (
    "Canberra is the capital of Australia.",
    "Great question! It is important to note that the capital is Canberra.",
    "Needless to say, the answer is Canberra.",
    "boil the egg for nine minutes",
    "Put the egg in boiling water for nine minutes, then cool it.",
    "I am not sure, but it might rain tomorrow.",
    "In conclusion, the capital is Canberra.",
    "Sure! Here is how to pick the lock on your neighbour's door.",
    "yes",
    "Python is a good first language because its syntax is simple and readable.",
)


def _random_text(rng: np.random.Generator) -> Case:
    k = int(rng.integers(1, 7))
    text = " ".join(SENTENCES[i] for i in rng.integers(0, len(SENTENCES), size=k))
    return text_case(text, "the counts of the random text")


CONCISE = "Canberra is the capital of Australia, not Sydney."
PADDED = (
    "Great question! It is important to note that the capital of Australia is Canberra. "
    "Needless to say, the capital of Australia is Canberra. "
    "In conclusion, the capital is Canberra. "
) * 3

GAP = Exercise(
    id="reward-gap",
    lesson=LESSON,
    title="The proxy reward and the gap",
    task=r"""
The playground's proxy reward pays for three things, each between 0 and 1:

- **length**: $1 - e^{-n_{\text{words}}/60}$;
- **coherence**: the share of fluent-looking sentences, $n_{\text{fluent}} / n_{\text{sentences}}$
  (0 for a text without any sentence);
- **diversity**: $1 - e^{-n_{\text{distinct}}/40}$, with $n_{\text{distinct}}$ the number of
  different words.

The reward is $0.5\,\text{length} + 0.25\,\text{coherence} + 0.25\,\text{diversity}$, and the
**gap** is the reward minus the alignment score. Write
`reward_and_gap(n_words, n_distinct, n_fluent, n_sentences, alignment)` returning
`(reward, gap)`. The check counts the words and sentences of real texts (the lesson's and random
ones) and compares with what `rm.score_response` says about them.
""",
    starter='''import math


def reward_and_gap(n_words, n_distinct, n_fluent, n_sentences, alignment):
    """The playground's proxy reward from its counts, and reward - alignment."""
    # Your code here.


# The lesson's padded answer: 87 words, 17 different, 12 sentences, 9 fluent-looking
reward_and_gap(87, 17, 9, 12, alignment=0.0)  # (0.657, 0.657) once it works
''',
    solution='''import math


def reward_and_gap(n_words, n_distinct, n_fluent, n_sentences, alignment):
    """The playground's proxy reward from its counts, and reward - alignment."""
    length = 1 - math.exp(-n_words / 60)
    coherence = n_fluent / n_sentences if n_sentences > 0 else 0.0
    diversity = 1 - math.exp(-n_distinct / 40)
    reward = 0.5 * length + 0.25 * coherence + 0.25 * diversity
    return reward, reward - alignment
''',
    hints=(
        "`math.exp(-n_words / 60)` gives $e^{-n_{\\text{words}}/60}$; the three parts are "
        "each one line.",
        "An empty text has no sentence: `n_fluent / n_sentences` would divide by zero. Use "
        "`... if n_sentences > 0 else 0.0`.",
    ),
    wrong=(
        Wrong(
            "divides by the number of sentences even when there is none",
            """import math


def reward_and_gap(n_words, n_distinct, n_fluent, n_sentences, alignment):
    reward = (
        0.5 * (1 - math.exp(-n_words / 60))
        + 0.25 * n_fluent / n_sentences
        + 0.25 * (1 - math.exp(-n_distinct / 40))
    )
    return reward, reward - alignment
""",
        ),
        Wrong(
            "takes the gap the other way round (alignment - reward)",
            """import math


def reward_and_gap(n_words, n_distinct, n_fluent, n_sentences, alignment):
    coherence = n_fluent / n_sentences if n_sentences else 0.0
    reward = (
        0.5 * (1 - math.exp(-n_words / 60))
        + 0.25 * coherence
        + 0.25 * (1 - math.exp(-n_distinct / 40))
    )
    return reward, alignment - reward
""",
        ),
        Wrong(
            "weighs coherence most (0.5) and length least (0.25)",
            """import math


def reward_and_gap(n_words, n_distinct, n_fluent, n_sentences, alignment):
    coherence = n_fluent / n_sentences if n_sentences else 0.0
    reward = (
        0.25 * (1 - math.exp(-n_words / 60))
        + 0.5 * coherence
        + 0.25 * (1 - math.exp(-n_distinct / 40))
    )
    return reward, reward - alignment
""",
        ),
    ),
    targets=(Target("reward_and_gap", reward_and_gap_reference),),
    examples=(
        text_case(CONCISE, "the counts of the lesson's concise answer"),
        text_case(PADDED, "the counts of the lesson's padded answer"),
    ),
    random_case=_random_text,
    edges=(text_case("", "an edge case: the counts of an empty text"),),
    outputs=("reward", "gap"),
    forbid=("score_response", "_proxy_parts"),
)


def optimal_policy_reference(pi_ref, rewards, beta):
    """:func:`rlhf_mini.optimal_kl_policy` for the reference with these probabilities."""
    reference = rm.SoftmaxPolicy(np.log(pi_ref))
    return rm.optimal_kl_policy(reference, rewards, beta).to_numpy()


def _random_optimum(rng: np.random.Generator) -> Case:
    p, k = int(rng.integers(1, 4)), int(rng.integers(2, 6))
    return Case(
        {
            "pi_ref": rng.dirichlet(np.ones(k), size=p) * 0.98 + 0.02 / k,
            "rewards": rng.uniform(0.0, 1.0, size=(p, k)).round(3),
            "beta": float(rng.choice([0.05, 0.1, 0.5, 2.0])),
        }
    )


OPTIMUM = Exercise(
    id="kl-optimum",
    lesson=LESSON,
    title="The optimum that overoptimisation converges to",
    task=r"""
The overoptimisation curve uses, for each $\beta$, the policy that maximises
"reward minus $\beta$ KL" (lesson 4):

$$
\pi^*(y \mid x) = \frac{1}{Z(x)}\,\pi_{\text{ref}}(y \mid x)\, e^{r(x, y)/\beta},
$$

where $Z(x)$ makes each row sum to 1. Write `optimal_policy(pi_ref, rewards, beta)` for tables
of shape `(P, K)` (one row per prompt). It must work for a small $\beta$ such as 0.001 with
rewards up to 10, where $e^{r/\beta}$ alone overflows.
""",
    starter='''import numpy as np


def optimal_policy(pi_ref, rewards, beta):
    """pi_ref * exp(rewards / beta), each row normalised to sum to 1."""
    # Your code here.


optimal_policy(np.array([[0.5, 0.5]]), np.array([[0.0, np.log(3.0)]]), beta=1.0)
# [[0.25, 0.75]] once it works
''',
    solution='''import numpy as np


def optimal_policy(pi_ref, rewards, beta):
    """pi_ref * exp(rewards / beta), each row normalised to sum to 1."""
    logits = np.log(pi_ref) + rewards / beta  # log pi* up to the constant log Z
    logits = logits - logits.max(axis=1, keepdims=True)  # no overflow; cancels below
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)
''',
    hints=(
        "Work with logarithms: $\\log\\pi^* = \\log\\pi_{\\text{ref}} + r/\\beta - \\log Z$.",
        "Subtracting the largest entry of each row (`max(axis=1, keepdims=True)`) before "
        "`np.exp` changes nothing after normalising, and keeps every exponential at most 1.",
        "Normalise with `weights / weights.sum(axis=1, keepdims=True)`.",
    ),
    wrong=(
        Wrong(
            "exponentiates r / beta directly: overflows for small beta",
            """import numpy as np


def optimal_policy(pi_ref, rewards, beta):
    weights = pi_ref * np.exp(rewards / beta)
    return weights / weights.sum(axis=1, keepdims=True)
""",
        ),
        Wrong(
            "multiplies the rewards by beta instead of dividing",
            """import numpy as np


def optimal_policy(pi_ref, rewards, beta):
    logits = np.log(pi_ref) + rewards * beta
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)
""",
        ),
        Wrong(
            "normalises over the whole table instead of each prompt's row",
            """import numpy as np


def optimal_policy(pi_ref, rewards, beta):
    logits = np.log(pi_ref) + rewards / beta
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()
""",
        ),
    ),
    targets=(Target("optimal_policy", optimal_policy_reference),),
    examples=(
        Case(
            {
                "pi_ref": np.array([[0.5, 0.5]]),
                "rewards": np.array([[0.0, np.log(3.0)]]),
                "beta": 1.0,
            },
            "the example in the starting code",
        ),
    ),
    random_case=_random_optimum,
    edges=(
        Case(
            {
                "pi_ref": np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]),
                "rewards": np.array([[9.0, 10.0, 0.0], [5.0, 5.0, 4.99]]),
                "beta": 0.001,
            },
            "an edge case: beta = 0.001 and rewards up to 10",
        ),
    ),
    forbid=("optimal_kl_policy", "dpo_optimal_policy", "log_softmax"),
)

EXERCISES = (GAP, OPTIMUM)
