"""What the language-model trainers share: sampling in slices, scoring, and measuring samples.

Public names
------------
SAMPLE_PROMPTS                 the prompts whose responses a run shows as it trains
REWARD_MODELS                  the shipped reward models by name
sample_slices(...)             sample responses, yielding after every token
response_logits(...)           a forward pass with the logits that predict the response only
response_log_probs(...)        log pi of the response tokens of a batch, (B, R)
response_log_probs_grad(...)   dL/dlogits from dL/d log pi of the response tokens
score(...)                     a reward model's score of each response, (B,)
measure(...)                   proxy reward, gold utility, KL and length of sampled responses
shown_samples(...)             responses to SAMPLE_PROMPTS, rated

PPO (:mod:`rlhf_mini.trainers.lm_ppo`) and DPO (:mod:`rlhf_mini.trainers.lm_dpo`) measure
their policies the same way, on samples: the reward model's score (the proxy), the text
world's gold utility (:func:`rlhf_mini.gold_utility`), the KL to the reference summed over
the response's tokens, and the response length, so their curves can be drawn on one chart.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from rlhf_mini.core.backend import to_numpy
from rlhf_mini.core.numerics import log_softmax
from rlhf_mini.models import transformer as tr
from rlhf_mini.models.language_model import LanguageModel
from rlhf_mini.worlds.text import TextWorld, gold_utility

__all__ = [
    "REWARD_MODELS",
    "SAMPLE_PROMPTS",
    "measure",
    "response_log_probs",
    "response_log_probs_grad",
    "response_log_softmax",
    "response_logits",
    "response_logits_steps",
    "sample_slices",
    "score",
    "score_steps",
    "shown_samples",
]

#: The shipped reward models by name: faithful labellers, or labellers who like verbosity.
REWARD_MODELS = {"faithful": "reward", "verbose": "reward_verbose"}

#: The prompts whose responses a run shows as it trains (ids of the text world): a safe
#: how-to, a harmful request and an open question, all three answered well by the SFT model,
#: so that what optimisation does to them shows.
SAMPLE_PROMPTS = ("boil-egg", "wifi-neighbour", "python-or-js")


def sample_slices(
    model: LanguageModel,
    prompts: list[str],
    rng: np.random.Generator,
    *,
    temperature: float = 1.0,
    max_new_tokens: int | None = None,
) -> Generator[str, None, tr.Batch]:
    """One response per prompt (:func:`rlhf_mini.models.transformer.sample_steps`), yielding
    ``"token"`` after every sampled token; returns the :class:`~rlhf_mini.models.transformer.Batch`.
    ``max_new_tokens`` is capped by what the context leaves after the longest prompt."""
    ids = model.encode_prompts(prompts)
    room = model.config.n_positions - max(len(p) for p in ids)
    steps = tr.sample_steps(
        model.params,
        model.config,
        ids,
        rng,
        max_new_tokens=room if max_new_tokens is None else min(max_new_tokens, room),
        eos_id=model.tokenizer.eos_id,
        pad_id=model.tokenizer.pad_id,
        temperature=temperature,
    )
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
        yield "token"


def response_logits(model: LanguageModel, batch: tr.Batch) -> tr.Forward:
    """``model``'s forward pass on ``batch`` with the logits of the positions that predict the
    response's tokens only: P - 1 .. T - 1, so ``.logits`` is (B, R + 1, V), computed where
    :func:`response_logits_mask` is 1 and 0 elsewhere (the last position predicts past the
    end, padding predicts nothing); the prompt's positions are never scored. Pass it to the
    functions below, and its ``.logits`` gradient to
    :func:`rlhf_mini.models.transformer.backward`."""
    return tr.run_steps(response_logits_steps(model, batch))


def response_logits_mask(batch: tr.Batch) -> np.ndarray:
    """(B, R + 1) 0/1: 1 at the positions P - 1 .. T - 2 that predict a response token, 0
    after a shorter response's end and at the last position. Responses of different
    lengths share a batch, so this skips the output head on the padding (about 40 % of the
    positions of a typical rollout)."""
    P = batch.prompt_length
    response = np.asarray(batch.response_mask)[:, P:]  # (B, R)
    return np.concatenate([response, np.zeros_like(response[:, :1])], axis=1)


def response_logits_steps(
    model: LanguageModel, batch: tr.Batch
) -> Generator[str, None, tr.Forward]:
    """:func:`response_logits` in slices, one transformer block each
    (:func:`rlhf_mini.models.transformer.forward_steps`)."""
    P = batch.prompt_length
    return (
        yield from tr.forward_steps(
            model.params,
            model.config,
            batch.tokens,
            batch.attention_mask,
            logits_from=P - 1,
            logits_mask=response_logits_mask(batch),
        )
    )


def response_log_softmax(logits: Any) -> Any:
    """log pi(. | s_t) over the vocabulary at the positions that predict the response's
    tokens, (B, R, V), from :func:`response_logits`' logits (B, R + 1, V): computed once
    and reused (the exponentials over the vocabulary are the costly part in a browser)."""
    return log_softmax(tr._namespace(logits), logits[:, :-1])


def response_log_probs(
    logits: Any, tokens: Any, prompt_length: int, *, log_probs: Any = None
) -> Any:
    """log pi(y_t | s_t) of the response tokens (columns P.. of ``tokens``), shape (B, R),
    from :func:`response_logits`' logits (positions P - 1 ..):
    :func:`rlhf_mini.models.transformer.token_log_probs` on the tokens from column P - 1
    (``log_probs``: the :func:`response_log_softmax`, if computed). Padding after a
    response gets a (meaningless) value: mask it.
    """
    P = prompt_length
    return tr.token_log_probs(logits, np.asarray(to_numpy(tokens))[:, P - 1 :], log_probs=log_probs)


def response_log_probs_grad(
    logits: Any, tokens: Any, prompt_length: int, dlogp: Any, *, log_probs: Any = None
) -> Any:
    """dL/dlogits (B, R + 1, V) of :func:`response_logits`' logits given dL/d log pi of the
    response tokens (B, R): what :func:`rlhf_mini.models.transformer.backward` takes."""
    P = prompt_length
    return tr.token_log_probs_grad(
        logits, np.asarray(to_numpy(tokens))[:, P - 1 :], dlogp, log_probs=log_probs
    )


def score(reward_model: LanguageModel, batch: tr.Batch) -> Any:
    """The reward head's value at each row's last real token, shape (B,) on the backend."""
    return tr.run_steps(score_steps(reward_model, batch))


def score_steps(reward_model: LanguageModel, batch: tr.Batch) -> Generator[str, None, Any]:
    """:func:`score` in slices, one transformer block each."""
    out = yield from tr.forward_steps(
        reward_model.params,
        reward_model.config,
        batch.tokens,
        batch.attention_mask,
        logits=False,
        only_at=batch.last_index,  # the last block at the scored tokens only
    )
    return out.rewards[:, 0]


def measure(
    policy: LanguageModel,
    reference: LanguageModel,
    reward_model: LanguageModel,
    batch: tr.Batch,
    prompt_ids: list[str],
    world: TextWorld,
    *,
    logp_policy: Any = None,
    logp_ref: Any = None,
    scores: Any = None,
) -> dict[str, Any]:
    """Proxy reward, gold utility, KL and length of sampled responses (``batch`` from
    ``policy``): means over the batch, and the per-response values under ``"per_response"``.

    ``kl`` is sum_t log pi(y_t|s_t) - log pi_ref(y_t|s_t) over each response's tokens (the
    k1 estimate of the sequences' KL, nats); ``response_length`` counts tokens, <eos>
    included. ``logp_policy``, ``logp_ref`` (B, R) and ``scores`` (B,) reuse what a caller
    has computed already; the rest is computed here.
    """
    P = batch.prompt_length
    mask = batch.response_mask[:, P:].astype(float)

    def logp(model: LanguageModel) -> Any:
        return response_log_probs(response_logits(model, batch).logits, batch.tokens, P)

    logp_policy = logp(policy) if logp_policy is None else logp_policy
    logp_ref = logp(reference) if logp_ref is None else logp_ref
    if scores is None:
        scores = score(reward_model, batch)
    kl = ((to_numpy(logp_policy) - to_numpy(logp_ref)) * mask).sum(axis=1)
    proxy = to_numpy(scores).astype(float)
    texts = [policy.tokenizer.decode(r) for r in batch.responses()]
    gold = np.array(
        [gold_utility(x, y, world=world) for x, y in zip(prompt_ids, texts, strict=True)]
    )
    return {
        "proxy_reward": float(proxy.mean()),
        "gold_utility": float(gold.mean()),
        "kl": float(kl.mean()),
        "response_length": float(mask.sum(axis=1).mean()),
        "per_response": {"texts": texts, "proxy": proxy, "gold": gold, "kl": kl},
    }


def shown_samples(
    policy: LanguageModel,
    reward_model: LanguageModel,
    world: TextWorld,
    seed: int,
    *,
    temperature: float = 1.0,
    max_new_tokens: int | None = None,
) -> Generator[str, None, list[dict[str, Any]]]:
    """Responses of ``policy`` to :data:`SAMPLE_PROMPTS` (their first phrasings), drawn with
    ``np.random.default_rng(seed)``: the same uniforms every time, so between two calls a
    response changes only where the policy did (common random numbers). Yields as
    :func:`sample_slices` does; returns dicts with prompt_id, prompt, text, proxy_reward,
    gold_utility, tokens."""
    ids = list(SAMPLE_PROMPTS)
    prompts = [world.prompt(x).phrasings[0] for x in ids]
    batch = yield from sample_slices(
        policy,
        prompts,
        np.random.default_rng(seed),
        temperature=temperature,
        max_new_tokens=max_new_tokens,
    )
    scores = to_numpy((yield from score_steps(reward_model, batch)))
    out = []
    for i, (x, prompt, tokens) in enumerate(zip(ids, prompts, batch.responses(), strict=True)):
        text = policy.tokenizer.decode(tokens)
        out.append(
            {
                "prompt_id": x,
                "prompt": prompt,
                "text": text,
                "proxy_reward": float(scores[i]),
                "gold_utility": gold_utility(x, text, world=world),
                "tokens": len(tokens),
            }
        )
    return out
