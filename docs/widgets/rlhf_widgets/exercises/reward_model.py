"""Exercises of lesson 3 (the reward model): its loss and gradient, training it by gradient
descent, and measuring how well it orders responses."""

from __future__ import annotations

import numpy as np

import rlhf_mini as rm
from rlhf_widgets.exercises.framework import Case, Exercise, Target, Wrong

LESSON = "03-reward-model"


def _features(rng: np.random.Generator, m: int, f: int) -> np.ndarray:
    return rng.normal(0.0, 1.0, size=(m, f)).round(2)


def _random_loss_case(rng: np.random.Generator) -> Case:
    m, f = int(rng.integers(1, 12)), int(rng.integers(1, 7))
    return Case(
        {
            "w": rng.normal(0.0, 1.0, size=f).round(2),
            "phi_chosen": _features(rng, m, f),
            "phi_rejected": _features(rng, m, f),
            "l2": float(rng.choice([0.0, 0.01, 0.5])),
        }
    )


_PHI_C = np.array([[1.0, 0.0, 2.0], [0.5, 1.0, 0.0]])
_PHI_R = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])

LOSS = Exercise(
    id="rm-loss",
    lesson=LESSON,
    title="The reward model's loss and its gradient",
    task=r"""
The linear reward model scores a response by $r_w(x, y) = w^\top \varphi(x, y)$. Write
`reward_model_loss(w, phi_chosen, phi_rejected, l2)`: the lesson's regularised Bradley–Terry
loss and its gradient with respect to $w$, returned as `(loss, grad)`:

$$
\mathcal{L}(w) = -\frac{1}{m}\sum_{i=1}^{m} \log \sigma\big(w^\top\varphi_{c,i} - w^\top\varphi_{r,i}\big) + \frac{\lambda}{2}\lVert w\rVert^2 .
$$

`w` has shape `(F,)`; row `i` of `phi_chosen` and of `phi_rejected` (shape `(m, F)`) holds the
features of comparison $i$'s chosen and rejected response; `l2` is $\lambda$. You may call
`rm.bradley_terry_loss` and `rm.bradley_terry_loss_grad` (lesson 2) for the part that only
sees the scores; the chain rule to $w$ is yours.
""",
    starter='''import numpy as np
import rlhf_mini as rm


def reward_model_loss(w, phi_chosen, phi_rejected, l2):
    """Regularised Bradley–Terry loss of the linear reward model, and its gradient (F,)."""
    # Your code here.


phi_chosen = np.array([[1.0, 0.0, 2.0], [0.5, 1.0, 0.0]])
phi_rejected = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
reward_model_loss(np.zeros(3), phi_chosen, phi_rejected, l2=0.1)  # loss log 2 at w = 0
''',
    solution='''import numpy as np
import rlhf_mini as rm


def reward_model_loss(w, phi_chosen, phi_rejected, l2):
    """Regularised Bradley–Terry loss of the linear reward model, and its gradient (F,)."""
    s_c, s_r = phi_chosen @ w, phi_rejected @ w  # (m,) scores
    loss = rm.bradley_terry_loss(s_c, s_r) + 0.5 * l2 * (w @ w)
    g_c, g_r = rm.bradley_terry_loss_grad(s_c, s_r)  # d loss / d scores, (m,) each
    grad = phi_chosen.T @ g_c + phi_rejected.T @ g_r + l2 * w  # chain rule: d s / d w = phi
    return loss, grad
''',
    hints=(
        "Scores first: `s_c = phi_chosen @ w` and `s_r = phi_rejected @ w`, shape `(m,)`. "
        "The loss is `rm.bradley_terry_loss(s_c, s_r)` plus the penalty.",
        "`g_c, g_r = rm.bradley_terry_loss_grad(s_c, s_r)` are the derivatives with respect to "
        "the scores. Since $\\partial s_i / \\partial w = \\varphi_i$, the chain rule adds up "
        "each $g_i$ times its row of features: `phi_chosen.T @ g_c + phi_rejected.T @ g_r`.",
        "The penalty $\\frac{\\lambda}{2}\\lVert w\\rVert^2$ is `0.5 * l2 * (w @ w)`; its "
        "gradient is `l2 * w`.",
    ),
    wrong=(
        Wrong(
            "forgets the penalty's gradient l2 * w",
            """import rlhf_mini as rm


def reward_model_loss(w, phi_chosen, phi_rejected, l2):
    s_c, s_r = phi_chosen @ w, phi_rejected @ w
    loss = rm.bradley_terry_loss(s_c, s_r) + 0.5 * l2 * (w @ w)
    g_c, g_r = rm.bradley_terry_loss_grad(s_c, s_r)
    return loss, phi_chosen.T @ g_c + phi_rejected.T @ g_r
""",
        ),
        Wrong(
            "subtracts the rejected part of the chain rule (its sign is already in g_r)",
            """import rlhf_mini as rm


def reward_model_loss(w, phi_chosen, phi_rejected, l2):
    s_c, s_r = phi_chosen @ w, phi_rejected @ w
    loss = rm.bradley_terry_loss(s_c, s_r) + 0.5 * l2 * (w @ w)
    g_c, g_r = rm.bradley_terry_loss_grad(s_c, s_r)
    return loss, phi_chosen.T @ g_c - phi_rejected.T @ g_r + l2 * w
""",
        ),
        Wrong(
            "penalises l2 ||w||^2 without the 1/2 (its gradient is then 2 l2 w)",
            """import rlhf_mini as rm


def reward_model_loss(w, phi_chosen, phi_rejected, l2):
    s_c, s_r = phi_chosen @ w, phi_rejected @ w
    loss = rm.bradley_terry_loss(s_c, s_r) + l2 * (w @ w)
    g_c, g_r = rm.bradley_terry_loss_grad(s_c, s_r)
    return loss, phi_chosen.T @ g_c + phi_rejected.T @ g_r + l2 * w
""",
        ),
    ),
    targets=(Target("reward_model_loss", rm.reward_model_loss),),
    examples=(
        Case(
            {"w": np.zeros(3), "phi_chosen": _PHI_C, "phi_rejected": _PHI_R, "l2": 0.1},
            "the example in the starting code (w = 0)",
        ),
        Case(
            {
                "w": np.array([1.0, -0.5, 0.25]),
                "phi_chosen": _PHI_C,
                "phi_rejected": _PHI_R,
                "l2": 0.1,
            },
            "the same comparisons, another w",
        ),
    ),
    random_case=_random_loss_case,
    edges=(
        Case(
            {
                "w": np.array([2.0]),
                "phi_chosen": np.array([[1.0]]),
                "phi_rejected": np.array([[-1.0]]),
                "l2": 0.0,
            },
            "an edge case: one comparison, one feature, no penalty",
        ),
    ),
    outputs=("loss", "grad"),
    forbid=("reward_model_loss", "mlp_reward_model_loss"),
)


def train_reference(phi_chosen, phi_rejected, lr, steps, l2):
    """Full-batch gradient descent from w = 0 with the library's gradient."""
    w = np.zeros(phi_chosen.shape[1])
    for _ in range(steps):
        _, grad = rm.reward_model_loss(w, phi_chosen, phi_rejected, l2)
        w = w - lr * grad
    return w


def _random_train_case(rng: np.random.Generator) -> Case:
    m, f = int(rng.integers(2, 16)), int(rng.integers(1, 6))
    return Case(
        {
            "phi_chosen": _features(rng, m, f),
            "phi_rejected": _features(rng, m, f),
            "lr": float(rng.choice([0.1, 0.5, 1.0])),
            "steps": int(rng.integers(1, 25)),
            "l2": float(rng.choice([0.0, 0.01, 0.1])),
        }
    )


TRAIN = Exercise(
    id="rm-train",
    lesson=LESSON,
    title="Training the reward model by gradient descent",
    task=r"""
Train the linear reward model: write `train(phi_chosen, phi_rejected, lr, steps, l2)` that
starts from $w = 0$, takes `steps` full-batch gradient steps

$$
w \leftarrow w - \text{lr}\;\nabla_w \mathcal{L}(w)
$$

and returns the final weights (shape `(F,)`). `rm.reward_model_loss(w, phi_chosen,
phi_rejected, l2)` returns `(loss, grad)`: the function of the previous exercise.
""",
    starter='''import numpy as np
import rlhf_mini as rm


def train(phi_chosen, phi_rejected, lr, steps, l2):
    """Weights after `steps` gradient-descent steps from w = 0, shape (F,)."""
    # Your code here.


phi_chosen = np.array([[1.0, 0.0, 2.0], [0.5, 1.0, 0.0]])
phi_rejected = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
train(phi_chosen, phi_rejected, lr=0.5, steps=20, l2=0.01)
''',
    solution='''import numpy as np
import rlhf_mini as rm


def train(phi_chosen, phi_rejected, lr, steps, l2):
    """Weights after `steps` gradient-descent steps from w = 0, shape (F,)."""
    w = np.zeros(phi_chosen.shape[1])  # one weight per feature
    for _ in range(steps):
        _, grad = rm.reward_model_loss(w, phi_chosen, phi_rejected, l2)
        w = w - lr * grad  # downhill: against the gradient
    return w
''',
    hints=(
        "`np.zeros(phi_chosen.shape[1])` is the starting point: one weight per feature.",
        "In a `for _ in range(steps):` loop, ask `rm.reward_model_loss` for the gradient at "
        "the current `w` and step against it.",
    ),
    wrong=(
        Wrong(
            "steps uphill (adds the gradient): the loss grows",
            """import numpy as np
import rlhf_mini as rm


def train(phi_chosen, phi_rejected, lr, steps, l2):
    w = np.zeros(phi_chosen.shape[1])
    for _ in range(steps):
        w = w + lr * rm.reward_model_loss(w, phi_chosen, phi_rejected, l2)[1]
    return w
""",
        ),
        Wrong(
            "takes one step fewer than asked",
            """import numpy as np
import rlhf_mini as rm


def train(phi_chosen, phi_rejected, lr, steps, l2):
    w = np.zeros(phi_chosen.shape[1])
    for _ in range(1, steps):
        w = w - lr * rm.reward_model_loss(w, phi_chosen, phi_rejected, l2)[1]
    return w
""",
        ),
    ),
    targets=(Target("train", train_reference),),
    examples=(
        Case(
            {"phi_chosen": _PHI_C, "phi_rejected": _PHI_R, "lr": 0.5, "steps": 20, "l2": 0.01},
            "the example in the starting code",
        ),
    ),
    random_case=_random_train_case,
    edges=(
        Case(
            {"phi_chosen": _PHI_C, "phi_rejected": _PHI_R, "lr": 0.5, "steps": 0, "l2": 0.0},
            "an edge case: no step at all (w stays 0)",
        ),
    ),
    forbid=("train_reward_model", "reward_model_training"),
)


def _random_accuracy_case(rng: np.random.Generator) -> Case:
    while True:
        p, k = int(rng.integers(1, 4)), int(rng.integers(2, 6))
        utility = rng.integers(0, 4, size=(p, k)).astype(float)  # small integers: ties
        if (utility[:, :, None] > utility[:, None, :]).any():
            break
    scores = (utility + rng.normal(0.0, 1.0, size=(p, k))).round(1)  # rounded: some ties
    return Case({"scores": scores, "utility": utility})


ACCURACY = Exercise(
    id="pair-accuracy",
    lesson=LESSON,
    title="How well does a reward model order responses?",
    task=r"""
Write `pair_accuracy(scores, utility)`: among all pairs of responses **to the same prompt**
whose gold utilities differ, the fraction that the scores order the same way (the better
response scores strictly higher). Both arrays have shape `(P, K)`: one row per prompt, one
column per response.

- pairs with equal utility are not counted (neither order is right);
- a tie in scores counts as a miss (the model did not say which is better).

The lesson's reward model reaches 0.986 on the toy world.
""",
    starter='''import numpy as np


def pair_accuracy(scores, utility):
    """Fraction of same-prompt pairs with different utility that scores order rightly."""
    # Your code here.


pair_accuracy(np.array([[3.0, 1.0, 2.0]]), np.array([[3.0, 2.0, 1.0]]))  # 2/3
''',
    solution='''import numpy as np


def pair_accuracy(scores, utility):
    """Fraction of same-prompt pairs with different utility that scores order rightly."""
    ds = scores[:, :, None] - scores[:, None, :]  # (P, K, K): s_a - s_b within each prompt
    du = utility[:, :, None] - utility[:, None, :]
    better = du > 0  # each pair once, as (better response, worse response)
    return np.mean(ds[better] > 0)
''',
    hints=(
        "`scores[:, :, None] - scores[:, None, :]` has shape `(P, K, K)`: entry `[x, a, b]` is "
        "$s_a - s_b$ on prompt $x$. Do the same with the utilities.",
        "`du > 0` marks each pair once, as (better response, worse response); pairs with equal "
        "utility and a response paired with itself are left out.",
        "`np.mean(ds[du > 0] > 0)` is the fraction of those pairs the scores order rightly.",
    ),
    wrong=(
        Wrong(
            "counts a tie in scores as a hit",
            """import numpy as np


def pair_accuracy(scores, utility):
    ds = scores[:, :, None] - scores[:, None, :]
    du = utility[:, :, None] - utility[:, None, :]
    return np.mean(ds[du > 0] >= 0)
""",
        ),
        Wrong(
            "counts pairs with equal utility (and each response against itself)",
            """import numpy as np


def pair_accuracy(scores, utility):
    ds = scores[:, :, None] - scores[:, None, :]
    du = utility[:, :, None] - utility[:, None, :]
    return np.mean(ds[du >= 0] > 0)
""",
        ),
        Wrong(
            "compares responses to different prompts too",
            """import numpy as np


def pair_accuracy(scores, utility):
    s, u = scores.ravel(), utility.ravel()
    return np.mean((s[:, None] - s[None, :])[(u[:, None] - u[None, :]) > 0] > 0)
""",
        ),
    ),
    targets=(Target("pair_accuracy", rm.pair_accuracy),),
    examples=(
        Case(
            {"scores": np.array([[3.0, 1.0, 2.0]]), "utility": np.array([[3.0, 2.0, 1.0]])},
            "the example in the starting code",
        ),
    ),
    random_case=_random_accuracy_case,
    edges=(
        Case(
            {"scores": np.array([[1.0, 1.0, 1.0]]), "utility": np.array([[0.0, 1.0, 2.0]])},
            "an edge case: all scores tied (no pair ordered)",
        ),
        Case(
            {
                "scores": np.array([[0.0, 5.0, 1.0], [2.0, 1.0, 0.0]]),
                "utility": np.array([[1.0, 1.0, 2.0], [0.0, 0.0, 0.0]]),
            },
            "an edge case: equal utilities (pairs not counted)",
        ),
    ),
    forbid=("pair_accuracy",),
)

EXERCISES = (LOSS, TRAIN, ACCURACY)
