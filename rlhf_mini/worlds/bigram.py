"""The bigram world: a "language model" small enough to read, for token-level PPO.

A response y_1..y_T to a prompt x is written token by token by a tabular bigram policy,

    pi_theta(y_t | s_t) = softmax(theta[s_t])        s_1 = x,  s_t = y_{t-1}

so theta is a (states, vocabulary) table of logits - a linear policy over one-hot state
features. The frozen reference ("pretrained / SFT") table is drawn once from a fixed seed,
so rude and polite tokens both have real probability, as in a pretrained model.

A scorer (the stand-in for a reward model) rates a whole response: the mean of per-token
preferences (polite words up, rude words down, ``TOKEN_REWARD``).

Public names
------------
VOCAB, PROMPTS, TOKEN_REWARD, N_STATES
reference_logits()            the frozen reference table, (N_STATES, len(VOCAB))
score_tokens(tokens)          (batch, T) token ids -> (batch,) scores
sample_responses(...)         (states, tokens), each (batch, T), from a table of logits
exact_kl(theta, theta_ref, T) KL between the distributions of whole responses
decode(tokens)                token ids -> text
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlhf_mini.core.backend import to_numpy
from rlhf_mini.core.numerics import log_softmax
from rlhf_mini.core.sampling import sample_categorical

__all__ = [
    "N_STATES",
    "PROMPTS",
    "TOKEN_REWARD",
    "VOCAB",
    "decode",
    "exact_kl",
    "reference_logits",
    "sample_responses",
    "score_tokens",
]

#: The vocabulary the bigram policy writes with.
VOCAB = ("sure", "here", "is", "the", "answer", "thanks", "please", "no", "ugh", "whatever", ".")
#: The prompts; each is the first state of a response.
PROMPTS = ("<greeting>", "<question>", "<complaint>")
#: The scorer's per-token preferences (tokens not listed score 0). A response's score is
#: the mean over its tokens, in [-1, 1].
TOKEN_REWARD = {
    "thanks": 1.0,
    "please": 1.0,
    "sure": 0.5,
    "answer": 0.5,
    "no": -0.5,
    "ugh": -1.0,
    "whatever": -1.0,
}
#: Seed of the fixed "pretrained" reference table (not the training seed).
REFERENCE_SEED = 20221027
N_STATES = len(PROMPTS) + len(VOCAB)  # state = the prompt, or the previous token

_TOKEN_REWARD_VEC = np.array([TOKEN_REWARD.get(w, 0.0) for w in VOCAB])


def reference_logits() -> np.ndarray:
    """The frozen reference policy: a fixed random bigram table, shape (states, vocabulary).

    Row ``i < len(PROMPTS)`` is the first-token distribution after prompt ``i``; row
    ``len(PROMPTS) + j`` follows token ``VOCAB[j]``.
    """
    return np.random.default_rng(REFERENCE_SEED).normal(0.0, 1.0, size=(N_STATES, len(VOCAB)))


def score_tokens(tokens: Any) -> np.ndarray:
    """Scores of responses given as token ids, shape (batch, T) -> (batch,): mean preference."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError("tokens must be an integer array of shape (batch, T)")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= len(VOCAB)):
        raise ValueError(f"tokens must be ids in [0, {len(VOCAB)})")
    return _TOKEN_REWARD_VEC[tokens].mean(axis=1)


def sample_responses(
    theta: Any, prompts: np.ndarray, length: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sample (batch, T) tokens from the bigram table (on the CPU); return (states, tokens)."""
    probs = np.exp(log_softmax(np, to_numpy(theta)))  # (S, V)
    states = np.empty((prompts.shape[0], length), dtype=np.int64)
    tokens = np.empty((prompts.shape[0], length), dtype=np.int64)
    s = prompts
    for t in range(length):
        y = sample_categorical(np, probs[s], rng.random((prompts.shape[0], 1)))[:, 0]
        states[:, t], tokens[:, t] = s, y
        s = len(PROMPTS) + y
    return states, tokens


def decode(tokens: Any) -> str:
    """Token ids -> text ("please thanks ." -> "please thanks.")."""
    return " ".join(VOCAB[i] for i in tokens).replace(" .", ".")


def exact_kl(theta: Any, theta_ref: Any, response_length: int) -> float:
    """Exact KL(pi || pi_ref) between the distributions of whole responses (prompts uniform).

    By the chain rule of KL, it is the expected per-token KL along the policy's own path:

        KL = sum_t E_{s_t ~ pi} KL(pi(.|s_t) || pi_ref(.|s_t))

    with the state distribution d_t propagated exactly through the bigram table.
    """
    logp = log_softmax(np, to_numpy(theta))
    logq = log_softmax(np, to_numpy(theta_ref))
    p = np.exp(logp)
    kl_per_state = (p * (logp - logq)).sum(axis=1)  # (S,)
    n_prompts = len(PROMPTS)
    d = np.zeros(N_STATES)
    d[:n_prompts] = 1.0 / n_prompts
    total = 0.0
    for _ in range(response_length):
        total += float(d @ kl_per_state)
        d_next = np.zeros(N_STATES)
        d_next[n_prompts:] = d @ p  # the next state is the token just written
        d = d_next
    return total
