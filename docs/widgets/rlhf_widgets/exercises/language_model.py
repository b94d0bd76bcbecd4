"""Exercises of lesson 10 (aligning a language model): PPO's per-token KL-penalised rewards,
and a response's log-probability from the transformer's logits (DPO's sequence log-prob)."""

from __future__ import annotations

import numpy as np

import rlhf_mini as rm
from rlhf_widgets.exercises.framework import Case, Exercise, Target, Wrong

LESSON = "10-language-model"


def _rollout_case(scores, logp_old, logp_ref, beta, mask, label: str) -> Case:
    return Case(
        {
            "scores": np.asarray(scores, dtype=float),
            "logp_old": np.asarray(logp_old, dtype=float),
            "logp_ref": np.asarray(logp_ref, dtype=float),
            "beta": beta,
            "mask": np.asarray(mask, dtype=float),
        },
        label,
    )


def _random_rollout(rng: np.random.Generator) -> Case:
    b, t = int(rng.integers(1, 4)), int(rng.integers(2, 7))
    lengths = rng.integers(1, t + 1, size=b)
    lengths[0] = int(rng.integers(1, t))  # the first response ends before the last column
    mask = (np.arange(t)[None, :] < lengths[:, None]).astype(float)  # (b, t): 1s, then 0s
    logp_old = rng.uniform(-5.0, -0.01, size=(b, t)).round(3)
    # padding columns hold whatever the model computed there: not rewards of the response
    return _rollout_case(
        rng.normal(0.5, 1.5, size=b).round(2),
        logp_old,
        (logp_old + rng.normal(0.0, 1.0, size=(b, t))).round(3),
        float(rng.choice([0.01, 0.05, 0.2])),
        mask,
        "a random rollout (padding after the shorter responses)",
    )


KL_REWARDS = Exercise(
    id="lm-kl-rewards",
    lesson=LESSON,
    title="Per-token rewards for responses of different lengths",
    task=r"""
Lesson 5's exercise added the score in the last column: there every response filled the whole
array. The language model's responses end where they end, so a batch of them is padded after
the shorter ones. A rollout of $B$ responses padded to `L` columns gives, each of shape
`(B, L)`: `logp_old`, the log-probabilities $\log\pi_{\text{old}}(y_t \mid s_t)$ of the sampled
tokens under the policy that sampled them; `logp_ref`, the same under the frozen SFT model; and
`mask`, 1 for each of a response's tokens (its end token included) and 0 for the padding after
it. `scores`, shape `(B,)`, holds the reward model's score $r_\phi(x, y)$ of each whole
response. Write `kl_penalized_rewards(scores, logp_old, logp_ref, beta, mask)`: the lesson's
per-token rewards

$$
R_t = -\beta \left(\log \pi_{\text{old}}(y_t \mid s_t) - \log \pi_{\text{ref}}(y_t \mid s_t)\right)
      + [t = T]\; r_\phi(x, y),
$$

where $T$ is each response's *own* last token, and $R_t = 0$ on the padding. Return shape
`(B, L)`.
""",
    starter='''import numpy as np


def kl_penalized_rewards(scores, logp_old, logp_ref, beta, mask):
    """-beta (logp_old - logp_ref) on real tokens, plus the score on each last one; (B, L)."""
    # Your code here.


scores = np.array([1.0, 2.0])
logp_old = np.log(np.array([[0.5, 0.5, 0.9], [0.8, 0.5, 0.3]]))
logp_ref = np.log(np.array([[0.25, 0.5, 0.9], [0.4, 0.5, 0.6]]))
mask = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])  # the first response has 2 tokens
kl_penalized_rewards(scores, logp_old, logp_ref, 0.1, mask)
# [[-0.0693, 1.0, 0.0], [-0.0693, 0.0, 2.0693]]
''',
    solution='''import numpy as np


def kl_penalized_rewards(scores, logp_old, logp_ref, beta, mask):
    """-beta (logp_old - logp_ref) on real tokens, plus the score on each last one; (B, L)."""
    rewards = -beta * (logp_old - logp_ref) * mask  # (B, L), 0 on padding
    last = mask.sum(axis=1).astype(int) - 1  # (B,): index of each response's last token
    rewards[np.arange(len(scores)), last] += scores
    return rewards
''',
    hints=(
        "The penalty is `-beta * (logp_old - logp_ref)`; multiplying by `mask` sets it to 0 "
        "on padding.",
        "A row of `mask` is 1s then 0s, so the last real token of row $b$ is at index "
        "`mask[b].sum() - 1`: `mask.sum(axis=1).astype(int) - 1` for all rows.",
        "`rewards[np.arange(len(scores)), last] += scores` adds each response's score at its "
        "own last token.",
    ),
    wrong=(
        Wrong(
            "adds the score in the last column, which is padding for a shorter response",
            """import numpy as np


def kl_penalized_rewards(scores, logp_old, logp_ref, beta, mask):
    rewards = -beta * (logp_old - logp_ref) * mask
    rewards[:, -1] += scores
    return rewards
""",
        ),
        Wrong(
            "charges the KL penalty on padding too",
            """import numpy as np


def kl_penalized_rewards(scores, logp_old, logp_ref, beta, mask):
    rewards = -beta * (logp_old - logp_ref)
    last = mask.sum(axis=1).astype(int) - 1
    rewards[np.arange(len(scores)), last] += scores
    return rewards
""",
        ),
        Wrong(
            "pays a bonus for drifting: +beta (logp_old - logp_ref)",
            """import numpy as np


def kl_penalized_rewards(scores, logp_old, logp_ref, beta, mask):
    rewards = beta * (logp_old - logp_ref) * mask
    last = mask.sum(axis=1).astype(int) - 1
    rewards[np.arange(len(scores)), last] += scores
    return rewards
""",
        ),
    ),
    targets=(Target("kl_penalized_rewards", rm.kl_penalized_rewards),),
    examples=(
        _rollout_case(
            [1.0],
            np.log([[0.5, 0.5]]),
            np.log([[0.25, 0.5]]),
            0.1,
            [[1.0, 1.0]],
            "one response of two tokens, no padding",
        ),
        _rollout_case(
            [1.0, 2.0],
            np.log([[0.5, 0.5, 0.9], [0.8, 0.5, 0.3]]),
            np.log([[0.25, 0.5, 0.9], [0.4, 0.5, 0.6]]),
            0.1,
            [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]],
            "the example in the starting code",
        ),
    ),
    random_case=_random_rollout,
    edges=(
        _rollout_case(
            [3.0, -1.0],
            [[-2.0, -7.0, -7.0], [-0.5, -1.5, -2.5]],
            [[-1.0, -1.0, -1.0], [-0.5, -1.5, -2.5]],
            0.05,
            [[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]],
            "an edge case: a response of one token, and one the policy has not moved on",
        ),
        _rollout_case(
            [0.5], [[-1.0, -2.0]], [[-3.0, -1.0]], 0.0, [[1.0, 1.0]], "an edge case: beta = 0"
        ),
    ),
    forbid=("kl_penalized_rewards", "kl_k1"),
)


def sequence_reference(logits, tokens, response_mask):
    """The library's per-token log-probs (:func:`rlhf_mini.models.transformer.token_log_probs`)
    and their sum over the response (``sequence_log_probs``). The transformer module is
    imported here, on the first check, not with the exercises: a lesson page that never
    checks this exercise does not load it."""
    from rlhf_mini.models import transformer

    token_logps = transformer.token_log_probs(logits, tokens)
    return token_logps, transformer.sequence_log_probs(token_logps, response_mask)


def _sequence_case(logits, tokens, mask, label: str) -> Case:
    return Case(
        {
            "logits": np.asarray(logits, dtype=float),
            "tokens": np.asarray(tokens, dtype=int),
            "response_mask": np.asarray(mask, dtype=float),
        },
        label,
    )


def _random_sequences(rng: np.random.Generator) -> Case:
    b, t, v = int(rng.integers(1, 4)), int(rng.integers(3, 7)), int(rng.integers(3, 7))
    prompt = rng.integers(1, t - 1, size=b)  # BOS and the prompt: columns 0 .. prompt - 1
    end = prompt + np.array([int(rng.integers(1, t - p + 1)) for p in prompt])  # then padding
    columns = np.arange(t)[None, :]
    mask = ((columns >= prompt[:, None]) & (columns < end[:, None])).astype(float)
    return _sequence_case(
        rng.normal(0.0, 2.0, size=(b, t, v)).round(2),
        rng.integers(0, v, size=(b, t)),
        mask,
        "a random batch (logits of shape (B, T, V))",
    )


SEQUENCE = Exercise(
    id="lm-sequence-logp",
    lesson=LESSON,
    title="A response's log-probability, from the logits",
    task=r"""
DPO on the language model needs $\log \pi(y \mid x) = \sum_t \log \pi(y_t \mid x, y_{<t})$, the
sum over the response's tokens. The model reads a batch of sequences `tokens`, shape `(B, T)`
(integers: a start token, the prompt, the response with its end token, then padding), and
returns `logits`, shape `(B, T, V)`: position $t$'s scores for the *next* token, so

$$
\log \pi(\texttt{tokens}[b, t+1] \mid \texttt{tokens}[b, {:}t+1]) =
\operatorname{log\_softmax}(\texttt{logits}[b, t])\big[\texttt{tokens}[b, t+1]\big].
$$

`response_mask`, shape `(B, T)`, is 1 at the response's tokens and 0 at the start token, the
prompt and the padding. Write `sequence_log_probs(logits, tokens, response_mask)` returning
`(token_logps, sequence_logps)`: the log-probability of every token after the first, shape
`(B, T - 1)` (column $t$ for token $t + 1$), and each response's log-probability, shape `(B,)`.
It must stay finite for logits of size 1000.
""",
    starter='''import numpy as np


def sequence_log_probs(logits, tokens, response_mask):
    """Per-token log-probs (B, T - 1) and each response's summed log-prob (B,)."""
    # Your code here.


logits = np.zeros((1, 5, 3))  # uniform over 3 tokens
tokens = np.array([[0, 1, 2, 1, 0]])
response_mask = np.array([[0, 0, 1, 1, 0]])  # start, prompt, a response of two, padding
sequence_log_probs(logits, tokens, response_mask)  # [[-1.0986] * 4], [-2.1972]
''',
    solution='''import numpy as np


def sequence_log_probs(logits, tokens, response_mask):
    """Per-token log-probs (B, T - 1) and each response's summed log-prob (B,)."""
    z = logits[:, :-1, :]  # (B, T - 1, V): position t predicts token t + 1
    z = z - z.max(axis=-1, keepdims=True)  # the largest becomes 0: exp cannot overflow
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))  # log_softmax
    token_logps = np.take_along_axis(log_probs, tokens[:, 1:, None], axis=-1)[:, :, 0]
    return token_logps, (token_logps * response_mask[:, 1:]).sum(axis=1)
''',
    hints=(
        "Drop the last position's logits (it predicts a token after the sequence) and the "
        "first token (nothing predicts it): `logits[:, :-1]` goes with `tokens[:, 1:]`.",
        "A stable log-softmax: subtract each row's maximum, then "
        "`z - np.log(np.exp(z).sum(axis=-1, keepdims=True))`. "
        "`np.take_along_axis(log_probs, tokens[:, 1:, None], axis=-1)[:, :, 0]` picks each "
        "token's entry.",
        "Column $t$ of `token_logps` is token $t + 1$: its mask is `response_mask[:, 1:]`.",
    ),
    wrong=(
        Wrong(
            "reads each token's log-prob from its own position's logits, not the previous one's",
            """import numpy as np


def sequence_log_probs(logits, tokens, response_mask):
    z = logits[:, 1:, :]
    z = z - z.max(axis=-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    token_logps = np.take_along_axis(log_probs, tokens[:, 1:, None], axis=-1)[:, :, 0]
    return token_logps, (token_logps * response_mask[:, 1:]).sum(axis=1)
""",
        ),
        Wrong(
            "takes the log of the softmax directly: exp(1000) overflows",
            """import numpy as np


def sequence_log_probs(logits, tokens, response_mask):
    e = np.exp(logits[:, :-1, :])
    log_probs = np.log(e / e.sum(axis=-1, keepdims=True))
    token_logps = np.take_along_axis(log_probs, tokens[:, 1:, None], axis=-1)[:, :, 0]
    return token_logps, (token_logps * response_mask[:, 1:]).sum(axis=1)
""",
        ),
        Wrong(
            "misaligns the mask by one: skips the first response token, counts the one after the last",
            """import numpy as np


def sequence_log_probs(logits, tokens, response_mask):
    z = logits[:, :-1, :]
    z = z - z.max(axis=-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    token_logps = np.take_along_axis(log_probs, tokens[:, 1:, None], axis=-1)[:, :, 0]
    return token_logps, (token_logps * response_mask[:, :-1]).sum(axis=1)
""",
        ),
    ),
    targets=(Target("sequence_log_probs", sequence_reference),),
    examples=(
        _sequence_case(
            np.zeros((1, 5, 3)),
            [[0, 1, 2, 1, 0]],
            [[0, 0, 1, 1, 0]],
            "the example in the starting code",
        ),
        _sequence_case(
            [[[0.0, 2.0, 0.0], [1.0, 0.0, -1.0], [0.0, 0.0, 3.0], [5.0, 5.0, 5.0]]],
            [[0, 1, 0, 2]],
            [[0, 0, 1, 1]],
            "one sequence of four tokens with uneven logits",
        ),
    ),
    random_case=_random_sequences,
    edges=(
        _sequence_case(
            [
                [[1000.0, 0.0, -1000.0], [0.0, 999.0, 1000.0], [-5.0, 0.0, 5.0]],
                [[2.0, 1.0, 0.0], [0.0, 0.0, 0.0], [7.0, 7.0, 7.0]],
            ],
            [[0, 0, 2], [0, 1, 2]],
            [[0, 1, 1], [0, 1, 0]],
            "an edge case: logits of size 1000, and a response followed by padding",
        ),
    ),
    outputs=("token_logps", "sequence_logps"),
    forbid=("token_log_probs", "sequence_log_probs", "log_softmax"),
)

EXERCISES = (KL_REWARDS, SEQUENCE)
