"""PPO on the tiny language model: RLHF as InstructGPT does it, on a model that writes.

Public names
------------
LMPPOConfig                          the settings, one doc line each
train_lm_ppo(...)  -> LMPPOResult    a whole run
LMPPORun                             the same run one iteration (or one slice) at a time
LMPPOResult                          .policy, .history, .samples, .final(), .to_dict()

The objective of Ziegler et al. 2019 (arXiv 1909.08593) and Ouyang et al. 2022 (InstructGPT,
arXiv 2203.02155, eq. 2): for prompts x and responses y ~ pi(.|x),

    maximise  E[ r_phi(x, y) ] - beta KL(pi(.|x) || pi_ref(.|x))

with r_phi the reward model's score of the whole response and pi_ref the frozen SFT model.
One PPO iteration (Schulman et al. 2017, arXiv 1707.06347), token by token:

1. Rollout: ``batch_size`` prompts (uniformly, a random phrasing each) and one response to
   each sampled from pi_old, the current policy (:func:`rlhf_mini.models.transformer.sample_steps`).
2. Scoring: the reward model's score s at each response's last token; the log-probabilities
   of every response token under pi_old and pi_ref, and the critic's values V(s_t).
3. Per-token rewards (:func:`rlhf_mini.kl_penalized_rewards`, the k1 penalty):
       R_t = -beta (log pi_old(y_t|s_t) - log pi_ref(y_t|s_t)) + [t = last] s
4. Advantages and returns by GAE (:func:`rlhf_mini.gae`, Schulman et al. 2015, arXiv
   1506.02438) over the response tokens, the value after the last token 0; advantages
   whitened over the batch's response tokens.
5. ``update_epochs`` passes over ``num_minibatches`` minibatches of responses, each an AdamW
   step on the mean over response tokens of
       L = -min(rho_t A_t, clip(rho_t, 1 - eps, 1 + eps) A_t)          (rlhf_mini.ppo_clip_loss)
           + vf_coef (V(s_t) - R_t^GAE)^2 / 2                         (the critic)
           - ent_coef H(pi(.|s_t)),         rho_t = pi_theta(y_t|s_t) / pi_old(y_t|s_t)
   Gradients are hand-derived: the surrogate's w.r.t. log pi (:func:`rlhf_mini.ppo_clip_loss_grad`),
   chained to the logits by d log pi(y|s)/d logits = onehot(y) - pi(.|s)
   (:func:`rlhf_mini.models.transformer.token_log_probs_grad`), then through the transformer
   (:func:`rlhf_mini.models.transformer.backward`).

The critic is a value head on the policy's own final hidden states (one trunk, two heads, as
TRL's ``AutoModelForCausalLMWithValueHead``), starting at zero; InstructGPT used a separate
value model initialised from the reward model, which costs a second trunk. With
``kl_target`` set, beta follows the adaptive controller of Ziegler et al.
(:class:`rlhf_mini.AdaptiveKLController`).

KL here is a sum over the response's tokens (the KL between sequence distributions), so it
grows with length: a KL weight that would be tiny per token is not tiny per response. The
history's ``kl`` is the batch mean of sum_t (log pi_old(y_t) - log pi_ref(y_t)), an unbiased
(k1) estimate of KL(pi_old || pi_ref) in nats per response.

Responses whose length reaches ``max_new_tokens`` (by default what the context leaves) stop
there and are scored at their last token.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf_mini.core.backend import Backend, resolve_backend
from rlhf_mini.core.checks import check_in_range, check_int, check_non_negative, check_positive
from rlhf_mini.core.config import TrainerConfig
from rlhf_mini.core.numerics import exp_log_ratio
from rlhf_mini.core.optim import AdamW, clip_grad_norm
from rlhf_mini.core.runs import RunResult
from rlhf_mini.losses.advantages import gae
from rlhf_mini.losses.kl import AdaptiveKLController, kl_penalized_rewards
from rlhf_mini.losses.ppo_clip import ppo_clip_loss, ppo_clip_loss_grad
from rlhf_mini.models import transformer as tr
from rlhf_mini.models.language_model import LanguageModel, load_language_model
from rlhf_mini.trainers.lm_samples import (
    REWARD_MODELS,
    measure,
    response_log_probs,
    response_log_probs_grad,
    response_log_softmax,
    response_logits_mask,
    response_logits_steps,
    sample_slices,
    score_steps,
    shown_samples,
)
from rlhf_mini.worlds.text import TextWorld, load_text_world

__all__ = ["LMPPOConfig", "LMPPOResult", "LMPPORun", "token_advantages", "train_lm_ppo"]

HISTORY_KEYS = (
    "step",
    "proxy_reward",
    "gold_utility",
    "kl",
    "response_length",
    "entropy",
    "clip_fraction",
    "policy_loss",
    "value_loss",
    "beta",
)


@dataclass(frozen=True)
class LMPPOConfig(TrainerConfig):
    """Settings of :func:`train_lm_ppo` (the defaults make the lesson's runs)."""

    dtype: str = field(default="float32", metadata={"choices": ("float64", "float32")})
    """Precision of every array (float32: half the memory traffic, ~1.4x faster on a CPU)."""
    reward_model: str = field(default="verbose", metadata={"choices": tuple(REWARD_MODELS)})
    """The shipped reward model to optimise when none is given: the verbosity-loving one
    (default: the flawed proxy whose exploitation the course studies) or the faithful one."""
    beta: float = 0.05
    """KL weight per token of the penalty against the SFT reference (the initial one with kl_target)."""
    steps: int = 100
    """PPO iterations: a rollout, its scoring and update_epochs passes each."""
    batch_size: int = 16
    """Responses sampled per rollout."""
    max_new_tokens: int | None = None
    """Longest response in tokens (None: what the context leaves after the prompt)."""
    temperature: float = 1.0
    """Sampling temperature of the rollouts."""
    lr: float = 1e-4
    """AdamW step size (constant; 3e-4 already makes the first updates noisy enough to garble text)."""
    update_epochs: int = 2
    """Passes over each rollout."""
    num_minibatches: int = 1
    """Minibatches of whole responses per pass (at most batch_size)."""
    clip_eps: float = 0.2
    """Clip range of the probability ratio, in (0, 1)."""
    vf_coef: float = 0.1
    """Weight of the critic's loss in the shared trunk's gradient (1.0 melts the language model: entropy doubles in 100 iterations)."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    gamma: float = 1.0
    """Discount in GAE, in [0, 1]."""
    lam: float = 0.95
    """GAE's bias-variance trade-off, in [0, 1]."""
    max_grad_norm: float = 1.0
    """Gradients are scaled down to this global norm when larger."""
    kl_target: float | None = None
    """Adapt beta toward this KL per response (nats) with the controller of Ziegler et al. (None: fixed)."""
    kl_horizon: float = 10_000.0
    """Horizon of the adaptive KL controller, in responses."""
    sample_every: int = 5
    """Write responses to the fixed prompts every this many iterations (and at the start and end)."""

    def check(self) -> dict[str, Any]:
        values = {
            **super().check(),
            "beta": check_positive(self.beta, "beta"),
            "steps": check_int(self.steps, "steps", 0),
            "batch_size": check_int(self.batch_size, "batch_size"),
            "max_new_tokens": None
            if self.max_new_tokens is None
            else check_int(self.max_new_tokens, "max_new_tokens"),
            "temperature": check_positive(self.temperature, "temperature"),
            "lr": check_positive(self.lr, "lr"),
            "update_epochs": check_int(self.update_epochs, "update_epochs"),
            "num_minibatches": check_int(self.num_minibatches, "num_minibatches"),
            "clip_eps": check_in_range(
                self.clip_eps, "clip_eps", 0.0, 1.0, low_open=True, high_open=True
            ),
            "vf_coef": check_non_negative(self.vf_coef, "vf_coef"),
            "ent_coef": check_non_negative(self.ent_coef, "ent_coef"),
            "gamma": check_in_range(self.gamma, "gamma", 0.0, 1.0, low_open=False, high_open=False),
            "lam": check_in_range(self.lam, "lam", 0.0, 1.0, low_open=False, high_open=False),
            "max_grad_norm": check_positive(self.max_grad_norm, "max_grad_norm"),
            "kl_target": None
            if self.kl_target is None
            else check_positive(self.kl_target, "kl_target"),
            "kl_horizon": check_positive(self.kl_horizon, "kl_horizon"),
            "sample_every": check_int(self.sample_every, "sample_every"),
        }
        if values["num_minibatches"] > values["batch_size"]:
            raise ValueError(
                f"num_minibatches must be <= batch_size ({values['batch_size']}), "
                f"got {values['num_minibatches']}"
            )
        return values


@dataclass(kw_only=True)
class LMPPOResult(RunResult):
    """What :func:`train_lm_ppo` returns.

    Attributes
    ----------
    history : dict of lists, one value per iteration (measured on its rollout, before its update)
        ``step``; ``proxy_reward`` (mean reward-model score), ``gold_utility`` (mean gold
        utility of the responses, :func:`rlhf_mini.gold_utility`), ``kl`` (mean over responses
        of sum_t log pi_old(y_t) - log pi_ref(y_t), nats), ``response_length`` (mean tokens,
        <eos> included), ``entropy`` (mean per-token entropy of pi_old over the response
        tokens, nats); ``clip_fraction``, ``policy_loss`` and ``value_loss`` of the update
        that followed (means over its minibatch steps); ``beta`` used for the rollout.
    policy : LanguageModel
        The trained policy (with its value head).
    samples : list of dict
        Responses to :data:`~rlhf_mini.trainers.lm_samples.SAMPLE_PROMPTS` every ``sample_every`` iterations: ``step`` and
        ``responses`` (dicts with prompt_id, prompt, text, proxy_reward, gold_utility, tokens).
    """

    policy: LanguageModel
    samples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "samples": list(self.samples)}


@dataclass
class _Rollout:
    """One batch of responses and what the update needs (numpy masks, backend arrays)."""

    batch: tr.Batch
    mask: Any  # (B, R) response tokens on the backend, 1 = scored
    logp_old: Any  # (B, R) log pi_old(y_t | s_t), frozen
    advantages: Any  # (B, R), whitened
    returns: Any  # (B, R)
    forward: Any  # the forward pass of pi_old on the batch (its cache serves the first step)
    log_softmax: Any  # (B, R, V) log pi_old(. | s_t), as the first step's log pi_theta
    metrics: dict[str, float]


def _check_model(model: Any, name: str) -> LanguageModel:
    if not isinstance(model, LanguageModel):
        raise TypeError(f"{name} must be a LanguageModel, got {type(model).__name__}")
    return model


class LMPPORun:
    """A PPO run on the language model, advanced one iteration (:meth:`step`) or one slice of
    an iteration (:meth:`slices`) at a time, so a page can train between animation frames,
    stop and resume. :func:`train_lm_ppo` is this run stepped to the end.

    Parameters
    ----------
    config, **options
        :class:`LMPPOConfig`, or its fields as keywords.
    policy : LanguageModel, optional
        The initial policy (default: the shipped SFT model); a value head is added at zero
        if it has none.
    reference : LanguageModel, optional
        The frozen reference pi_ref (default: the shipped SFT model).
    reward_model : LanguageModel with a reward head, or "faithful" / "verbose", optional
        A model, or the name of a shipped one (the config's ``reward_model`` field, which
        names the default).
    world : TextWorld, optional
        Where the prompts and the gold utility come from.

    Examples
    --------
    >>> run = LMPPORun(steps=3, batch_size=4, seed=0)
    >>> metrics = run.step()
    >>> metrics["step"], sorted(run.history) == sorted(metrics)
    (0, True)
    >>> run.done, run.step()["step"], run.step()["step"], run.done
    (False, 1, 2, True)
    """

    def __init__(
        self,
        config: LMPPOConfig | None = None,
        *,
        policy: LanguageModel | None = None,
        reference: LanguageModel | None = None,
        reward_model: LanguageModel | str | None = None,
        world: TextWorld | None = None,
        **options: Any,
    ) -> None:
        if isinstance(reward_model, str):  # a shipped one by name: the config's field
            options["reward_model"], reward_model = reward_model, None
        cfg = LMPPOConfig.from_options(config, **options)
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
        start = self.reference if policy is None else moved(_check_model(policy, "policy"))
        self.policy = start.with_heads(("value",))
        if reward_model is None:
            reward_model = shipped(REWARD_MODELS[cfg.reward_model])
        self.reward_model = moved(_check_model(reward_model, "reward_model"))
        if "reward" not in self.reward_model.heads:
            raise ValueError("reward_model has no reward head (load stage 'reward')")
        for name, model in (("reference", self.reference), ("reward_model", self.reward_model)):
            if model.tokenizer.words != self.policy.tokenizer.words:
                raise ValueError(f"{name} has a different vocabulary than the policy")
        self.rng = np.random.default_rng(cfg.seed)
        # The shown samples reuse one stream of uniforms every time they are drawn, so they
        # change only where the policy does (common random numbers).
        self._sample_seed = int(np.random.default_rng([cfg.seed, 1]).integers(2**31))
        self.optimizer = AdamW(cfg.lr)
        self.kl_controller = (
            None
            if cfg.kl_target is None
            else AdaptiveKLController(cfg.beta, cfg.kl_target, cfg.kl_horizon)
        )
        self.history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
        self.samples: list[dict[str, Any]] = []
        self.iteration = 0
        self._slices: Generator[str, None, None] | None = None

    # -- the public stepping API -----------------------------------------------------------

    @property
    def done(self) -> bool:
        """Whether ``config.steps`` iterations have run."""
        return self.iteration >= self.config.steps

    @property
    def beta(self) -> float:
        """The KL weight of the next rollout."""
        return self.config.beta if self.kl_controller is None else float(self.kl_controller.value)

    def step(self) -> dict[str, float]:
        """Run to the end of the next iteration; return its history entries."""
        for event in self.slices():
            if event == "iteration":
                break
        return {k: v[-1] for k, v in self.history.items()}

    def slices(self) -> Generator[str, None, None]:
        """The rest of the run as a generator of short slices of work: each ``next`` runs one
        slice (a sampled token, a forward or a backward pass, a scoring pass) and yields what
        it finished: ``"token"``, ``"forward"``, ``"score"``, ``"update"``, ``"samples"``
        (a new entry in ``samples``) or ``"iteration"`` (a new entry in the history).

        There is one such generator per run: calling ``slices()`` again returns the same one,
        so to pause, stop calling ``next``; to resume, call it again (from either).
        """
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

    def result(self) -> LMPPOResult:
        """The run so far as an :class:`LMPPOResult` (a finished run's samples end with the
        final policy's)."""
        if self.done:
            for _ in self.slices():  # only the final samples can be left to do
                pass
        return LMPPOResult(
            history={k: list(v) for k, v in self.history.items()},
            config=self.config.to_dict(),
            policy=self.policy,
            samples=list(self.samples),
        )

    # -- one iteration ------------------------------------------------------------------------

    def _iteration(self) -> Generator[str, None, dict[str, float]]:
        beta = self.beta
        rollout = yield from self._rollout(beta)
        stats = yield from self._update(rollout)
        metrics = {"step": self.iteration, **rollout.metrics, **stats, "beta": beta}
        for key in HISTORY_KEYS:
            self.history[key].append(metrics[key])
        if self.kl_controller is not None:
            self.kl_controller.update(rollout.metrics["kl"], self.config.batch_size)
        self.iteration += 1
        return {k: metrics[k] for k in HISTORY_KEYS}

    def _prompts(self, n: int) -> tuple[list[str], list[str]]:
        """n prompt ids drawn uniformly and a random phrasing of each."""
        tw = self.world
        ids = [tw.prompts[int(i)].id for i in self.rng.integers(0, len(tw.prompts), size=n)]
        return ids, [tw.write_prompt(x, self.rng) for x in ids]

    def _sample(
        self, prompts: list[str], rng: np.random.Generator
    ) -> Generator[str, None, tr.Batch]:
        return (
            yield from sample_slices(
                self.policy,
                prompts,
                rng,
                temperature=self.config.temperature,
                max_new_tokens=self.config.max_new_tokens,
            )
        )

    def _rollout(self, beta: float) -> Generator[str, None, _Rollout]:
        cfg, xp = self.config, self.backend.xp
        prompt_ids, prompts = self._prompts(cfg.batch_size)
        batch = yield from self._sample(prompts, self.rng)
        P = batch.prompt_length
        mask_np = batch.response_mask[:, P:].astype(float)  # (B, R)
        w = self.policy.params["wte.weight"]
        mask = tr.host_to_backend(mask_np, w, w.dtype)
        n_tokens = float(mask_np.sum())

        # pi_old: logits and values on the whole batch (its cache is reused by the update)
        out = yield from response_logits_steps(self.policy, batch)  # logits (B, R+1, V)
        lsm = response_log_softmax(out.logits)  # (B, R, V), computed once
        logp_old = response_log_probs(out.logits, batch.tokens, P, log_probs=lsm)  # (B, R)
        values = out.values[:, P - 1 : -1] * mask  # V(s_t) before each response token
        entropy = tr.entropy(out.logits[:, :-1], log_probs=lsm)
        entropy = float(xp.sum(entropy * mask)) / n_tokens
        yield "forward"
        ref = yield from response_logits_steps(self.reference, batch)
        logp_ref = response_log_probs(ref.logits, batch.tokens, P)
        yield "forward"
        scores = yield from score_steps(self.reward_model, batch)  # (B,) at the last token
        yield "score"

        _, advantages, returns = token_advantages(
            scores, logp_old, logp_ref, values, mask, beta, cfg.gamma, cfg.lam
        )
        advantages = _whiten(xp, advantages, mask, n_tokens)
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
        metrics = {
            k: measured[k] for k in ("proxy_reward", "gold_utility", "kl", "response_length")
        }
        metrics["entropy"] = entropy
        return _Rollout(batch, mask, logp_old, advantages, returns, out, lsm, metrics)

    def _update(self, rollout: _Rollout) -> Generator[str, None, dict[str, float]]:
        """``update_epochs`` passes over minibatches of whole responses."""
        cfg = self.config
        B = cfg.batch_size
        clip_fracs, pg_losses, v_losses = [], [], []
        first = True
        for _ in range(cfg.update_epochs):
            order = self.rng.permutation(B) if cfg.num_minibatches > 1 else np.arange(B)
            for rows in np.array_split(order, cfg.num_minibatches):
                # The first step of a one-minibatch pass starts from pi_old itself: its
                # forward pass is the rollout's (same parameters, same tokens).
                reuse = first and cfg.num_minibatches == 1
                first = False
                loss, v_loss, clip_frac, grads = yield from self._minibatch(rollout, rows, reuse)
                grads, _ = clip_grad_norm(grads, cfg.max_grad_norm)
                params = self.optimizer.step(self.policy.params, grads)
                self.policy = LanguageModel(self.policy.config, params, self.policy.tokenizer)
                pg_losses.append(loss)
                v_losses.append(v_loss)
                clip_fracs.append(clip_frac)
                yield "update"
        return {
            "clip_fraction": float(np.mean(clip_fracs)),
            "policy_loss": float(np.mean(pg_losses)),
            "value_loss": float(np.mean(v_losses)),
        }

    def _minibatch(
        self, rollout: _Rollout, rows: np.ndarray, reuse: bool
    ) -> Generator[str, None, tuple[float, float, float, dict[str, Any]]]:
        """Loss, value loss, clip fraction and gradients of one minibatch (see the module
        docstring for the loss)."""
        cfg, xp = self.config, self.backend.xp
        model, batch = self.policy, rollout.batch
        P = batch.prompt_length
        if reuse:
            take = slice(None)
            out, lsm = rollout.forward, rollout.log_softmax
        else:
            take = tr.host_to_backend(rows.astype(np.intp), model.params["wte.weight"])
            out = yield from tr.forward_steps(
                model.params,
                model.config,
                batch.tokens[rows],
                batch.attention_mask[rows],
                logits_from=P - 1,
                logits_mask=response_logits_mask(batch)[rows],
            )
            yield "forward"
            lsm = response_log_softmax(out.logits)  # (b, R, V), computed once

        def pick(a: Any) -> Any:
            return a if reuse else xp.take(a, take, axis=0)

        mask, adv, ret, logp_old = (
            pick(rollout.mask),
            pick(rollout.advantages),
            pick(rollout.returns),
            pick(rollout.logp_old),
        )
        n = float(xp.sum(mask))
        tokens = batch.tokens if reuse else batch.tokens[rows]
        logp = response_log_probs(out.logits, tokens, P, log_probs=lsm)
        # policy: the clipped surrogate, averaged over the response tokens
        loss = float(xp.sum(ppo_clip_loss(logp, logp_old, adv, cfg.clip_eps) * mask)) / n
        dlogp = ppo_clip_loss_grad(logp, logp_old, adv, cfg.clip_eps) * mask / n  # (b, R)
        ratio = exp_log_ratio(xp, logp - logp_old)
        clipped = xp.astype(xp.abs(ratio - 1.0) > cfg.clip_eps, mask.dtype)
        clip_frac = float(xp.sum(clipped * mask)) / n
        dlogits = response_log_probs_grad(out.logits, tokens, P, dlogp, log_probs=lsm)
        if cfg.ent_coef > 0:  # - ent_coef * mean H: its gradient through the softmax
            dent = tr.entropy_grad(out.logits[:, :-1], -cfg.ent_coef * mask / n, log_probs=lsm)
            dlogits = dlogits + xp.concat([dent, xp.zeros_like(out.logits[:, -1:])], axis=1)
        # critic: 1/2 (V - R)^2 on the states before each response token
        v = out.values[:, P - 1 : -1]
        err = (v - ret) * mask
        v_loss = 0.5 * float(xp.sum(err * err)) / n
        dv = cfg.vf_coef * err / n  # (b, R)
        zeros = xp.zeros_like(out.values[:, : P - 1])
        dvalues = xp.concat([zeros, dv, xp.zeros_like(out.values[:, -1:])], axis=1)
        grads = yield from tr.backward_steps(
            model.params, model.config, out.cache, dlogits, dvalues=dvalues
        )
        if not math.isfinite(loss + v_loss):
            raise FloatingPointError(
                f"the PPO loss became {loss + v_loss} at iteration {self.iteration}"
            )
        return loss, v_loss, clip_frac, grads

    # -- the shown samples ----------------------------------------------------------------

    def _sample_prompts(self) -> Generator[str, None, None]:
        """Responses of the current policy to :data:`~rlhf_mini.trainers.lm_samples.SAMPLE_PROMPTS`, recorded in ``samples``."""
        responses = yield from shown_samples(
            self.policy,
            self.reward_model,
            self.world,
            self._sample_seed,
            temperature=self.config.temperature,
            max_new_tokens=self.config.max_new_tokens,
        )
        self.samples.append({"step": self.iteration, "responses": responses})


def token_advantages(
    scores: Any,
    logp_old: Any,
    logp_ref: Any,
    values: Any,
    mask: Any,
    beta: float,
    gamma: float = 1.0,
    lam: float = 0.95,
) -> tuple[Any, Any, Any]:
    """Per-token rewards, advantages and returns of a batch of responses (steps 3 and 4 of
    the module docstring), before whitening: :func:`rlhf_mini.kl_penalized_rewards`, then
    :func:`rlhf_mini.gae`,

        R_t = -beta (log pi_old(y_t) - log pi_ref(y_t)) + [t = last] score
        A_t, R^GAE_t = GAE(R, V; gamma, lam)

    ``scores`` (B,); ``logp_old``, ``logp_ref``, ``values``, ``mask`` (B, R) over the
    response columns, ``mask`` 1 on response tokens. Values on padding must be 0 (then the
    value after each response's last token is 0, and padding gets no advantage).

    On a one-token response this is the response-level bandit's update
    (:func:`rlhf_mini.train_ppo`): R = score - beta (log pi_old - log pi_ref), A = R - V.

    Examples
    --------
    >>> import numpy as np
    >>> one = np.ones((1, 1))
    >>> R, A, ret = token_advantages(np.array([1.0]), np.log(0.5) * one, np.log(0.25) * one,
    ...                              0.2 * one, one, beta=0.1)
    >>> R.round(4), A.round(4), ret.round(4)
    (array([[0.9307]]), array([[0.7307]]), array([[0.9307]]))
    """
    rewards = kl_penalized_rewards(scores, logp_old, logp_ref, beta, mask)  # (B, R)
    advantages, returns = gae(rewards, values * mask, gamma=gamma, lam=lam)
    return rewards, advantages, returns


def _whiten(xp: Any, x: Any, mask: Any, n: float) -> Any:
    """(x - mean) / std over the masked entries (TRL's masked whitening), 0 elsewhere."""
    mean = xp.sum(x * mask) / n
    var = xp.sum(((x - mean) * mask) ** 2) / max(n - 1.0, 1.0)
    return (x - mean) / (xp.sqrt(var) + 1e-8) * mask


def train_lm_ppo(
    config: LMPPOConfig | None = None,
    *,
    policy: LanguageModel | None = None,
    reference: LanguageModel | None = None,
    reward_model: LanguageModel | str | None = None,
    world: TextWorld | None = None,
    callback: Any = None,
    **options: Any,
) -> LMPPOResult:
    """Align the language model with PPO against a reward model (see the module docstring).

    Parameters
    ----------
    config, **options
        :class:`LMPPOConfig`, or its fields as keywords (``train_lm_ppo(beta=0.01)``).
    policy, reference, reward_model, world
        As for :class:`LMPPORun` (defaults: the shipped SFT model and reward models).
    callback : callable(step, metrics) or None
        Called after each iteration with its history entries (for progress bars).

    Returns
    -------
    LMPPOResult

    Examples
    --------
    >>> res = train_lm_ppo(steps=2, batch_size=4, seed=0)
    >>> res.history["step"], len(res.samples[-1]["responses"])
    ([0, 1], 3)
    """
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    run = LMPPORun(
        config,
        policy=policy,
        reference=reference,
        reward_model=reward_model,
        world=world,
        **options,
    )
    for event in run.slices():
        if event == "iteration" and callback is not None:
            callback(run.iteration - 1, {k: v[-1] for k, v in run.history.items()})
    return run.result()
