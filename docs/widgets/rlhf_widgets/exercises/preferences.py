"""Exercises of lesson 2 (human preferences): the Bradley–Terry probability, its loss and
the loss's gradient."""

from __future__ import annotations

import numpy as np

import rlhf_mini as rm
from rlhf_widgets.exercises.framework import Case, Exercise, Target, Wrong

LESSON = "02-human-preferences"


def _scores(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, 3.0, size=int(rng.integers(1, 7))).round(3)


def _random_pair(rng: np.random.Generator) -> Case:
    a = _scores(rng)
    return Case({"r_a": a, "r_b": rng.normal(0.0, 3.0, size=a.shape).round(3)})


PROBABILITY = Exercise(
    id="bt-probability",
    lesson=LESSON,
    title="The Bradley–Terry probability",
    task=r"""
Write `preference_probability(r_a, r_b)`: the probability that a labeller prefers response A
to response B under Bradley–Terry,

$$
P(A \succ B) = \frac{e^{r_A}}{e^{r_A} + e^{r_B}} = \sigma(r_A - r_B),
\qquad \sigma(z) = \frac{1}{1 + e^{-z}} .
$$

The scores may be numbers or numpy arrays of the same shape; return the same shape. Scores can
be large (a reward model's scale is arbitrary): two responses that both score 800 are a coin
flip.
""",
    starter='''import numpy as np


def preference_probability(r_a, r_b):
    """P(A preferred to B) under Bradley–Terry, elementwise."""
    # Your code here.


preference_probability(2.0, 0.0)  # about 0.8808 once it works
''',
    solution='''import numpy as np


def preference_probability(r_a, r_b):
    """P(A preferred to B) under Bradley–Terry, elementwise."""
    return 1.0 / (1.0 + np.exp(-(r_a - r_b)))
''',
    hints=(
        "Only the difference of the scores matters: compute `d = r_a - r_b` first.",
        "$\\sigma(d)$ is `1 / (1 + np.exp(-d))`; numpy applies it to every element of an array.",
        "If you wrote $e^{r_A} / (e^{r_A} + e^{r_B})$, try $r_A = r_B = 800$: both "
        "exponentials overflow to `inf`, and `inf / inf` is `nan`. The form "
        "$\\sigma(r_A - r_B)$ never sees the large scores, only their difference.",
    ),
    wrong=(
        Wrong(
            "takes the difference the wrong way round: P(B preferred to A)",
            """import numpy as np


def preference_probability(r_a, r_b):
    return 1.0 / (1.0 + np.exp(-(r_b - r_a)))
""",
        ),
        Wrong(
            "the first form of the formula: exponentials of large scores overflow",
            """import numpy as np


def preference_probability(r_a, r_b):
    return np.exp(r_a) / (np.exp(r_a) + np.exp(r_b))
""",
        ),
    ),
    targets=(Target("preference_probability", rm.preference_probability),),
    examples=(
        Case(
            {"r_a": np.array([0.0, 1.0, 4.0]), "r_b": np.zeros(3)},
            "the lesson's arrays",
        ),
        Case({"r_a": 2.0, "r_b": 0.0}, "the lesson's worked example"),
    ),
    random_case=_random_pair,
    edges=(
        Case(
            {"r_a": np.array([800.0, -800.0]), "r_b": np.array([800.0, -800.0])},
            "an edge case: equal, very large scores (a coin flip)",
        ),
        Case(
            {"r_a": np.array([-50.0]), "r_b": np.array([50.0])},
            "an edge case: a difference of -100",
        ),
    ),
    forbid=("preference_probability", "sigmoid", "log_sigmoid"),
)


def _random_comparisons(rng: np.random.Generator) -> Case:
    c = _scores(rng)
    return Case({"r_chosen": c, "r_rejected": rng.normal(0.0, 3.0, size=c.shape).round(3)})


LOSS = Exercise(
    id="bt-loss",
    lesson=LESSON,
    title="The Bradley–Terry loss",
    task=r"""
Write `bradley_terry_loss(r_chosen, r_rejected)`: the mean negative log-likelihood of the
labellers' choices,

$$
\mathcal{L} = -\frac{1}{m}\sum_{k=1}^{m} \log \sigma\big(r_{c,k} - r_{r,k}\big),
$$

where `r_chosen[k]` and `r_rejected[k]` are the scores of the chosen and the rejected response
of comparison $k$ (arrays of shape `(m,)`). Return one number. It must stay finite when a pair
is badly wrong: for $r_c - r_r = -800$ that pair's loss is 800, not infinity.
""",
    starter='''import numpy as np


def bradley_terry_loss(r_chosen, r_rejected):
    """Mean of -log sigmoid(r_chosen - r_rejected) over the comparisons."""
    # Your code here.


bradley_terry_loss(np.zeros(4), np.zeros(4))  # log 2 = 0.6931... once it works
''',
    solution='''import numpy as np


def bradley_terry_loss(r_chosen, r_rejected):
    """Mean of -log sigmoid(r_chosen - r_rejected) over the comparisons."""
    d = r_chosen - r_rejected
    return np.mean(np.logaddexp(0.0, -d))  # -log sigmoid(d) = log(1 + e^-d), no overflow
''',
    hints=(
        "With `d = r_chosen - r_rejected` (one difference per comparison) the loss is the "
        "mean of $-\\log \\sigma(d)$.",
        "$-\\log \\sigma(d) = \\log(1 + e^{-d})$. For $d = -800$, `np.exp(800)` overflows to "
        "`inf`.",
        "`np.logaddexp(a, b)` computes $\\log(e^a + e^b)$ without overflow, so "
        "$-\\log\\sigma(d)$ is `np.logaddexp(0, -d)`.",
    ),
    wrong=(
        Wrong(
            "takes the log of the sigmoid: 0 for a badly wrong pair, so an infinite loss",
            """import numpy as np


def bradley_terry_loss(r_chosen, r_rejected):
    return np.mean(-np.log(1 / (1 + np.exp(-(r_chosen - r_rejected)))))
""",
        ),
        Wrong(
            "sums over the comparisons instead of averaging",
            """import numpy as np


def bradley_terry_loss(r_chosen, r_rejected):
    return np.sum(np.logaddexp(0.0, -(r_chosen - r_rejected)))
""",
        ),
        Wrong(
            "rewards the rejected response (the difference the wrong way round)",
            """import numpy as np


def bradley_terry_loss(r_chosen, r_rejected):
    return np.mean(np.logaddexp(0.0, -(r_rejected - r_chosen)))
""",
        ),
    ),
    targets=(Target("bradley_terry_loss", rm.bradley_terry_loss),),
    examples=(
        Case({"r_chosen": np.zeros(4), "r_rejected": np.zeros(4)}, "knowing nothing (log 2)"),
        Case({"r_chosen": np.array([2.0]), "r_rejected": np.array([0.0])}, "one pair, right by 2"),
    ),
    random_case=_random_comparisons,
    edges=(
        Case(
            {"r_chosen": np.array([-800.0, 1.0]), "r_rejected": np.array([0.0, 0.0])},
            "an edge case: a pair the model gets wrong by 800",
        ),
        Case(
            {"r_chosen": np.array([800.0]), "r_rejected": np.array([0.0])},
            "an edge case: a pair the model gets right by 800",
        ),
    ),
    forbid=("bradley_terry_loss", "log_sigmoid", "reward_model_loss"),
)


GRAD = Exercise(
    id="bt-grad",
    lesson=LESSON,
    title="The gradient of the Bradley–Terry loss",
    task=r"""
Write `bradley_terry_loss_grad(r_chosen, r_rejected)`: the gradient of the mean loss of the
previous exercise with respect to every score, as two arrays
`(grad_chosen, grad_rejected)` of shape `(m,)`: `grad_chosen[k]` is
$\partial \mathcal{L} / \partial r_{c,k}$ and `grad_rejected[k]` is
$\partial \mathcal{L} / \partial r_{r,k}$.

The lesson's example: for pairs right by 3, undecided, and wrong by 3,
`grad_chosen` is about `[-0.0158, -0.1667, -0.3175]`: pairs the model gets wrong push hardest.
""",
    starter='''import numpy as np


def bradley_terry_loss_grad(r_chosen, r_rejected):
    """d loss / d r_chosen and d loss / d r_rejected, each of shape (m,)."""
    # Your code here.


bradley_terry_loss_grad(np.array([3.0, 0.0, -3.0]), np.zeros(3))
''',
    solution='''import numpy as np


def bradley_terry_loss_grad(r_chosen, r_rejected):
    """d loss / d r_chosen and d loss / d r_rejected, each of shape (m,)."""
    m = len(r_chosen)
    d = r_chosen - r_rejected
    weight = 1.0 / (1.0 + np.exp(d))  # sigmoid(-d): near 1 for pairs the model gets wrong
    return -weight / m, weight / m
''',
    hints=(
        "The derivative of $-\\log\\sigma(d)$ with respect to $d$ is $-\\sigma(-d)$.",
        "$d = r_c - r_r$, so $\\partial d / \\partial r_c = +1$ and "
        "$\\partial d / \\partial r_r = -1$. The mean divides every term by $m$.",
        "So `grad_chosen = -sigmoid(-d) / m` and `grad_rejected = +sigmoid(-d) / m`, with "
        "`sigmoid(-d) = 1 / (1 + np.exp(d))`.",
    ),
    wrong=(
        Wrong(
            "forgets that the loss is a mean (no division by m)",
            """import numpy as np


def bradley_terry_loss_grad(r_chosen, r_rejected):
    weight = 1.0 / (1.0 + np.exp(r_chosen - r_rejected))
    return -weight, weight
""",
        ),
        Wrong(
            "uses sigmoid(d) instead of sigmoid(-d): pushes hardest on pairs already right",
            """import numpy as np


def bradley_terry_loss_grad(r_chosen, r_rejected):
    m = len(r_chosen)
    weight = 1.0 / (1.0 + np.exp(-(r_chosen - r_rejected)))
    return -weight / m, weight / m
""",
        ),
    ),
    targets=(Target("bradley_terry_loss_grad", rm.bradley_terry_loss_grad),),
    examples=(
        Case(
            {"r_chosen": np.array([3.0, 0.0, -3.0]), "r_rejected": np.zeros(3)},
            "the lesson's example",
        ),
    ),
    random_case=_random_comparisons,
    edges=(
        Case(
            {"r_chosen": np.array([-800.0, 800.0]), "r_rejected": np.array([0.0, 0.0])},
            "an edge case: pairs wrong and right by 800",
        ),
    ),
    outputs=("grad_chosen", "grad_rejected"),
    forbid=("bradley_terry_loss_grad", "reward_model_loss", "sigmoid"),
)

EXERCISES = (PROBABILITY, LOSS, GRAD)
