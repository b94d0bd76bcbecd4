"""Exercises of lesson 6 (DPO): the DPO loss and implicit rewards, IPO, the DPO gradient."""

from __future__ import annotations

import numpy as np

import rlhf_mini as rm
from rlhf_widgets.exercises.framework import Case, Exercise, Target, Wrong

LESSON = "06-dpo"
ARGS = ("pc", "pr", "rc", "rr", "beta")


def _case(pc, pr, rc, rr, beta, label) -> Case:
    return Case(
        dict(
            zip(
                ARGS,
                (np.asarray(pc), np.asarray(pr), np.asarray(rc), np.asarray(rr), beta),
                strict=True,
            )
        ),
        label,
    )


def _random_pairs(rng: np.random.Generator) -> Case:
    n = int(rng.integers(1, 6))
    rc, rr = rng.uniform(-30.0, -5.0, n).round(2), rng.uniform(-30.0, -5.0, n).round(2)
    pc, pr = (rc + rng.normal(0.0, 3.0, n)).round(2), (rr + rng.normal(0.0, 3.0, n)).round(2)
    beta = float(rng.choice([0.05, 0.1, 0.5, 1.0]))
    return _case(pc, pr, rc, rr, beta, "a random batch of pairs")


_SAME = _case(
    [-12.0, -3.0],
    [-20.0, -7.0],
    [-12.0, -3.0],
    [-20.0, -7.0],
    0.1,
    "the policy equal to the reference",
)
_LESSON = _case([-12.0], [-15.0], [-10.0], [-16.0], 0.1, "the lesson's example")
_FAR = _case(
    [-1.0e4, -1.0],
    [-1.0, -1.0e4],
    [-1.0, -1.0],
    [-1.0, -1.0],
    0.1,
    "an edge case: pairs with beta * h of about -1000 and +1000",
)

_TASK_H = r"""
Each argument is an array with one entry per preference pair (shape `(n,)`): `pc`, `pr` are the
policy's log-probabilities $\log\pi(y_w)$, $\log\pi(y_l)$ of the chosen and the rejected
response, and `rc`, `rr` the same under the frozen reference model. With

$$
h = \big(\log\pi(y_w) - \log\pi_{\text{ref}}(y_w)\big) - \big(\log\pi(y_l) - \log\pi_{\text{ref}}(y_l)\big),
$$
"""

LOSS = Exercise(
    id="dpo-loss",
    lesson=LESSON,
    title="The DPO loss and its implicit rewards",
    task=_TASK_H
    + r"""
write `dpo_loss(pc, pr, rc, rr, beta)` returning `(losses, chosen_rewards, rejected_rewards)`:
the per-pair losses $-\log\sigma(\beta h)$ and the implicit rewards
$\beta(\log\pi(y_w) - \log\pi_{\text{ref}}(y_w))$ and $\beta(\log\pi(y_l) - \log\pi_{\text{ref}}(y_l))$.
The loss must stay finite for a pair with $\beta h = -1000$ (its loss is about 1000).
""",
    starter='''import numpy as np


def dpo_loss(pc, pr, rc, rr, beta):
    """Per-pair DPO losses, chosen rewards and rejected rewards, each (n,)."""
    # Your code here.


dpo_loss(np.array([-12.0]), np.array([-15.0]), np.array([-10.0]), np.array([-16.0]), beta=0.1)
# losses about [0.854], rewards [-0.2] and [0.1]
''',
    solution='''import numpy as np


def dpo_loss(pc, pr, rc, rr, beta):
    """Per-pair DPO losses, chosen rewards and rejected rewards, each (n,)."""
    h = (pc - rc) - (pr - rr)
    losses = np.logaddexp(0.0, -beta * h)  # -log sigmoid(beta h), without overflow
    return losses, beta * (pc - rc), beta * (pr - rr)
''',
    hints=(
        "`h = (pc - rc) - (pr - rr)`: how much more the policy favours the chosen response "
        "than the reference does.",
        "$-\\log\\sigma(z) = \\log(1 + e^{-z})$ is `np.logaddexp(0, -z)`: it never overflows "
        "(lesson 2's exercise on the Bradley–Terry loss).",
        "The implicit rewards are `beta * (pc - rc)` and `beta * (pr - rr)`.",
    ),
    wrong=(
        Wrong(
            "computes log(sigmoid) directly: infinite for a pair with beta h = -1000",
            """import numpy as np


def dpo_loss(pc, pr, rc, rr, beta):
    h = (pc - rc) - (pr - rr)
    losses = -np.log(1 / (1 + np.exp(-beta * h)))
    return losses, beta * (pc - rc), beta * (pr - rr)
""",
        ),
        Wrong(
            "adds the reference log-probabilities instead of subtracting them",
            """import numpy as np


def dpo_loss(pc, pr, rc, rr, beta):
    h = (pc + rc) - (pr + rr)
    return np.logaddexp(0.0, -beta * h), beta * (pc - rc), beta * (pr - rr)
""",
        ),
        Wrong(
            "leaves beta out of the implicit rewards",
            """import numpy as np


def dpo_loss(pc, pr, rc, rr, beta):
    h = (pc - rc) - (pr - rr)
    return np.logaddexp(0.0, -beta * h), pc - rc, pr - rr
""",
        ),
    ),
    targets=(Target("dpo_loss", lambda pc, pr, rc, rr, beta: rm.dpo_loss(pc, pr, rc, rr, beta)),),
    examples=(_SAME, _LESSON),
    random_case=_random_pairs,
    edges=(_FAR,),
    outputs=("losses", "chosen_rewards", "rejected_rewards"),
    forbid=("dpo_loss", "dpo_loss_grad", "log_sigmoid"),
)

IPO = Exercise(
    id="ipo-loss",
    lesson=LESSON,
    title="IPO: a squared loss with a target margin",
    task=_TASK_H
    + r"""
IPO (Azar et al. 2023, arXiv 2310.12036) replaces DPO's $-\log\sigma(\beta h)$ by a squared
distance to a target margin,

$$
\big(h - \tfrac{1}{2\beta}\big)^2 ,
$$

so a pair stops being pushed once its margin $h$ reaches $1/(2\beta)$, while DPO's loss keeps
rewarding ever larger margins. Write `ipo_loss(pc, pr, rc, rr, beta)`: the per-pair losses.
""",
    starter='''import numpy as np


def ipo_loss(pc, pr, rc, rr, beta):
    """Per-pair IPO losses (h - 1 / (2 beta))^2, shape (n,)."""
    # Your code here.


ipo_loss(np.array([-12.0]), np.array([-20.0]), np.array([-12.0]), np.array([-20.0]), beta=0.1)
# policy == reference: h = 0, loss (1 / 0.2)^2 = 25
''',
    solution='''import numpy as np


def ipo_loss(pc, pr, rc, rr, beta):
    """Per-pair IPO losses (h - 1 / (2 beta))^2, shape (n,)."""
    h = (pc - rc) - (pr - rr)
    return (h - 1 / (2 * beta)) ** 2
''',
    hints=(
        "`h = (pc - rc) - (pr - rr)`, as in the DPO loss.",
        "The target margin is `1 / (2 * beta)`; square the difference with `** 2`.",
    ),
    wrong=(
        Wrong(
            "scales h by beta, as DPO does: beta^2 times the IPO loss",
            """import numpy as np


def ipo_loss(pc, pr, rc, rr, beta):
    h = (pc - rc) - (pr - rr)
    return (beta * h - 0.5) ** 2
""",
        ),
        Wrong(
            "targets a margin of 1 / beta instead of 1 / (2 beta)",
            """import numpy as np


def ipo_loss(pc, pr, rc, rr, beta):
    h = (pc - rc) - (pr - rr)
    return (h - 1 / beta) ** 2
""",
        ),
    ),
    targets=(
        Target(
            "ipo_loss",
            lambda pc, pr, rc, rr, beta: rm.dpo_loss(pc, pr, rc, rr, beta, loss_type="ipo")[0],
        ),
    ),
    examples=(_SAME, _LESSON),
    random_case=_random_pairs,
    edges=(
        _case([-5.0], [-10.0], [-5.0], [-5.0], 0.1, "an edge case: a pair exactly at the margin"),
    ),
    forbid=("dpo_loss", "dpo_loss_grad"),
)

GRAD = Exercise(
    id="dpo-grad",
    lesson=LESSON,
    title="What DPO's gradient pays attention to",
    task=_TASK_H
    + r"""
write `dpo_loss_grad(pc, pr, rc, rr, beta)`: the derivatives of each pair's DPO loss
$-\log\sigma(\beta h)$ with respect to the policy's log-probabilities, returned as
`(grad_chosen, grad_rejected)` (shape `(n,)` each). The lesson's example: a pair unchanged from
the reference gets $-\beta/2$, one already moved the right way less.
""",
    starter='''import numpy as np


def dpo_loss_grad(pc, pr, rc, rr, beta):
    """d loss_i / d pc_i and d loss_i / d pr_i, each (n,)."""
    # Your code here.


dpo_loss_grad(
    np.array([-10.0, -8.0]),
    np.array([-16.0, -20.0]),
    np.array([-10.0, -10.0]),
    np.array([-16.0, -16.0]),
    beta=0.1,
)
# grad_chosen about [-0.05, -0.0354]
''',
    solution='''import numpy as np


def dpo_loss_grad(pc, pr, rc, rr, beta):
    """d loss_i / d pc_i and d loss_i / d pr_i, each (n,)."""
    h = (pc - rc) - (pr - rr)
    dl_dh = -beta / (1.0 + np.exp(beta * h))  # -beta sigmoid(-beta h)
    return dl_dh, -dl_dh  # dh/dpc = +1, dh/dpr = -1
''',
    hints=(
        "By the chain rule, $\\frac{d}{dh}\\big[-\\log\\sigma(\\beta h)\\big] = "
        "-\\beta\\,\\sigma(-\\beta h)$ (lesson 2: the derivative of $-\\log\\sigma(z)$ is "
        "$-\\sigma(-z)$).",
        "$h$ grows one for one with `pc` and falls one for one with `pr`: the two gradients "
        "are $\\partial L/\\partial h$ and its negative.",
    ),
    wrong=(
        Wrong(
            "uses sigma(beta h): pushes hardest on pairs already ranked right",
            """import numpy as np


def dpo_loss_grad(pc, pr, rc, rr, beta):
    h = (pc - rc) - (pr - rr)
    dl_dh = -beta / (1.0 + np.exp(-beta * h))
    return dl_dh, -dl_dh
""",
        ),
        Wrong(
            "forgets the factor beta of the chain rule",
            """import numpy as np


def dpo_loss_grad(pc, pr, rc, rr, beta):
    h = (pc - rc) - (pr - rr)
    dl_dh = -1.0 / (1.0 + np.exp(beta * h))
    return dl_dh, -dl_dh
""",
        ),
        Wrong(
            "gives the rejected response the same sign as the chosen one",
            """import numpy as np


def dpo_loss_grad(pc, pr, rc, rr, beta):
    h = (pc - rc) - (pr - rr)
    dl_dh = -beta / (1.0 + np.exp(beta * h))
    return dl_dh, dl_dh
""",
        ),
    ),
    targets=(
        Target(
            "dpo_loss_grad",
            lambda pc, pr, rc, rr, beta: rm.dpo_loss_grad(pc, pr, rc, rr, beta),
        ),
    ),
    examples=(
        _case(
            [-10.0, -8.0],
            [-16.0, -20.0],
            [-10.0, -10.0],
            [-16.0, -16.0],
            0.1,
            "the lesson's example",
        ),
    ),
    random_case=_random_pairs,
    edges=(_FAR,),
    outputs=("grad_chosen", "grad_rejected"),
    forbid=("dpo_loss", "dpo_loss_grad", "sigmoid"),
)

EXERCISES = (LOSS, IPO, GRAD)
