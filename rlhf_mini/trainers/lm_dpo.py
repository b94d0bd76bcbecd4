"""DPO on the tiny language model: learn from the comparisons themselves, no reward model.

Public names
------------
LMDPOConfig                            the settings, one doc line each
train_lm_dpo(...)  -> LMDPOResult      a whole run
LMDPORun                               the same run one step (or one slice) at a time
LMDPOResult                            .policy, .history, .samples, .final(), .to_dict()
reward_model_pairs(...)                the comparisons a shipped reward model was trained on

Direct Preference Optimization (Rafailov et al. 2023, arXiv 2305.18290) on sequences: for
a comparison (x, y_w, y_l) the sequence log-probabilities

    log pi(y | x) = sum_t log pi(y_t | x, y_<t)        (the response's tokens and its <eos>)

enter the DPO loss (:func:`rlhf_mini.dpo_loss`, one of its ``loss_type`` siblings: sigmoid,
IPO, hinge, robust) against the frozen SFT reference pi_ref:

    h = (log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x))
    sigmoid: L = -log sigmoid(beta h)

Its gradient w.r.t. each sequence log-probability (:func:`rlhf_mini.dpo_loss_grad`) is the
gradient w.r.t. each of the sequence's token log-probabilities, chained to the logits by
d log pi(y|s) / d logits = onehot(y) - pi(.|s)
(:func:`rlhf_mini.models.transformer.token_log_probs_grad`) and through the transformer by
hand. The implicit reward beta (log pi(y|x) - log pi_ref(y|x)) of chosen and rejected
responses, and their margin, are logged.

The data are the reward models' own (:func:`reward_model_pairs`): pairs of responses sampled
from the base and SFT models, labelled by the simulated labellers (faithful, or fond of
verbosity), split into the same training and held-out pairs. So PPO against a reward model
and DPO on that reward model's comparisons learn from the same labels, as the course
compares them on the response bandit. The history measures the policy as PPO's does, on
sampled responses: the reward model's score (the proxy), the gold utility, the KL to the
reference summed over tokens, the length (:func:`rlhf_mini.trainers.lm_samples.measure`).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf_mini.core.backend import Backend, resolve_backend, to_numpy
from rlhf_mini.core.checks import check_in_range, check_int, check_positive
from rlhf_mini.core.config import TrainerConfig
from rlhf_mini.core.optim import AdamW, clip_grad_norm
from rlhf_mini.core.runs import RunResult
from rlhf_mini.losses.dpo import DPO_LOSS_TYPES, dpo_loss, dpo_loss_grad
from rlhf_mini.models import transformer as tr
from rlhf_mini.models.language_model import LanguageModel, load_language_model, shipped_manifest
from rlhf_mini.trainers.lm_reward_model import (
    LMRewardConfig,
    TextComparisons,
    sample_text_comparisons,
    split_comparisons,
)
from rlhf_mini.trainers.lm_samples import (
    REWARD_MODELS,
    measure,
    response_log_probs,
    response_log_probs_grad,
    response_logits_steps,
    sample_slices,
    score_steps,
    shown_samples,
)
from rlhf_mini.worlds.text import TextWorld, load_text_world

__all__ = ["LMDPOConfig", "LMDPOResult", "LMDPORun", "reward_model_pairs", "train_lm_dpo"]

HISTORY_KEYS = (
    "step",
    "loss",
    "accuracy",
    "reward_margin",
    "chosen_reward",
    "rejected_reward",
    "proxy_reward",
    "gold_utility",
    "kl",
    "response_length",
)
HELDOUT_KEYS = ("heldout_loss", "heldout_accuracy", "heldout_reward_margin")


@dataclass(frozen=True)
class LMDPOConfig(TrainerConfig):
    """Settings of :func:`train_lm_dpo` (the defaults make the lesson's run)."""

    dtype: str = field(default="float32", metadata={"choices": ("float64", "float32")})
    """Precision of every array (float32: half the memory traffic, ~1.4x faster on a CPU)."""
    reward_model: str = field(default="faithful", metadata={"choices": tuple(REWARD_MODELS)})
    """Whose labels to learn from (the shipped reward model's comparisons), and the proxy measured."""
    beta: float = 0.1
    """DPO's KL strength: a small beta lets the policy move far from the reference."""
    loss_type: str = field(default="sigmoid", metadata={"choices": DPO_LOSS_TYPES})
    """The loss of the DPO family (rlhf_mini.dpo_loss)."""
    label_smoothing: float = 0.0
    """Assumed share of flipped labels, in [0, 0.5) (conservative DPO, robust DPO)."""
    steps: int = 200
    """AdamW steps, each on batch_size comparisons."""
    batch_size: int = 8
    """Comparisons per step (2 x batch_size sequences)."""
    lr: float = 5e-5
    """AdamW step size (constant; at 1e-4 both responses of a pair lose probability fast and the samples turn to word salad)."""
    max_grad_norm: float = 1.0
    """Gradients are scaled down to this global norm when larger."""
    n_pairs: int | None = None
    """Train on the first n_pairs training comparisons (None: all of them)."""
    eval_every: int = 10
    """Measure the policy every this many steps (and at the start and the end)."""
    eval_size: int = 16
    """Responses sampled to measure the policy (proxy reward, gold utility, KL, length)."""
    monitor_pairs: int = 32
    """Comparisons (the first training ones, and held-out ones if given) the DPO loss, accuracy and margin are logged on."""
    temperature: float = 1.0
    """Sampling temperature of the measured and shown responses."""
    max_new_tokens: int | None = None
    """Longest sampled response in tokens (None: what the context leaves after the prompt)."""

    def check(self) -> dict[str, Any]:
        return {
            **super().check(),
            "beta": check_positive(self.beta, "beta"),
            "label_smoothing": check_in_range(
                self.label_smoothing, "label_smoothing", 0.0, 0.5, low_open=False, high_open=True
            ),
            "steps": check_int(self.steps, "steps", 0),
            "batch_size": check_int(self.batch_size, "batch_size"),
            "lr": check_positive(self.lr, "lr"),
            "max_grad_norm": check_positive(self.max_grad_norm, "max_grad_norm"),
            "n_pairs": None if self.n_pairs is None else check_int(self.n_pairs, "n_pairs"),
            "eval_every": check_int(self.eval_every, "eval_every"),
            "eval_size": check_int(self.eval_size, "eval_size"),
            "monitor_pairs": check_int(self.monitor_pairs, "monitor_pairs"),
            "temperature": check_positive(self.temperature, "temperature"),
            "max_new_tokens": None
            if self.max_new_tokens is None
            else check_int(self.max_new_tokens, "max_new_tokens"),
        }


@dataclass(kw_only=True)
class LMDPOResult(RunResult):
    """What :func:`train_lm_dpo` returns.

    Attributes
    ----------
    history : dict of lists, one value per measured step (0, eval_every, ..., steps)
        ``step``; on the monitored training comparisons: ``loss`` (mean DPO loss),
        ``accuracy`` (share whose implicit reward ranks the chosen response higher),
        ``reward_margin``, ``chosen_reward``, ``rejected_reward`` (means of the implicit
        rewards beta log pi/pi_ref); on ``eval_size`` sampled responses: ``proxy_reward``,
        ``gold_utility``, ``kl``, ``response_length`` (as PPO's history); with held-out
        comparisons also ``heldout_loss``, ``heldout_accuracy``, ``heldout_reward_margin``.
    policy : LanguageModel
    samples : list of dict
        Responses to the shown prompts at every measured step (as PPO's).
    """

    policy: LanguageModel
    samples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "samples": list(self.samples)}


def reward_model_pairs(
    name: str = "faithful", *, n_pairs: int | None = None, callback: Any = None
) -> tuple[TextComparisons, TextComparisons]:
    """(train, held-out) comparisons of the shipped reward model ``name``: re-sampled from the
    shipped base and SFT models with the config its manifest records, and split as its
    training split them (:func:`rlhf_mini.trainers.lm_reward_model.split_comparisons`).

    ``n_pairs`` samples only that many pairs (the first of the same stream: a smaller data
    set, quicker to make, split the same way). Takes a while for the full 2000 pairs
    (about a minute on a laptop core); ``callback(done, total)`` reports progress.
    """
    if name not in REWARD_MODELS:
        raise ValueError(f"name must be one of {tuple(REWARD_MODELS)}, got {name!r}")
    record = shipped_manifest()["stages"][REWARD_MODELS[name]]["config"]
    config = LMRewardConfig(**record)
    if n_pairs is not None:
        config = LMRewardConfig(**{**record, "n_pairs": check_int(n_pairs, "n_pairs")})
    base, sft = load_language_model("base"), load_language_model("sft")
    pairs = sample_text_comparisons(base, sft, config, callback=callback)
    return split_comparisons(pairs, config.heldout_fraction, np.random.default_rng(config.seed + 1))


@dataclass
class _Pairs:
    """Comparisons as token batches: chosen rows first, then rejected ones (2n rows), with
    the reference's sequence log-probabilities of each."""

    pairs: TextComparisons
    ref_chosen: np.ndarray  # (n,)
    ref_rejected: np.ndarray  # (n,)


class LMDPORun:
    """A DPO run on the language model, advanced one step (:meth:`step`) or one slice
    (:meth:`slices`) at a time, like :class:`rlhf_mini.trainers.lm_ppo.LMPPORun`.

    Parameters
    ----------
    pairs : TextComparisons
        The training comparisons (e.g. the first of :func:`reward_model_pairs`).
    config, **options
        :class:`LMDPOConfig`, or its fields as keywords.
    heldout : TextComparisons, optional
        Comparisons not trained on: their loss, accuracy and margin are logged too.
    policy, reference : LanguageModel, optional
        The initial policy and the frozen reference (default: both the shipped SFT model).
    reward_model : LanguageModel or "faithful" / "verbose", optional
        The proxy the history reports (default: the shipped one ``config.reward_model`` names).
    world : TextWorld, optional

    Examples
    --------
    >>> pairs = TextComparisons(["capital-australia"] * 2, ["Tell me the capital of Australia."] * 2,
    ...                         ["It's Canberra.", "Canberra."], ["Sydney.", "Definitely Sydney."])
    >>> run = LMDPORun(pairs, steps=2, batch_size=2, eval_every=2, eval_size=2, seed=0)
    >>> _ = run.step()
    >>> run.history["step"], round(run.history["loss"][0], 4)   # policy = reference: log 2
    ([0], 0.6931)
    >>> _ = run.step()
    >>> run.done, run.history["step"], run.history["reward_margin"][-1] > 0
    (True, [0, 2], True)
    """

    def __init__(
        self,
        pairs: TextComparisons,
        config: LMDPOConfig | None = None,
        *,
        heldout: TextComparisons | None = None,
        policy: LanguageModel | None = None,
        reference: LanguageModel | None = None,
        reward_model: LanguageModel | str | None = None,
        world: TextWorld | None = None,
        **options: Any,
    ) -> None:
        if isinstance(reward_model, str):
            options["reward_model"], reward_model = reward_model, None
        cfg = LMDPOConfig.from_options(config, **options)
        self.config = cfg
        self.backend: Backend = resolve_backend(cfg.backend, cfg.device, cfg.dtype)
        self.world = load_text_world() if world is None else world
        for name, data in (("pairs", pairs), ("heldout", heldout)):
            if data is not None and not isinstance(data, TextComparisons):
                raise TypeError(f"{name} must be TextComparisons, got {type(data).__name__}")
        if len(pairs) == 0:
            raise ValueError("pairs must not be empty")
        if cfg.n_pairs is not None:
            pairs = pairs.subset(range(min(cfg.n_pairs, len(pairs))))

        def shipped(stage: str) -> LanguageModel:
            return load_language_model(
                stage, backend=cfg.backend, device=cfg.device, dtype=cfg.dtype
            )

        def moved(model: Any, name: str) -> LanguageModel:
            if not isinstance(model, LanguageModel):
                raise TypeError(f"{name} must be a LanguageModel, got {type(model).__name__}")
            return model.to(self.backend)

        self.reference = shipped("sft") if reference is None else moved(reference, "reference")
        self.policy = self.reference if policy is None else moved(policy, "policy")
        self.reward_model = (
            shipped(REWARD_MODELS[cfg.reward_model])
            if reward_model is None
            else moved(reward_model, "reward_model")
        )
        if "reward" not in self.reward_model.heads:
            raise ValueError("reward_model has no reward head (load stage 'reward')")
        self.rng = np.random.default_rng(cfg.seed)
        self._sample_seed = int(np.random.default_rng([cfg.seed, 1]).integers(2**31))
        self.optimizer = AdamW(cfg.lr)
        m = cfg.monitor_pairs
        self._pairs = pairs
        self._heldout = (
            None
            if heldout is None or len(heldout) == 0
            else heldout.subset(range(min(m, len(heldout))))
        )
        # the reference's log-probabilities of every pair: computed by the first slices
        self.train: _Pairs | None = None
        self.monitor: _Pairs | None = None
        self.heldout: _Pairs | None = None
        keys = HISTORY_KEYS + (HELDOUT_KEYS if self._heldout is not None else ())
        self.history: dict[str, list[float]] = {k: [] for k in keys}
        self.samples: list[dict[str, Any]] = []
        self.iteration = 0
        self._order = np.array([], dtype=np.intp)
        self._slices: Generator[str, None, None] | None = None

    # -- the public stepping API -----------------------------------------------------------

    @property
    def done(self) -> bool:
        """Whether ``config.steps`` steps have run."""
        return self.iteration >= self.config.steps

    def step(self) -> dict[str, float]:
        """Run one step (and the measurement after it, when one is due); return the latest
        history entries. The first call measures the reference (step 0) before the step."""
        start = self.iteration
        for event in self.slices():
            if event == "step" and self.iteration > start:
                break
        return {k: v[-1] for k, v in self.history.items()}

    def slices(self) -> Generator[str, None, None]:
        """The rest of the run as short slices of work (a forward or backward pass, a sampled
        token): each ``next`` runs one and yields what it finished (``"forward"``,
        ``"update"``, ``"token"``, ``"samples"`` once the reference's shown samples are in,
        ``"measured"`` when the history has a new entry, ``"step"`` at the end of each step). One generator per run, as
        :meth:`rlhf_mini.trainers.lm_ppo.LMPPORun.slices`: stop calling ``next`` to pause."""
        if self._slices is None:
            self._slices = self._all_slices()
        return self._slices

    def _all_slices(self) -> Generator[str, None, None]:
        yield from self._show()  # the reference's responses first: a page shows them at once
        yield "samples"
        self.train = yield from self._with_reference(self._pairs)
        m = self.config.monitor_pairs
        self.monitor = self._subset(self.train, range(min(m, len(self._pairs))))
        if self._heldout is not None:
            self.heldout = yield from self._with_reference(self._heldout)
        yield from self._measure(show=False)
        yield "step"  # step 0: the reference itself, measured
        while not self.done:
            yield from self._step()
            yield "step"

    def result(self) -> LMDPOResult:
        """The run so far as an :class:`LMDPOResult` (measured at its last measurement)."""
        return LMDPOResult(
            history={k: list(v) for k, v in self.history.items()},
            config=self.config.to_dict(),
            policy=self.policy,
            samples=list(self.samples),
        )

    # -- internals ---------------------------------------------------------------------------

    def _logps(
        self, model: LanguageModel, pairs: TextComparisons
    ) -> Generator[str, None, tuple[Any, Any, tr.Batch]]:
        """Sequence log-probs (2n,) of [chosen; rejected] under ``model``, the forward pass
        and the batch."""
        batch = model.batch(pairs.prompts * 2, pairs.chosen + pairs.rejected)
        P = batch.prompt_length  # logits only where they predict a response token
        out = yield from response_logits_steps(model, batch)
        lp = response_log_probs(out.logits, batch.tokens, P)  # (2n, R)
        return tr.sequence_log_probs(lp, batch.response_mask[:, P - 1 :]), out, batch

    def _with_reference(self, pairs: TextComparisons) -> Generator[str, None, _Pairs]:
        """The reference's sequence log-probabilities of the pairs, 16 pairs per slice."""
        chosen, rejected = [], []
        for start in range(0, len(pairs), 16):
            part = pairs.subset(range(start, min(start + 16, len(pairs))))
            seq, _, _ = yield from self._logps(self.reference, part)
            seq = to_numpy(seq)
            chosen.append(seq[: len(part)])
            rejected.append(seq[len(part) :])
            yield "forward"
        return _Pairs(pairs, np.concatenate(chosen), np.concatenate(rejected))

    @staticmethod
    def _subset(data: _Pairs, rows: Any) -> _Pairs:
        rows = np.asarray(list(rows), dtype=np.intp)
        return _Pairs(data.pairs.subset(rows), data.ref_chosen[rows], data.ref_rejected[rows])

    def _loss(self, data: _Pairs) -> tuple[dict[str, float], Any, Any, tr.Batch]:
        """DPO loss, accuracy and implicit rewards on ``data``; also dL/dseq (2n,), the
        forward pass and the batch for a backward pass."""
        return tr.run_steps(self._loss_steps(data))

    def _loss_steps(
        self, data: _Pairs
    ) -> Generator[str, None, tuple[dict[str, float], Any, Any, tr.Batch]]:
        """:meth:`_loss` in slices, one transformer block each."""
        cfg, b = self.config, self.backend
        n = len(data.pairs)
        seq, out, batch = yield from self._logps(self.policy, data.pairs)
        args = (
            seq[:n],
            seq[n:],
            b.asarray(data.ref_chosen),
            b.asarray(data.ref_rejected),
            cfg.beta,
            cfg.loss_type,
            cfg.label_smoothing,
        )
        losses, chosen, rejected = dpo_loss(*args)
        g_c, g_r = dpo_loss_grad(*args)
        margin = to_numpy(chosen - rejected)
        stats = {
            "loss": float(to_numpy(losses).mean()),
            "accuracy": float(np.mean(margin > 0)),
            "reward_margin": float(margin.mean()),
            "chosen_reward": float(to_numpy(chosen).mean()),
            "rejected_reward": float(to_numpy(rejected).mean()),
        }
        xp = b.xp
        return stats, xp.concat([g_c, g_r]) / n, out, batch

    def _evaluate(self, data: _Pairs) -> Generator[str, None, dict[str, float]]:
        """:meth:`_loss`'s statistics on ``data``, 8 pairs per slice (means over the pairs)."""
        sums: dict[str, float] = {}
        n = len(data.pairs)
        for start in range(0, n, 8):
            part = self._subset(data, range(start, min(start + 8, n)))
            stats = (yield from self._loss_steps(part))[0]
            for key, value in stats.items():
                sums[key] = sums.get(key, 0.0) + value * len(part.pairs)
            yield "forward"
        return {key: total / n for key, total in sums.items()}

    def _step(self) -> Generator[str, None, None]:
        cfg = self.config
        assert self.train is not None  # set by the first slices
        if self._order.size < cfg.batch_size:  # a new pass over the shuffled pairs
            more = self.rng.permutation(len(self.train.pairs))
            self._order = np.concatenate([self._order, more])
        rows, self._order = self._order[: cfg.batch_size], self._order[cfg.batch_size :]
        stats, d_seq, out, batch = yield from self._loss_steps(self._subset(self.train, rows))
        yield "forward"
        if not math.isfinite(stats["loss"]):
            raise FloatingPointError(
                f"the DPO loss became {stats['loss']} at step {self.iteration}"
            )
        # d L / d log pi(y_t) = d L / d log pi(y) for every response token t (and <eos>)
        P = batch.prompt_length
        w = self.policy.params["wte.weight"]
        mask = tr.host_to_backend(batch.response_mask[:, P:].astype(float), w, w.dtype)
        dlogits = response_log_probs_grad(out.logits, batch.tokens, P, d_seq[:, None] * mask)
        grads = yield from tr.backward_steps(
            self.policy.params, self.policy.config, out.cache, dlogits
        )
        grads, _ = clip_grad_norm(grads, cfg.max_grad_norm)
        params = self.optimizer.step(self.policy.params, grads)
        self.policy = LanguageModel(self.policy.config, params, self.policy.tokenizer)
        self.iteration += 1
        yield "update"
        if self.iteration % cfg.eval_every == 0 or self.done:
            yield from self._measure()

    def _show(self) -> Generator[str, None, None]:
        """Responses of the current policy to the shown prompts, recorded in ``samples``."""
        cfg = self.config
        responses = yield from shown_samples(
            self.policy,
            self.reward_model,
            self.world,
            self._sample_seed,
            temperature=cfg.temperature,
            max_new_tokens=cfg.max_new_tokens,
        )
        self.samples.append({"step": self.iteration, "responses": responses})

    def _measure(self, show: bool = True) -> Generator[str, None, None]:
        """The history's entries for the current policy, and (``show``) the shown samples."""
        cfg, tw = self.config, self.world
        values: dict[str, float] = {"step": self.iteration}
        assert self.monitor is not None
        values.update((yield from self._evaluate(self.monitor)))
        if self.heldout is not None:
            held = yield from self._evaluate(self.heldout)
            values |= {f"heldout_{k}": held[k] for k in ("loss", "accuracy", "reward_margin")}
        ids = [tw.prompts[int(i)].id for i in self.rng.integers(0, len(tw.prompts), cfg.eval_size)]
        prompts = [tw.write_prompt(x, self.rng) for x in ids]
        batch = yield from sample_slices(
            self.policy,
            prompts,
            self.rng,
            temperature=cfg.temperature,
            max_new_tokens=cfg.max_new_tokens,
        )
        P = batch.prompt_length
        logp = {}
        for name, model in (("policy", self.policy), ("reference", self.reference)):
            out = yield from response_logits_steps(model, batch)
            logp[name] = response_log_probs(out.logits, batch.tokens, P)
            yield "forward"
        scores = yield from score_steps(self.reward_model, batch)
        yield "score"
        measured = measure(
            self.policy,
            self.reference,
            self.reward_model,
            batch,
            ids,
            tw,
            logp_policy=logp["policy"],
            logp_ref=logp["reference"],
            scores=scores,
        )
        values |= {
            k: measured[k] for k in ("proxy_reward", "gold_utility", "kl", "response_length")
        }
        if show:
            yield from self._show()
        for key in self.history:
            self.history[key].append(values[key])
        yield "measured"


def train_lm_dpo(
    pairs: TextComparisons | None = None,
    config: LMDPOConfig | None = None,
    *,
    heldout: TextComparisons | None = None,
    policy: LanguageModel | None = None,
    reference: LanguageModel | None = None,
    reward_model: LanguageModel | str | None = None,
    world: TextWorld | None = None,
    callback: Any = None,
    **options: Any,
) -> LMDPOResult:
    """Align the language model with DPO on comparisons (see the module docstring).

    Parameters
    ----------
    pairs : TextComparisons, optional
        Default: the training comparisons of the shipped reward model ``config.reward_model``
        names (:func:`reward_model_pairs`, with ``n_pairs`` of them sampled if set; then
        ``heldout`` defaults to its held-out ones).
    config, **options
        :class:`LMDPOConfig`, or its fields as keywords (``train_lm_dpo(pairs, beta=0.3)``).
    heldout, policy, reference, reward_model, world
        As for :class:`LMDPORun`.
    callback : callable(step, history entries) or None
        Called after every measurement.

    Examples
    --------
    >>> pairs = TextComparisons(["capital-australia"] * 2, ["Tell me the capital of Australia."] * 2,
    ...                         ["It's Canberra.", "Canberra."], ["Sydney.", "Definitely Sydney."])
    >>> res = train_lm_dpo(pairs, steps=4, batch_size=2, eval_every=2, eval_size=2)
    >>> res.history["step"], res.history["accuracy"][-1]
    ([0, 2, 4], 1.0)
    """
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    if pairs is None:
        cfg = LMDPOConfig.from_options(config, **options)
        name = reward_model if isinstance(reward_model, str) else cfg.reward_model
        pairs, held = reward_model_pairs(name, n_pairs=cfg.n_pairs)
        heldout = held if heldout is None else heldout
    run = LMDPORun(
        pairs,
        config,
        heldout=heldout,
        policy=policy,
        reference=reference,
        reward_model=reward_model,
        world=world,
        **options,
    )
    for event in run.slices():
        if event == "measured" and callback is not None:
            callback(run.iteration, {k: v[-1] for k, v in run.history.items()})
    return run.result()
