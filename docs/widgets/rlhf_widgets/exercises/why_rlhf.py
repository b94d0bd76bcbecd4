"""Exercises of lesson 1 (why RLHF): the pretraining loss, a policy's expected utility."""

from __future__ import annotations

import numpy as np

import rlhf_mini as rm
from rlhf_widgets.exercises.framework import Case, Exercise, Target, Wrong

LESSON = "01-why-rlhf"


def next_token_loss_reference(probs, tokens):
    """The lesson's pretraining loss, -1/T sum_t log p(x_t | x_<t) (the library has no
    function for it: its models are tables of responses, not of tokens)."""
    probs, tokens = np.asarray(probs, dtype=float), np.asarray(tokens)
    return -np.mean(np.log(probs[np.arange(len(tokens)), tokens]))


def _random_next_token(rng: np.random.Generator) -> Case:
    T, V = int(rng.integers(2, 9)), int(rng.integers(2, 7))
    probs = rng.dirichlet(np.ones(V), size=T) + 1e-3  # no probability exactly 0
    probs /= probs.sum(axis=1, keepdims=True)
    return Case({"probs": probs, "tokens": rng.integers(0, V, size=T)})


NEXT_TOKEN = Exercise(
    id="next-token-loss",
    lesson=LESSON,
    title="The pretraining loss",
    task=r"""
Write `next_token_loss(probs, tokens)`: the pretraining loss of this lesson,
$\mathcal{L} = -\frac{1}{T}\sum_{t=1}^{T} \log p(x_t \mid x_{<t})$.

- `probs` has one row per position $t$: the model's probabilities for every token of the
  vocabulary at that position (shape `(T, V)`, each row sums to 1);
- `tokens[t]` is the token that actually came next (integers, shape `(T,)`).

Return one number. The lesson's model that copies "Sydney 6 times, Canberra 4 times" has a
loss of about 0.673.
""",
    starter='''import numpy as np


def next_token_loss(probs, tokens):
    """Mean of -log p(next token); probs: (T, V) rows of probabilities, tokens: (T,) ints."""
    # Your code here.


# "Sydney" (token 0) 6 times, "Canberra" (token 1) 4 times; a model that copies the data:
probs = np.array([[0.6, 0.4]] * 10)
tokens = np.array([0] * 6 + [1] * 4)
next_token_loss(probs, tokens)  # about 0.673 once it works
''',
    solution='''import numpy as np


def next_token_loss(probs, tokens):
    """Mean of -log p(next token); probs: (T, V) rows of probabilities, tokens: (T,) ints."""
    T = len(tokens)
    p_next = probs[np.arange(T), tokens]  # (T,): the probability of each actual next token
    return -np.mean(np.log(p_next))
''',
    hints=(
        "`probs[t, tokens[t]]` is the probability the model gave, at position `t`, to the "
        "token that came next. `probs[np.arange(T), tokens]` picks all `T` of them at once "
        "(row `t`, column `tokens[t]`).",
        "Take the logarithm of those `T` probabilities, average them with `np.mean`, and "
        "flip the sign: a loss is smaller when the probabilities are larger.",
    ),
    wrong=(
        Wrong(
            "indexes the columns for every row (a (T, T) table), not one entry per row",
            """import numpy as np


def next_token_loss(probs, tokens):
    return -np.mean(np.log(probs[:, tokens]))
""",
        ),
        Wrong(
            "sums over the positions instead of averaging",
            """import numpy as np


def next_token_loss(probs, tokens):
    return -np.sum(np.log(probs[np.arange(len(tokens)), tokens]))
""",
        ),
    ),
    targets=(Target("next_token_loss", next_token_loss_reference),),
    examples=(
        Case(
            {"probs": np.array([[0.6, 0.4]] * 10), "tokens": np.array([0] * 6 + [1] * 4)},
            "the lesson's model that copies the data",
        ),
    ),
    random_case=_random_next_token,
    edges=(
        Case(
            {"probs": np.array([[1.0, 0.0], [0.0, 1.0]]), "tokens": np.array([0, 1])},
            "an edge case: a model certain of every next token (loss 0)",
        ),
        Case(
            {"probs": np.array([[0.25, 0.75]]), "tokens": np.array([1])},
            "an edge case: a text of one token",
        ),
    ),
    forbid=("log_softmax",),
)


def expected_utility_reference(probs, utility):
    """:meth:`rlhf_mini.SoftmaxPolicy.expected`, for the policy with these probabilities."""
    return np.asarray(rm.SoftmaxPolicy(np.log(probs)).expected(utility))


def _random_policy(rng: np.random.Generator) -> Case:
    P, K = int(rng.integers(1, 6)), int(rng.integers(2, 7))
    logits = rng.normal(0.0, 1.5, size=(P, K))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return Case({"probs": probs, "utility": rng.normal(4.0, 2.0, size=(P, K)).round(2)})


EXPECTED_UTILITY = Exercise(
    id="expected-utility",
    lesson=LESSON,
    title="A policy's expected utility",
    task=r"""
A policy is a table of probabilities: `probs[x, y]` $= \pi(y \mid x)$, one row per prompt
$x$, one column per candidate response $y$. Each response also has a gold utility
`utility[x, y]`. Write `expected_utility(probs, utility)`: the policy's expected utility on
each prompt,

$$
\mathbb{E}_{y \sim \pi(\cdot \mid x)}\big[u(x, y)\big] = \sum_y \pi(y \mid x)\, u(x, y),
$$

one number per prompt (shape `(P,)` for tables of shape `(P, K)`). Averaged over the prompts,
this is the 3.69 of the lesson's base model.
""",
    starter='''import numpy as np


def expected_utility(probs, utility):
    """Expected utility per prompt: probs, utility (P, K) -> (P,)."""
    # Your code here.


probs = np.array([[0.5, 0.5], [0.9, 0.1]])
utility = np.array([[1.0, 3.0], [10.0, 0.0]])
expected_utility(probs, utility)  # array([2., 9.]) once it works
''',
    solution='''import numpy as np


def expected_utility(probs, utility):
    """Expected utility per prompt: probs, utility (P, K) -> (P,)."""
    return np.sum(probs * utility, axis=1)
''',
    hints=(
        "`probs * utility` multiplies entry by entry: each response's probability times its "
        "utility, still one row per prompt.",
        "Sum each row: `np.sum(..., axis=1)` adds up the columns (the responses) and keeps one "
        "value per prompt.",
    ),
    wrong=(
        Wrong(
            "sums the whole table into one number",
            """import numpy as np


def expected_utility(probs, utility):
    return np.sum(probs * utility)
""",
        ),
        Wrong(
            "averages over the responses instead of weighting them by the policy",
            """import numpy as np


def expected_utility(probs, utility):
    return np.mean(probs * utility, axis=1)
""",
        ),
        Wrong(
            "sums over the prompts (axis 0) instead of the responses",
            """import numpy as np


def expected_utility(probs, utility):
    return np.sum(probs * utility, axis=0)
""",
        ),
    ),
    targets=(Target("expected_utility", expected_utility_reference),),
    examples=(
        Case(
            {
                "probs": np.array([[0.5, 0.5], [0.9, 0.1]]),
                "utility": np.array([[1.0, 3.0], [10.0, 0.0]]),
            },
            "the example in the starting code",
        ),
    ),
    random_case=_random_policy,
    edges=(
        Case(
            {"probs": np.array([[0.2, 0.3, 0.5]]), "utility": np.array([[7.0, 7.0, 7.0]])},
            "an edge case: one prompt whose responses all have utility 7",
        ),
    ),
    forbid=("expected",),
)

EXERCISES = (NEXT_TOKEN, EXPECTED_UTILITY)
