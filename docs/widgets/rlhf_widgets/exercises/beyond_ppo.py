"""Exercises of lesson 9 (beyond PPO): GRPO's and RLOO's group advantages, the exact best-of-n
policy, the KTO loss."""

from __future__ import annotations

import numpy as np

import rlhf_mini as rm
from rlhf_widgets.exercises.framework import Case, Exercise, Target, Wrong

LESSON = "09-beyond-ppo"


def _random_groups(rng: np.random.Generator) -> Case:
    n, g = int(rng.integers(1, 4)), int(rng.integers(2, 9))
    if rng.random() < 0.5:  # a checker's rewards: right (1) or wrong (0)
        rewards = rng.integers(0, 2, size=(n, g)).astype(float)
    else:  # a reward model's scores
        rewards = rng.normal(0.0, 1.5, size=(n, g)).round(2)
    return Case({"rewards": rewards})


GROUP = Exercise(
    id="group-advantages",
    lesson=LESSON,
    title="Advantages from a group: GRPO and RLOO",
    task=r"""
GRPO and RLOO sample a group of $G$ responses to each prompt and use the group as the baseline.
`rewards` has shape `(n_prompts, G)`: row $i$ holds the rewards $r_1, \dots, r_G$ of the
responses sampled for prompt $i$. Write both advantages, each returning the shape of `rewards`:

$$
A^{\text{GRPO}}_j = \frac{r_j - \operatorname{mean}(r_1, \dots, r_G)}{\operatorname{std}(r_1, \dots, r_G) + 10^{-4}},
\qquad
A^{\text{RLOO}}_j = r_j - \frac{1}{G - 1} \sum_{l \ne j} r_l .
$$

`grpo_advantages(rewards)` uses the *sample* standard deviation (divide by $G - 1$, as
`torch.std` and TRL do) plus TRL's constant $10^{-4}$, which gives a group whose rewards all
agree an advantage of 0 instead of $0/0$. `rloo_advantages(rewards)` compares each response
with the mean of the *other* $G - 1$. The lesson's group of eight answers, three of them right,
gets GRPO advantages 1.207 and $-0.724$, RLOO advantages 0.714 and $-0.429$.
""",
    starter='''import numpy as np


def grpo_advantages(rewards):
    """(r - the group's mean) / (the group's sample std + 1e-4), shape (n_prompts, G)."""
    # Your code here.


def rloo_advantages(rewards):
    """r_j - the mean of the group's other rewards, shape (n_prompts, G)."""
    # Your code here.


rewards = np.array([[1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]])
grpo_advantages(rewards), rloo_advantages(rewards)  # 1.207 / -0.724 and 0.714 / -0.429
''',
    solution='''import numpy as np


def grpo_advantages(rewards):
    """(r - the group's mean) / (the group's sample std + 1e-4), shape (n_prompts, G)."""
    centred = rewards - rewards.mean(axis=1, keepdims=True)  # (n, G)
    std = rewards.std(axis=1, ddof=1, keepdims=True)  # (n, 1), divides by G - 1
    return centred / (std + 1e-4)


def rloo_advantages(rewards):
    """r_j - the mean of the group's other rewards, shape (n_prompts, G)."""
    G = rewards.shape[1]
    others = rewards.sum(axis=1, keepdims=True) - rewards  # (n, G): the sum without r_j
    return rewards - others / (G - 1)
''',
    hints=(
        "Work along `axis=1` (the group) and keep it (`keepdims=True`), so that a row's mean "
        "and standard deviation, shape `(n_prompts, 1)`, are subtracted from that row only.",
        "`np.std` divides by $G$ unless told otherwise: `rewards.std(axis=1, ddof=1, "
        "keepdims=True)` divides by $G - 1$.",
        "The sum of the *other* rewards is the group's sum minus $r_j$: "
        "`rewards.sum(axis=1, keepdims=True) - rewards`; divide it by $G - 1$.",
    ),
    wrong=(
        Wrong(
            "divides by the population standard deviation (np.std's default, ddof=0)",
            """import numpy as np


def grpo_advantages(rewards):
    centred = rewards - rewards.mean(axis=1, keepdims=True)
    return centred / (rewards.std(axis=1, keepdims=True) + 1e-4)


def rloo_advantages(rewards):
    G = rewards.shape[1]
    others = rewards.sum(axis=1, keepdims=True) - rewards
    return rewards - others / (G - 1)
""",
        ),
        Wrong(
            "divides by the standard deviation alone: 0 / 0 = nan for a group that all agrees",
            """import numpy as np


def grpo_advantages(rewards):
    centred = rewards - rewards.mean(axis=1, keepdims=True)
    return centred / rewards.std(axis=1, ddof=1, keepdims=True)


def rloo_advantages(rewards):
    G = rewards.shape[1]
    others = rewards.sum(axis=1, keepdims=True) - rewards
    return rewards - others / (G - 1)
""",
        ),
        Wrong(
            "RLOO's baseline includes the response itself (Dr. GRPO's advantage, (G-1)/G of RLOO's)",
            """import numpy as np


def grpo_advantages(rewards):
    centred = rewards - rewards.mean(axis=1, keepdims=True)
    return centred / (rewards.std(axis=1, ddof=1, keepdims=True) + 1e-4)


def rloo_advantages(rewards):
    return rewards - rewards.mean(axis=1, keepdims=True)
""",
        ),
    ),
    targets=(
        Target("grpo_advantages", lambda rewards: rm.grpo_advantages(rewards, scale="group")),
        Target("rloo_advantages", rm.rloo_advantages),
    ),
    examples=(
        Case(
            {"rewards": np.array([[1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]])},
            "the lesson's group of eight answers, three of them right",
        ),
        Case(
            {"rewards": np.array([[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]])},
            "the lesson's easy prompt: seven right, one wrong",
        ),
    ),
    random_case=_random_groups,
    edges=(
        Case(
            {"rewards": np.array([[0.7, 0.7, 0.7, 0.7], [0.0, 1.0, 0.0, 0.0]])},
            "an edge case: a group whose rewards all agree (0.7 each), next to another",
        ),
        Case(
            {"rewards": np.array([[2.0, -1.0], [0.5, 0.5]])},
            "an edge case: groups of two",
        ),
    ),
    forbid=("grpo_advantages", "rloo_advantages"),
)


def _random_best_of_n(rng: np.random.Generator) -> Case:
    k = int(rng.integers(2, 7))
    weights = rng.integers(1, 10, size=k)
    if rng.random() < 0.5:
        rewards = rng.integers(0, 4, size=k).astype(float)  # few levels: ties are likely
    else:
        rewards = rng.normal(0.0, 1.0, size=k).round(2)
    return Case(
        {
            "pi": weights / weights.sum(),
            "rewards": rewards,
            "n": int(rng.choice([1, 2, 3, 4, 8, 16, 32])),
        }
    )


BEST_OF_N = Exercise(
    id="best-of-n",
    lesson=LESSON,
    title="The exact best-of-n policy and its KL",
    task=r"""
Best-of-$n$ draws $n$ responses from $\pi$ and keeps the one with the highest reward. On a
finite set of responses its distribution is exact. With the reward ranks

$$
F(y) = P\big(r(Y) \le r(y)\big), \qquad F^-(y) = P\big(r(Y) < r(y)\big), \qquad Y \sim \pi,
$$

the best of $n$ samples lands on $y$'s reward level with probability $F(y)^n - F^-(y)^n$, and
responses tied on that level share it in proportion to $\pi$:

$$
\pi_{\text{bon}}(y) = \frac{\pi(y)}{F(y) - F^-(y)}\,\big(F(y)^n - F^-(y)^n\big),
$$

which is $F(y)^n - F^-(y)^n$ when no two rewards are equal. Write
`best_of_n_policy(pi, rewards, n)` for one prompt: `pi` and `rewards` have shape `(K,)`, every
$\pi(y) > 0$. Return `(probs, kl)`: $\pi_{\text{bon}}$, shape `(K,)`, and the number
$\mathrm{KL}(\pi_{\text{bon}} \,\|\, \pi) = \sum_y \pi_{\text{bon}}(y) \log\frac{\pi_{\text{bon}}(y)}{\pi(y)}$.
""",
    starter='''import numpy as np


def best_of_n_policy(pi, rewards, n):
    """The best-of-n distribution over the K responses, and its KL to pi."""
    # Your code here.


best_of_n_policy(np.array([0.5, 0.5]), np.array([0.0, 1.0]), 2)  # [0.25, 0.75], KL 0.1308
''',
    solution='''import numpy as np


def best_of_n_policy(pi, rewards, n):
    """The best-of-n distribution over the K responses, and its KL to pi."""
    at_most = rewards[None, :] <= rewards[:, None]  # (K, K): row y, column y'
    below = rewards[None, :] < rewards[:, None]
    F = (at_most * pi[None, :]).sum(axis=1)  # P(r(Y) <= r(y)), shape (K,)
    F_minus = (below * pi[None, :]).sum(axis=1)  # P(r(Y) < r(y))
    probs = pi / (F - F_minus) * (F**n - F_minus**n)
    return probs, np.sum(probs * np.log(probs / pi))
''',
    hints=(
        "Compare every response with every other at once: `rewards[None, :] <= "
        "rewards[:, None]` is a `(K, K)` table whose row $y$ marks the responses $y'$ with "
        "$r(y') \\le r(y)$.",
        "$F(y)$ is the policy's probability of the marked responses: "
        "`(at_most * pi[None, :]).sum(axis=1)`; $F^-(y)$ the same with `<`.",
        "$F(y) - F^-(y)$ is the probability of $y$'s reward level: just $\\pi(y)$ when no "
        "other response has the same reward, so the general formula covers both cases.",
    ),
    wrong=(
        Wrong(
            "keeps F^n alone: the chance that all n samples score at most r(y), not that y wins",
            """import numpy as np


def best_of_n_policy(pi, rewards, n):
    at_most = rewards[None, :] <= rewards[:, None]
    below = rewards[None, :] < rewards[:, None]
    F = (at_most * pi[None, :]).sum(axis=1)
    F_minus = (below * pi[None, :]).sum(axis=1)
    probs = pi / (F - F_minus) * F**n
    return probs, np.sum(probs * np.log(probs / pi))
""",
        ),
        Wrong(
            "ignores ties: every tied response gets its whole level's probability",
            """import numpy as np


def best_of_n_policy(pi, rewards, n):
    F = ((rewards[None, :] <= rewards[:, None]) * pi[None, :]).sum(axis=1)
    F_minus = ((rewards[None, :] < rewards[:, None]) * pi[None, :]).sum(axis=1)
    probs = F**n - F_minus**n
    return probs, np.sum(probs * np.log(probs / pi))
""",
        ),
        Wrong(
            "finds F and F- by counting responses instead of adding up their probabilities",
            """import numpy as np


def best_of_n_policy(pi, rewards, n):
    K = len(rewards)
    F = (rewards[None, :] <= rewards[:, None]).sum(axis=1) / K
    F_minus = (rewards[None, :] < rewards[:, None]).sum(axis=1) / K
    probs = pi / (F - F_minus) * (F**n - F_minus**n)
    return probs, np.sum(probs * np.log(probs / pi))
""",
        ),
    ),
    targets=(Target("best_of_n_policy", rm.best_of_n_policy),),
    examples=(
        Case(
            {"pi": np.array([0.5, 0.5]), "rewards": np.array([0.0, 1.0]), "n": 2},
            "the example in the starting code",
        ),
        Case(
            {
                "pi": np.array([0.1, 0.2, 0.3, 0.4]),
                "rewards": np.array([3.0, 1.0, 2.0, 0.0]),
                "n": 4,
            },
            "four responses with distinct rewards, n = 4",
        ),
    ),
    random_case=_random_best_of_n,
    edges=(
        Case(
            {
                "pi": np.array([0.1, 0.2, 0.3, 0.4]),
                "rewards": np.array([1.0, 2.0, 2.0, 0.0]),
                "n": 3,
            },
            "an edge case: two responses tied for the best reward",
        ),
        Case(
            {"pi": np.array([0.25, 0.75]), "rewards": np.array([1.0, 1.0]), "n": 8},
            "an edge case: all rewards equal (best-of-n keeps the policy)",
        ),
        Case(
            {"pi": np.array([0.2, 0.5, 0.3]), "rewards": np.array([0.5, -1.0, 2.0]), "n": 1},
            "an edge case: n = 1 (one sample: the policy itself)",
        ),
    ),
    outputs=("probs", "kl"),
    forbid=("best_of_n_policy", "best_of_n_kl_bound"),
)

KTO_ARGS = ("policy_chosen", "policy_rejected", "policy_kl", "ref_chosen", "ref_rejected", "ref_kl")


def _kto_case(values, beta: float, label: str) -> Case:
    args = {name: np.asarray(v, dtype=float) for name, v in zip(KTO_ARGS, values, strict=True)}
    return Case({**args, "beta": beta}, label)


def _random_kto(rng: np.random.Generator) -> Case:
    n_good, n_bad, m = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(2, 5))
    ref_chosen = rng.uniform(-30.0, -5.0, n_good).round(2)
    ref_rejected = rng.uniform(-30.0, -5.0, n_bad).round(2)
    ref_kl = rng.uniform(-40.0, -10.0, m).round(2)
    return _kto_case(
        (
            (ref_chosen + rng.normal(0.0, 3.0, n_good)).round(2),
            (ref_rejected + rng.normal(0.0, 3.0, n_bad)).round(2),
            (ref_kl + rng.normal(0.5, 1.0, m)).round(2),  # the reference point: often > 0
            ref_chosen,
            ref_rejected,
            ref_kl,
        ),
        float(rng.choice([0.1, 0.5, 1.0])),
        "a random batch",
    )


def kto_reference(pc, pr, pk, rc, rr, rk, beta):
    """:func:`rlhf_mini.kto_loss`'s losses and reference point z0."""
    losses, _, _, z0 = rm.kto_loss(pc, pr, pk, rc, rr, rk, beta=beta)
    return losses, z0


KTO = Exercise(
    id="kto-loss",
    lesson=LESSON,
    title="KTO: thumbs up, thumbs down and a reference point",
    task=r"""
KTO (arXiv 2402.01306) learns from single responses labelled desirable or undesirable. Each
response gets DPO's implicit reward, the log-ratio $\rho(y) = \log\pi(y \mid x) -
\log\pi_{\text{ref}}(y \mid x)$, and is pushed above (desirable) or below (undesirable) a
reference point $z_0$, an estimate of $\mathrm{KL}(\pi \,\|\, \pi_{\text{ref}})$ that TRL takes
from $m$ completions paired with other examples' prompts:

$$
z_0 = \max\Big(0,\ \tfrac{1}{m} \textstyle\sum_k \big(\log\pi(y'_k \mid x'_k) - \log\pi_{\text{ref}}(y'_k \mid x'_k)\big)\Big),
$$

$$
L_{\text{desirable}}(y) = 1 - \sigma\big(\beta(\rho(y) - z_0)\big),
\qquad
L_{\text{undesirable}}(y) = 1 - \sigma\big(\beta(z_0 - \rho(y))\big).
$$

The sigmoid saturates: a response already far on the right side of $z_0$ stops pulling.
Write `kto_loss(policy_chosen, policy_rejected, policy_kl, ref_chosen, ref_rejected, ref_kl,
beta)`: the arguments are the summed log-probabilities of the desirable responses (shape
`(n_desirable,)`), of the undesirable ones (`(n_undesirable,)`) and of the mismatched pairs
(`(m,)`), under the policy and then under the reference. Return `(losses, z0)`: the desirable
losses followed by the undesirable ones, shape `(n_desirable + n_undesirable,)`, and $z_0$.
""",
    starter='''import numpy as np


def kto_loss(policy_chosen, policy_rejected, policy_kl, ref_chosen, ref_rejected, ref_kl, beta):
    """Per-response KTO losses (desirable, then undesirable) and the reference point z0."""
    # Your code here.


same = np.array([-5.0])
kto_loss(same, same, same, same, same, same, beta=0.1)  # policy == reference: [0.5, 0.5], 0
''',
    solution='''import numpy as np


def kto_loss(policy_chosen, policy_rejected, policy_kl, ref_chosen, ref_rejected, ref_kl, beta):
    """Per-response KTO losses (desirable, then undesirable) and the reference point z0."""
    z0 = max(0.0, np.mean(policy_kl - ref_kl))  # no negative KL estimate
    chosen = policy_chosen - ref_chosen  # rho(y) of each desirable response
    rejected = policy_rejected - ref_rejected
    desirable = 1.0 / (1.0 + np.exp(beta * (chosen - z0)))  # 1 - sigmoid(u) = sigmoid(-u)
    undesirable = 1.0 / (1.0 + np.exp(beta * (z0 - rejected)))
    return np.concatenate([desirable, undesirable]), z0
''',
    hints=(
        "The log-ratios are `policy_chosen - ref_chosen` and `policy_rejected - ref_rejected`; "
        "$z_0$ is `max(0.0, np.mean(policy_kl - ref_kl))`.",
        "$1 - \\sigma(u) = \\sigma(-u) = 1 / (1 + e^{u})$.",
        "The undesirable loss has $z_0 - \\rho$ where the desirable one has $\\rho - z_0$; "
        "join the two arrays with `np.concatenate([desirable, undesirable])`.",
    ),
    wrong=(
        Wrong(
            "keeps a negative KL estimate as the reference point (no max with 0)",
            """import numpy as np


def kto_loss(policy_chosen, policy_rejected, policy_kl, ref_chosen, ref_rejected, ref_kl, beta):
    z0 = np.mean(policy_kl - ref_kl)
    chosen = policy_chosen - ref_chosen
    rejected = policy_rejected - ref_rejected
    desirable = 1.0 / (1.0 + np.exp(beta * (chosen - z0)))
    undesirable = 1.0 / (1.0 + np.exp(beta * (z0 - rejected)))
    return np.concatenate([desirable, undesirable]), z0
""",
        ),
        Wrong(
            "gives undesirable responses the desirable loss: pushes them up too",
            """import numpy as np


def kto_loss(policy_chosen, policy_rejected, policy_kl, ref_chosen, ref_rejected, ref_kl, beta):
    z0 = max(0.0, np.mean(policy_kl - ref_kl))
    chosen = policy_chosen - ref_chosen
    rejected = policy_rejected - ref_rejected
    desirable = 1.0 / (1.0 + np.exp(beta * (chosen - z0)))
    undesirable = 1.0 / (1.0 + np.exp(beta * (rejected - z0)))
    return np.concatenate([desirable, undesirable]), z0
""",
        ),
        Wrong(
            "takes DPO's -log sigmoid instead of 1 - sigmoid: a loss that never saturates",
            """import numpy as np


def kto_loss(policy_chosen, policy_rejected, policy_kl, ref_chosen, ref_rejected, ref_kl, beta):
    z0 = max(0.0, np.mean(policy_kl - ref_kl))
    chosen = policy_chosen - ref_chosen
    rejected = policy_rejected - ref_rejected
    desirable = np.logaddexp(0.0, -beta * (chosen - z0))
    undesirable = np.logaddexp(0.0, -beta * (z0 - rejected))
    return np.concatenate([desirable, undesirable]), z0
""",
        ),
    ),
    targets=(Target("kto_loss", kto_reference),),
    examples=(
        _kto_case(([-5.0],) * 6, 0.1, "the example in the starting code"),
        _kto_case(
            ([-8.0, -14.0], [-25.0], [-30.0, -22.0], [-10.0, -12.0], [-20.0], [-31.0, -23.0]),
            0.5,
            "two desirable responses, one undesirable, z0 = 1",
        ),
    ),
    random_case=_random_kto,
    edges=(
        _kto_case(
            ([-8.0], [-25.0], [-31.5, -23.5], [-10.0], [-20.0], [-31.0, -23.0]),
            0.5,
            "an edge case: the mismatched pairs' mean log-ratio is negative (-0.5)",
        ),
    ),
    outputs=("losses", "z0"),
    forbid=("kto_loss", "kto_loss_grad", "sigmoid"),
)

EXERCISES = (GROUP, BEST_OF_N, KTO)
