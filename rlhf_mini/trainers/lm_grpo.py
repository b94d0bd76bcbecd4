"""GRPO on the tiny language model: a group of responses per prompt, and no critic.

Public names
------------
LMGRPOConfig                           the settings, one doc line each
train_lm_grpo(...)  -> LMGRPOResult    a whole run
LMGRPORun                              the same run one iteration (or one slice) at a time
LMGRPOResult                           .policy, .history, .samples, .final(), .to_dict()
grpo_logits_grad(...)                  the loss of a batch and its gradient w.r.t. the logits

GRPO (Shao et al. 2024, "DeepSeekMath", arXiv 2402.03300, eq. 3; TRL's ``GRPOTrainer``) is
PPO without the value model: the baseline of a response is the other responses to the same
prompt. One iteration:

1. Sampling: ``n_prompts`` prompts (uniformly, a random phrasing each) and ``group_size``
   responses y_1..y_G to each, sampled from pi_old, the current policy
   (:func:`rlhf_mini.trainers.lm_samples.sample_slices` on each prompt repeated G times).
2. Rewards r_j of whole responses, and group-relative advantages
   (:func:`rlhf_mini.grpo_advantages`, ``scale_rewards``)
       A_j = (r_j - mean_l r_l) / (std_l r_l + 1e-4)        over the group of one prompt,
   shared by every token of response j.
3. ``update_epochs`` AdamW steps (GRPO's mu, TRL's ``num_iterations``) on the whole batch, of
       l_jt = -min(rho_jt A_j, clip(rho_jt, 1 - eps, 1 + eps_high) A_j) + beta k3_jt
       k3_jt = pi_ref(y_jt|s_jt)/pi(y_jt|s_jt) - 1 - log(pi_ref(y_jt|s_jt)/pi(y_jt|s_jt))
   averaged over tokens as ``loss_type`` says (:func:`rlhf_mini.grpo_loss`: "grpo" per
   response then over responses, "bnpo"/"dapo" over all tokens, "dr_grpo" over a constant
   ``n * max_new_tokens``). The gradient w.r.t. log pi is :func:`rlhf_mini.grpo_loss_grad`,
   chained to the logits by d log pi(y|s)/d logits = onehot(y) - pi(.|s)
   (:func:`rlhf_mini.trainers.lm_samples.response_log_probs_grad`), then through the
   transformer (:func:`rlhf_mini.models.transformer.backward_steps`).

The KL penalty is in the loss, not in the reward as in RLHF-PPO (:mod:`rlhf_mini.trainers.lm_ppo`),
and there is no value head: a critic as large as the policy is what GRPO saves. With
``update_epochs=1`` (the default, as TRL's) rho = 1 at the only step and the clip never acts:
REINFORCE with the group mean as baseline, plus the k3 penalty.

The reward. ``reward="gold"`` optimises the text world's gold utility
(:func:`rlhf_mini.gold_utility`) itself: a rule set that can be checked, so this is the RLVR
recipe (reinforcement learning from verifiable rewards, as DeepSeek-R1 trains on answers a
program can check), with no learned proxy between the policy and what is wanted, and so no
proxy to hack. ``"faithful"`` or ``"verbose"`` optimise a shipped reward model instead, as
PPO does. ``proxy_reward`` in the history is always a shipped reward model's score (the
faithful one when the gold utility is optimised): a second opinion, not optimised then.

KL in the history, as in :mod:`rlhf_mini.trainers.lm_ppo`, is the batch mean of
sum_t (log pi_old(y_t) - log pi_ref(y_t)), the k1 estimate of KL(pi_old || pi_ref) in nats
per response; the loss's k3 is a per-token estimate of the same KL, differentiated with the
samples held fixed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf_mini.core.backend import Backend, resolve_backend
from rlhf_mini.core.checks import check_in_range, check_int, check_non_negative, check_positive
from rlhf_mini.core.config import TrainerConfig
from rlhf_mini.core.numerics import exp_log_ratio
from rlhf_mini.core.optim import AdamW, clip_grad_norm
from rlhf_mini.core.runs import RunResult
from rlhf_mini.losses.group_advantages import GRPO_SCALES, grpo_advantages
from rlhf_mini.losses.grpo import GRPO_LOSS_TYPES, grpo_loss, grpo_loss_grad
from rlhf_mini.models import transformer as tr
from rlhf_mini.models.language_model import LanguageModel, load_language_model
from rlhf_mini.trainers.lm_samples import (
    REWARD_MODELS,
    measure,
    response_log_probs,
    response_log_probs_grad,
    response_log_softmax,
    response_logits_steps,
    sample_slices,
    score_steps,
    shown_samples,
)
from rlhf_mini.worlds.text import TextWorld, load_text_world

__all__ = ["LMGRPOConfig", "LMGRPOResult", "LMGRPORun", "grpo_logits_grad", "train_lm_grpo"]

#: What ``reward`` may name: the gold utility (verifiable) or a shipped reward model.
REWARDS = ("gold", *REWARD_MODELS)

HISTORY_KEYS = (
    "step",
    "reward",
    "proxy_reward",
    "gold_utility",
    "kl",
    "response_length",
    "entropy",
    "clip_fraction",
    "loss",
    "beta",
)


@dataclass(frozen=True)
class LMGRPOConfig(TrainerConfig):
    """Settings of :func:`train_lm_grpo`."""

    dtype: str = field(default="float32", metadata={"choices": ("float64", "float32")})
    """Precision of every array (float32: half the memory traffic, faster on a CPU)."""
    reward: str = field(default="gold", metadata={"choices": REWARDS})
    """What is maximised: the gold utility (a checkable rule set: RLVR) or a shipped reward model."""
    beta: float = 0.04
    """Weight of the k3 KL penalty against the SFT reference, in the loss (DeepSeekMath used 0.04)."""
    steps: int = 100
    """Iterations: a group of responses per prompt and update_epochs steps each."""
    n_prompts: int = 4
    """Prompts per iteration."""
    group_size: int = 8
    """Responses sampled per prompt (G; TRL's num_generations), >= 2."""
    max_new_tokens: int | None = None
    """Longest response in tokens (None: what the context leaves after the prompt)."""
    temperature: float = 1.0
    """Sampling temperature of the groups."""
    lr: float = 1e-4
    """AdamW step size (constant)."""
    update_epochs: int = 1
    """Gradient steps per batch of groups (GRPO's mu; TRL's num_iterations)."""
    clip_eps: float = 0.2
    """Lower clip of the probability ratio, in (0, 1) (acts only with update_epochs > 1)."""
    clip_eps_high: float | None = None
    """Upper clip, rho <= 1 + clip_eps_high (None: clip_eps; larger: DAPO's clip-higher)."""
    loss_type: str = field(default="grpo", metadata={"choices": GRPO_LOSS_TYPES})
    """How token losses are averaged: per response ("grpo"), per token ("bnpo", "dapo"), or over a constant ("dr_grpo")."""
    scale_rewards: str = field(default="group", metadata={"choices": GRPO_SCALES})
    """Divide advantages by the group's reward std, the batch's, or nothing (Dr. GRPO)."""
    max_grad_norm: float = 1.0
    """Gradients are scaled down to this global norm when larger."""
    sample_every: int = 5
    """Write responses to the fixed prompts every this many iterations (and at the start and end)."""

    def check(self) -> dict[str, Any]:
        return {
            **super().check(),
            "beta": check_non_negative(self.beta, "beta"),
            "steps": check_int(self.steps, "steps", 0),
            "n_prompts": check_int(self.n_prompts, "n_prompts"),
            "group_size": check_int(self.group_size, "group_size", 2),
            "max_new_tokens": None
            if self.max_new_tokens is None
            else check_int(self.max_new_tokens, "max_new_tokens"),
            "temperature": check_positive(self.temperature, "temperature"),
            "lr": check_positive(self.lr, "lr"),
            "update_epochs": check_int(self.update_epochs, "update_epochs"),
            "clip_eps": check_in_range(
                self.clip_eps, "clip_eps", 0.0, 1.0, low_open=True, high_open=True
            ),
            "clip_eps_high": None
            if self.clip_eps_high is None
            else check_positive(self.clip_eps_high, "clip_eps_high"),
            "max_grad_norm": check_positive(self.max_grad_norm, "max_grad_norm"),
            "sample_every": check_int(self.sample_every, "sample_every"),
        }


@dataclass(kw_only=True)
class LMGRPOResult(RunResult):
    """What :func:`train_lm_grpo` returns.

    Attributes
    ----------
    history : dict of lists, one value per iteration (measured on its samples, before its update)
        ``step``; ``reward`` (mean of the reward optimised); ``proxy_reward`` (mean shipped
        reward-model score); ``gold_utility`` (mean gold utility); ``kl`` (mean over
        responses of sum_t log pi_old(y_t) - log pi_ref(y_t), nats); ``response_length``
        (mean tokens, <eos> included); ``entropy`` (mean per-token entropy of pi_old over the
        response tokens, nats); ``clip_fraction`` and ``loss`` of the update that followed
        (means over its steps); ``beta``.
    policy : LanguageModel
        The trained policy.
    samples : list of dict
        Responses to :data:`~rlhf_mini.trainers.lm_samples.SAMPLE_PROMPTS` every
        ``sample_every`` iterations, as in :class:`rlhf_mini.LMPPOResult`.
    """

    policy: LanguageModel
    samples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "samples": list(self.samples)}


@dataclass
class _Groups:
    """One batch of groups and what the update needs (backend arrays)."""

    batch: tr.Batch
    mask: Any  # (n G, R) response tokens, 1 = scored
    logp_old: Any  # (n G, R) log pi_old(y_t | s_t), frozen
    logp_ref: Any  # (n G, R) log pi_ref(y_t | s_t)
    advantages: Any  # (n G,) one per response
    max_completion_length: int  # dr_grpo's constant
    forward: Any  # pi_old's forward pass on the batch (the first step reuses it)
    log_softmax: Any  # (n G, R, V) log pi_old(. | s_t)
    metrics: dict[str, float]


def _check_model(model: Any, name: str) -> LanguageModel:
    if not isinstance(model, LanguageModel):
        raise TypeError(f"{name} must be a LanguageModel, got {type(model).__name__}")
    return model


def grpo_logits_grad(
    logits: Any,
    tokens: Any,
    prompt_length: int,
    logp_old: Any,
    logp_ref: Any,
    advantages: Any,
    mask: Any,
    *,
    log_probs: Any = None,
    **loss_options: Any,
) -> tuple[Any, Any, Any]:
    """The GRPO loss of a batch of responses, its gradient w.r.t. the logits and log pi.

    ``logits`` (B, R + 1, V) from :func:`rlhf_mini.trainers.lm_samples.response_logits`,
    ``tokens`` (B, T) with the responses from column ``prompt_length``; ``logp_old``,
    ``logp_ref``, ``mask`` (B, R); ``advantages`` (B,) or (B, R); ``loss_options`` those of
    :func:`rlhf_mini.grpo_loss` (beta, clip_eps, clip_eps_high, loss_type,
    max_completion_length). With logp = log pi(y_t | s_t) from the logits:

        loss    = grpo_loss(logp, logp_old, logp_ref, advantages, mask)
        dlogits = d loss / d logp  chained by  d logp_t / d logits_t = onehot(y_t) - softmax(logits_t)

    Returns (loss as a 0-d array, dlogits (B, R + 1, V), logp (B, R)).

    Examples
    --------
    >>> import numpy as np
    >>> logits = np.zeros((1, 2, 4))                      # uniform over 4 tokens
    >>> tokens = np.array([[0, 2]])                       # prompt [0], response [2]
    >>> lp = np.log(np.full((1, 1), 0.25))
    >>> loss, dlogits, logp = grpo_logits_grad(logits, tokens, 1, lp, lp, np.array([1.0]),
    ...                                        np.ones((1, 1)))
    >>> float(loss), dlogits[0, 0]                        # -A (onehot - 1/4)
    (-1.0, array([ 0.25,  0.25, -0.75,  0.25]))
    """
    lsm = response_log_softmax(logits) if log_probs is None else log_probs
    logp = response_log_probs(logits, tokens, prompt_length, log_probs=lsm)
    args = (logp, logp_old, logp_ref, advantages, mask)
    loss = grpo_loss(*args, **loss_options)
    dlogp = grpo_loss_grad(*args, **loss_options)  # (B, R), 0 on padding
    dlogits = response_log_probs_grad(logits, tokens, prompt_length, dlogp, log_probs=lsm)
    return loss, dlogits, logp


class LMGRPORun:
    """A GRPO run on the language model, advanced one iteration (:meth:`step`) or one slice
    of an iteration (:meth:`slices`) at a time, as :class:`rlhf_mini.LMPPORun`.
    :func:`train_lm_grpo` is this run stepped to the end.

    Parameters
    ----------
    config, **options
        :class:`LMGRPOConfig`, or its fields as keywords.
    policy : LanguageModel, optional
        The initial policy (default: the shipped SFT model).
    reference : LanguageModel, optional
        The frozen reference pi_ref (default: the shipped SFT model).
    reward_model : LanguageModel with a reward head, optional
        The reward model scored (and optimised unless ``reward`` is "gold"); default the
        shipped one the config's ``reward`` names (the faithful one for "gold").
    reward_fn : callable (prompt_id, text) -> float, optional
        A reward of your own to optimise instead of the config's ``reward`` (e.g. another
        checkable rule); it is not part of the config.
    world : TextWorld, optional
        Where the prompts and the gold utility come from.

    Examples
    --------
    >>> run = LMGRPORun(steps=2, n_prompts=2, group_size=2, max_new_tokens=8, seed=0)
    >>> metrics = run.step()
    >>> metrics["step"], sorted(run.history) == sorted(metrics), run.done
    (0, True, False)
    """

    def __init__(
        self,
        config: LMGRPOConfig | None = None,
        *,
        policy: LanguageModel | None = None,
        reference: LanguageModel | None = None,
        reward_model: LanguageModel | None = None,
        reward_fn: Callable[[str, str], float] | None = None,
        world: TextWorld | None = None,
        **options: Any,
    ) -> None:
        cfg = LMGRPOConfig.from_options(config, **options)
        if reward_fn is not None and not callable(reward_fn):
            raise TypeError(f"reward_fn must be callable or None, got {type(reward_fn).__name__}")
        self.config = cfg
        self.backend: Backend = resolve_backend(cfg.backend, cfg.device, cfg.dtype)
        self.world = load_text_world() if world is None else world

        def shipped(stage: str) -> LanguageModel:
            return load_language_model(
                stage, backend=cfg.backend, device=cfg.device, dtype=cfg.dtype
            )

        def moved(model: LanguageModel) -> LanguageModel:
            return model.to(self.backend)

        self.reference = (
            shipped("sft") if reference is None else moved(_check_model(reference, "reference"))
        )
        self.policy = self.reference if policy is None else moved(_check_model(policy, "policy"))
        if reward_model is None:
            name = "faithful" if cfg.reward == "gold" else cfg.reward
            reward_model = shipped(REWARD_MODELS[name])
        self.reward_model = moved(_check_model(reward_model, "reward_model"))
        if "reward" not in self.reward_model.heads:
            raise ValueError("reward_model has no reward head (load stage 'reward')")
        for name, model in (("reference", self.reference), ("reward_model", self.reward_model)):
            if model.tokenizer.words != self.policy.tokenizer.words:
                raise ValueError(f"{name} has a different vocabulary than the policy")
        self.reward_fn = reward_fn
        self.rng = np.random.default_rng(cfg.seed)
        # The shown samples reuse one stream of uniforms (common random numbers), as in PPO.
        self._sample_seed = int(np.random.default_rng([cfg.seed, 1]).integers(2**31))
        self.optimizer = AdamW(cfg.lr)
        self.history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
        self.samples: list[dict[str, Any]] = []
        self.iteration = 0
        self._slices: Generator[str, None, None] | None = None

    # -- the public stepping API -----------------------------------------------------------

    @property
    def done(self) -> bool:
        """Whether ``config.steps`` iterations have run."""
        return self.iteration >= self.config.steps

    def step(self) -> dict[str, float]:
        """Run to the end of the next iteration; return its history entries."""
        for event in self.slices():
            if event == "iteration":
                break
        return {k: v[-1] for k, v in self.history.items()}

    def slices(self) -> Generator[str, None, None]:
        """The rest of the run as a generator of short slices of work, yielding what each
        finished (``"token"``, ``"forward"``, ``"score"``, ``"update"``, ``"samples"``,
        ``"iteration"``), as :meth:`rlhf_mini.LMPPORun.slices`; one generator per run."""
        if self._slices is None:
            self._slices = self._all_slices()
        return self._slices

    def _all_slices(self) -> Generator[str, None, None]:
        if not self.samples:
            yield from self._sample_prompts()
            yield "samples"
        while not self.done:
            yield from self._iteration()
            yield "iteration"
            if self.iteration % self.config.sample_every == 0 or self.done:
                yield from self._sample_prompts()
                yield "samples"

    def result(self) -> LMGRPOResult:
        """The run so far as an :class:`LMGRPOResult`."""
        if self.done:
            for _ in self.slices():  # only the final samples can be left to do
                pass
        return LMGRPOResult(
            history={k: list(v) for k, v in self.history.items()},
            config=self.config.to_dict(),
            policy=self.policy,
            samples=list(self.samples),
        )

    # -- one iteration ------------------------------------------------------------------------

    def _iteration(self) -> Generator[str, None, None]:
        groups = yield from self._groups()
        stats = yield from self._update(groups)
        metrics = {"step": self.iteration, **groups.metrics, **stats, "beta": self.config.beta}
        for key in HISTORY_KEYS:
            self.history[key].append(metrics[key])
        self.iteration += 1

    def _groups(self) -> Generator[str, None, _Groups]:
        cfg, xp = self.config, self.backend.xp
        n, G = cfg.n_prompts, cfg.group_size
        tw = self.world
        ids = [tw.prompts[int(i)].id for i in self.rng.integers(0, len(tw.prompts), size=n)]
        phrasings = [tw.write_prompt(x, self.rng) for x in ids]
        prompt_ids = [x for x in ids for _ in range(G)]  # (n G,): group i is rows iG..iG+G-1
        prompts = [p for p in phrasings for _ in range(G)]
        batch = yield from sample_slices(
            self.policy,
            prompts,
            self.rng,
            temperature=cfg.temperature,
            max_new_tokens=cfg.max_new_tokens,
        )
        P = batch.prompt_length
        mask_np = batch.response_mask[:, P:].astype(float)  # (n G, R)
        w = self.policy.params["wte.weight"]
        mask = tr.host_to_backend(mask_np, w, w.dtype)

        out = yield from response_logits_steps(self.policy, batch)  # logits (n G, R+1, V)
        lsm = response_log_softmax(out.logits)
        logp_old = response_log_probs(out.logits, batch.tokens, P, log_probs=lsm)
        entropy = tr.entropy(out.logits[:, :-1], log_probs=lsm)
        entropy = float(xp.sum(entropy * mask)) / float(mask_np.sum())
        yield "forward"
        ref = yield from response_logits_steps(self.reference, batch)
        logp_ref = response_log_probs(ref.logits, batch.tokens, P)
        yield "forward"
        scores = yield from score_steps(self.reward_model, batch)  # (n G,)
        yield "score"
        measured = measure(
            self.policy,
            self.reference,
            self.reward_model,
            batch,
            prompt_ids,
            self.world,
            logp_policy=logp_old,
            logp_ref=logp_ref,
            scores=scores,
        )
        per = measured["per_response"]
        if self.reward_fn is not None:
            texts = per["texts"]
            rewards = np.array(
                [float(self.reward_fn(x, y)) for x, y in zip(prompt_ids, texts, strict=True)]
            )
        else:
            rewards = per["gold"] if cfg.reward == "gold" else per["proxy"]
        rewards = np.asarray(rewards, dtype=float)
        if not np.all(np.isfinite(rewards)):
            raise FloatingPointError(f"a reward is not finite at iteration {self.iteration}")
        advantages = grpo_advantages(rewards.reshape(n, G), scale=cfg.scale_rewards)  # (n, G)
        advantages = tr.host_to_backend(advantages.reshape(-1), w, w.dtype)  # (n G,)
        room = self.policy.config.n_positions - P
        limit = room if cfg.max_new_tokens is None else min(cfg.max_new_tokens, room)
        metrics = {k: measured[k] for k in ("proxy_reward", "gold_utility", "kl")}
        metrics["response_length"] = measured["response_length"]
        metrics["reward"] = float(rewards.mean())
        metrics["entropy"] = entropy
        return _Groups(
            batch,
            mask,
            logp_old,
            logp_ref,
            advantages,
            max(limit, int(mask_np.shape[1])),
            out,
            lsm,
            metrics,
        )

    def _update(self, groups: _Groups) -> Generator[str, None, dict[str, float]]:
        """``update_epochs`` AdamW steps on the whole batch of groups."""
        cfg, xp = self.config, self.backend.xp
        batch = groups.batch
        P = batch.prompt_length
        high = cfg.clip_eps if cfg.clip_eps_high is None else cfg.clip_eps_high
        losses, clip_fracs = [], []
        for epoch in range(cfg.update_epochs):
            model = self.policy
            if epoch == 0:  # the first step starts from pi_old itself: the sampling's forward
                out, lsm = groups.forward, groups.log_softmax
            else:
                out = yield from response_logits_steps(model, batch)
                yield "forward"
                lsm = response_log_softmax(out.logits)
            loss, dlogits, logp = grpo_logits_grad(
                out.logits,
                batch.tokens,
                P,
                groups.logp_old,
                groups.logp_ref,
                groups.advantages,
                groups.mask,
                log_probs=lsm,
                beta=cfg.beta,
                clip_eps=cfg.clip_eps,
                clip_eps_high=cfg.clip_eps_high,
                loss_type=cfg.loss_type,
                max_completion_length=groups.max_completion_length,
            )
            loss = float(loss)
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"the GRPO loss became {loss} at iteration {self.iteration}"
                )
            ratio = exp_log_ratio(xp, (logp - groups.logp_old) * groups.mask)
            outside = (ratio < 1.0 - cfg.clip_eps) | (ratio > 1.0 + high)
            clipped = xp.astype(outside, groups.mask.dtype) * groups.mask
            clip_fracs.append(float(xp.sum(clipped)) / float(xp.sum(groups.mask)))
            grads = yield from tr.backward_steps(model.params, model.config, out.cache, dlogits)
            grads, _ = clip_grad_norm(grads, cfg.max_grad_norm)
            params = self.optimizer.step(model.params, grads)
            self.policy = LanguageModel(model.config, params, model.tokenizer)
            losses.append(loss)
            yield "update"
        return {"clip_fraction": float(np.mean(clip_fracs)), "loss": float(np.mean(losses))}

    # -- the shown samples ----------------------------------------------------------------

    def _sample_prompts(self) -> Generator[str, None, None]:
        """Responses of the current policy to the fixed prompts, recorded in ``samples``."""
        responses = yield from shown_samples(
            self.policy,
            self.reward_model,
            self.world,
            self._sample_seed,
            temperature=self.config.temperature,
            max_new_tokens=self.config.max_new_tokens,
        )
        self.samples.append({"step": self.iteration, "responses": responses})


def train_lm_grpo(
    config: LMGRPOConfig | None = None,
    *,
    policy: LanguageModel | None = None,
    reference: LanguageModel | None = None,
    reward_model: LanguageModel | None = None,
    reward_fn: Callable[[str, str], float] | None = None,
    world: TextWorld | None = None,
    callback: Any = None,
    **options: Any,
) -> LMGRPOResult:
    """Align the language model with GRPO (see the module docstring).

    Parameters
    ----------
    config, **options
        :class:`LMGRPOConfig`, or its fields as keywords (``train_lm_grpo(reward="gold")``).
    policy, reference, reward_model, reward_fn, world
        As for :class:`LMGRPORun`.
    callback : callable(step, metrics) or None
        Called after each iteration with its history entries (for progress bars).

    Returns
    -------
    LMGRPOResult

    Examples
    --------
    >>> res = train_lm_grpo(steps=2, n_prompts=2, group_size=2, max_new_tokens=8, seed=0)
    >>> res.history["step"], len(res.samples[-1]["responses"])
    ([0, 1], 3)
    """
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    run = LMGRPORun(
        config,
        policy=policy,
        reference=reference,
        reward_model=reward_model,
        reward_fn=reward_fn,
        world=world,
        **options,
    )
    for event in run.slices():
        if event == "iteration" and callback is not None:
            callback(run.iteration - 1, {k: v[-1] for k, v in run.history.items()})
    return run.result()
