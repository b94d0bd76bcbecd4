"""Pretraining and supervised fine-tuning of the tiny language model.

Two stages, as in InstructGPT (Ouyang et al. 2022, arXiv 2203.02155) before its RLHF:

1. **Pretraining** on the text world's "internet" mix (:func:`rlhf_mini.worlds.text.pretraining_corpus`):
   next-token prediction on every token of every dialogue,

       L(theta) = -(1/N) sum_{sequences} sum_{t >= 1} log pi_theta(x_t | x_<t),

   so the base model learns to write like the corpus: mostly padded, often insulting,
   confidently wrong or harmful-compliant.
2. **Supervised fine-tuning** on demonstrations (:func:`rlhf_mini.worlds.text.sft_demonstrations`)
   for some prompts only: the same loss on the response tokens (and their <eos>) alone.
   The other prompts are held out, to see what a shared-parameter model carries over.

Both use AdamW (:class:`rlhf_mini.core.optim.AdamW`) with a linear warm-up and a cosine decay
of the learning rate, global-norm gradient clipping, and minibatches drawn with
``np.random.default_rng(seed)``: the same config and seed give the same weights, bit for bit
on one machine (``python -m rlhf_mini lm-pretrain`` reproduces the shipped ones).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rlhf_mini.core.backend import resolve_backend, to_numpy
from rlhf_mini.core.checks import check_in_range, check_int, check_non_negative, check_positive
from rlhf_mini.core.config import Config
from rlhf_mini.core.optim import AdamW, clip_grad_norm
from rlhf_mini.models import transformer as tr
from rlhf_mini.models.language_model import LanguageModel
from rlhf_mini.worlds.text import (
    Dialogue,
    TextWorld,
    load_text_world,
    pretraining_corpus,
    sft_demonstrations,
)

__all__ = [
    "LMPretrainConfig",
    "LMPretrainResult",
    "encode_dialogues",
    "eval_loss",
    "evaluate_stages",
    "lm_training_step",
    "run_record",
    "train_language_model",
    "train_lm_stage",
]


@dataclass(frozen=True)
class LMPretrainConfig(Config):
    """Hyperparameters of pretraining and SFT (the defaults made the shipped weights).

    Examples
    --------
    >>> cfg = LMPretrainConfig()
    >>> cfg.gpt_config(vocab_size=595).n_embd, cfg.steps, cfg.sft_steps
    (32, 3000, 200)
    """

    seed: int = 0
    """Seed of the corpus, the initialisation and the minibatches."""
    n_embd: int = 32
    """Width d of the residual stream."""
    n_layer: int = 2
    """Transformer blocks."""
    n_head: int = 4
    """Attention heads (head size d / n_head)."""
    n_positions: int = 64
    """Context length (the longest dialogue of the text world has 61 tokens)."""
    corpus_size: int = 20_000
    """Dialogues in the pretraining corpus."""
    steps: int = 3000
    """Pretraining optimiser steps."""
    batch_size: int = 32
    """Sequences per minibatch (both stages)."""
    lr: float = 3e-3
    """Peak learning rate of pretraining."""
    warmup: int = 100
    """Steps of linear warm-up of pretraining."""
    min_lr_ratio: float = 0.1
    """The learning rate decays (cosine) to this fraction of its peak."""
    weight_decay: float = 0.01
    """AdamW's decoupled weight decay, on matrices and embeddings."""
    grad_clip: float = 1.0
    """Gradients are scaled down to this global norm when larger."""
    sft_per_prompt: int = 100
    """Demonstrations per demonstrated prompt."""
    sft_steps: int = 200
    """SFT optimiser steps (few and gentle: more of them forget the held-out prompts)."""
    sft_lr: float = 3e-4
    """Peak learning rate of SFT."""
    sft_warmup: int = 20
    """Steps of linear warm-up of SFT."""

    def check(self) -> dict[str, Any]:
        ints: tuple[str, ...] = ("n_embd", "n_layer", "n_head", "n_positions", "corpus_size")
        ints = (*ints, "steps", "batch_size", "sft_per_prompt", "sft_steps")
        values: dict[str, Any] = {"seed": check_int(self.seed, "seed", 0)}
        values.update({name: check_int(getattr(self, name), name) for name in ints})
        for name in ("warmup", "sft_warmup"):
            values[name] = check_int(getattr(self, name), name, 0)
        for name in ("lr", "sft_lr", "grad_clip"):
            values[name] = check_positive(getattr(self, name), name)
        values["weight_decay"] = check_non_negative(self.weight_decay, "weight_decay")
        values["min_lr_ratio"] = check_in_range(
            self.min_lr_ratio, "min_lr_ratio", 0.0, 1.0, low_open=False, high_open=False
        )
        if values["n_embd"] % values["n_head"]:
            raise ValueError(f"n_head must divide n_embd ({values['n_embd']}), got {self.n_head}")
        return values

    def gpt_config(self, vocab_size: int) -> tr.GPTConfig:
        return tr.GPTConfig(
            vocab_size=vocab_size,
            n_positions=self.n_positions,
            n_embd=self.n_embd,
            n_layer=self.n_layer,
            n_head=self.n_head,
        )


@dataclass
class LMPretrainResult:
    """The base and SFT models, each stage's loss history and the config.

    Examples
    --------
    >>> res = train_language_model(LMPretrainConfig(corpus_size=50, steps=2, sft_per_prompt=1, sft_steps=1))
    >>> sorted(res.to_dict()), sorted(res.history)
    (['config', 'history'], ['pretrain', 'sft'])
    """

    base: LanguageModel
    sft: LanguageModel
    history: dict[str, dict[str, list[float]]]  # {"pretrain": {...}, "sft": {...}}
    config: LMPretrainConfig

    def to_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "history": self.history}


def encode_dialogues(
    dialogues: list[Dialogue], tokenizer: Any, *, response_only: bool
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Token ids of ``<bos> prompt <sep> response <eos>`` per dialogue, and the loss mask
    of each: 1 on the tokens to predict (all but <bos>, or the response and its <eos>)."""
    ids, masks = [], []
    for d in dialogues:
        prompt = tokenizer.encode_prompt(d.prompt)
        seq = np.array([*prompt, *tokenizer.encode(d.response), tokenizer.eos_id], dtype=np.intp)
        mask = np.ones(len(seq), dtype=np.intp)
        mask[0] = 0
        if response_only:
            mask[: len(prompt)] = 0
        ids.append(seq)
        masks.append(mask)
    return ids, masks


def _minibatch(
    ids: list[np.ndarray], masks: list[np.ndarray], rows: np.ndarray, pad_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad the chosen sequences to their longest: tokens and loss mask (B, T)."""
    T = max(len(ids[i]) for i in rows)
    tokens = np.full((len(rows), T), pad_id, dtype=np.intp)
    mask = np.zeros((len(rows), T), dtype=np.intp)
    for b, i in enumerate(rows):
        tokens[b, : len(ids[i])] = ids[i]
        mask[b, : len(ids[i])] = masks[i]
    return tokens, mask


def lm_training_step(
    params: dict[str, Any], config: tr.GPTConfig, tokens: np.ndarray, loss_mask: np.ndarray
) -> tuple[float, dict[str, Any]]:
    """Next-token loss of a minibatch and its gradient for every parameter."""
    out = tr.forward(params, config, tokens)
    loss, dlogits = tr.next_token_loss(out.logits, tokens, loss_mask)
    return float(loss), tr.backward(params, config, out.cache, dlogits)


def _lr_at(step: int, steps: int, peak: float, warmup: int, min_ratio: float) -> float:
    """Linear warm-up to ``peak``, then cosine decay to ``min_ratio * peak``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def train_lm_stage(
    model: LanguageModel,
    dialogues: list[Dialogue],
    *,
    response_only: bool,
    steps: int,
    lr: float,
    warmup: int,
    config: LMPretrainConfig,
    rng: np.random.Generator,
    callback: Callable[[int, float], None] | None = None,
) -> tuple[LanguageModel, dict[str, list[float]]]:
    """Train ``model`` on ``dialogues`` with the next-token loss (one stage); returns the new
    model and the history of the loss at every step."""
    ids, masks = encode_dialogues(dialogues, model.tokenizer, response_only=response_only)
    opt = AdamW(lr, weight_decay=config.weight_decay)
    params = model.params
    history: dict[str, list[float]] = {"step": [], "loss": [], "lr": []}
    for step in range(steps):
        rows = rng.integers(0, len(ids), size=config.batch_size)
        tokens, mask = _minibatch(ids, masks, rows, model.tokenizer.pad_id)
        loss, grads = lm_training_step(params, model.config, tokens, mask)
        if not math.isfinite(loss):
            raise FloatingPointError(f"the loss became {loss} at step {step}")
        grads, _ = clip_grad_norm(grads, config.grad_clip)
        step_lr = _lr_at(step, steps, lr, warmup, config.min_lr_ratio)
        params = opt.step(params, grads, lr=step_lr)
        history["step"].append(step)
        history["loss"].append(loss)
        history["lr"].append(step_lr)
        if callback is not None:
            callback(step, loss)
    return LanguageModel(model.config, params, model.tokenizer), history


def train_language_model(
    config: LMPretrainConfig | None = None,
    *,
    world: TextWorld | None = None,
    backend: str = "numpy",
    device: Any = None,
    dtype: str = "float64",
    callback: Callable[[str, int, float], None] | None = None,
) -> LMPretrainResult:
    """Pretrain on the internet mix, then fine-tune on the demonstrations.

    ``callback(stage, step, loss)`` is called after every step of both stages.

    Examples
    --------
    >>> cfg = LMPretrainConfig(corpus_size=200, steps=3, sft_per_prompt=2, sft_steps=2)
    >>> res = train_language_model(cfg)
    >>> len(res.history["pretrain"]["loss"]), res.history["pretrain"]["loss"][0] > 6  # ~log V
    (3, True)
    """
    config = LMPretrainConfig() if config is None else config
    tw = load_text_world() if world is None else world
    gpt = config.gpt_config(tw.tokenizer.vocab_size)
    b = resolve_backend(backend, device, dtype)
    rng = np.random.default_rng(config.seed)
    init = tr.init_params(gpt, int(rng.integers(2**31)))
    model = LanguageModel(gpt, {k: b.asarray(v) for k, v in init.items()}, tw.tokenizer)

    def stage_callback(stage: str) -> Callable[[int, float], None] | None:
        if callback is None:
            return None
        return lambda step, loss: callback(stage, step, loss)

    corpus = pretraining_corpus(config.corpus_size, int(rng.integers(2**31)), world=tw)
    base, h_pre = train_lm_stage(
        model,
        corpus,
        response_only=False,
        steps=config.steps,
        lr=config.lr,
        warmup=config.warmup,
        config=config,
        rng=rng,
        callback=stage_callback("pretrain"),
    )
    demos = sft_demonstrations(config.sft_per_prompt, int(rng.integers(2**31)), world=tw)
    sft, h_sft = train_lm_stage(
        base,
        demos,
        response_only=True,
        steps=config.sft_steps,
        lr=config.sft_lr,
        warmup=config.sft_warmup,
        config=config,
        rng=rng,
        callback=stage_callback("sft"),
    )
    return LMPretrainResult(base, sft, {"pretrain": h_pre, "sft": h_sft}, config)


#: Seed of the fixed evaluation texts (never used for training corpora).
EVAL_SEED = 2**31 - 1


def eval_loss(model: LanguageModel, dialogues: list[Dialogue], *, response_only: bool) -> float:
    """Mean next-token loss of ``model`` on ``dialogues`` (all at once, in chunks of 256)."""
    ids, masks = encode_dialogues(dialogues, model.tokenizer, response_only=response_only)
    total, count = 0.0, 0.0
    for start in range(0, len(ids), 256):
        rows = np.arange(start, min(start + 256, len(ids)))
        tokens, mask = _minibatch(ids, masks, rows, model.tokenizer.pad_id)
        out = tr.forward(model.params, model.config, tokens)
        loss, _ = tr.next_token_loss(out.logits, tokens, mask)
        n = float(mask[:, 1:].sum())
        total += float(loss) * n
        count += n
    return total / count


def evaluate_stages(
    models: dict[str, LanguageModel],
    seed: int = 0,
    *,
    n_per_prompt: int = 32,
    world: TextWorld | None = None,
) -> dict[str, dict[str, Any]]:
    """What each model writes: ``n_per_prompt`` samples (temperature 1) per prompt, rated by
    the gold rules: the share rated good (u >= GOOD_UTILITY) and the mean incoherence (the
    share of word pairs no template of the prompt writes) on the demonstrated and on the
    held-out prompts, the mean gold utility and the behaviours seen, per model."""
    from rlhf_mini.worlds.text import GOOD_UTILITY, behaviour_of, gold_features, gold_utility

    tw = load_text_world() if world is None else world
    out = {}
    for name, model in models.items():
        prompts, ids = [], []
        for p in tw.prompts:
            ids += [p.id] * n_per_prompt
            prompts += [p.phrasings[i % len(p.phrasings)] for i in range(n_per_prompt)]
        texts = model.generate(prompts, seed=seed)
        u = np.array([gold_utility(x, y, world=tw) for x, y in zip(ids, texts, strict=True)])
        held = np.array([x in tw.held_out for x in ids])
        incoherence = np.array(
            [gold_features(x, y, world=tw)["incoherence"] for x, y in zip(ids, texts, strict=True)]
        )
        behaviours: dict[str, int] = {}
        for x, y in zip(ids, texts, strict=True):
            b = behaviour_of(x, y, world=tw)
            behaviours[b] = behaviours.get(b, 0) + 1
        out[name] = {
            "good_rate_demo": float(np.mean(u[~held] >= GOOD_UTILITY)),
            "good_rate_heldout": float(np.mean(u[held] >= GOOD_UTILITY)),
            "incoherence_demo": float(np.mean(incoherence[~held])),
            "incoherence_heldout": float(np.mean(incoherence[held])),
            "gold_utility": float(u.mean()),
            "behaviours": dict(sorted(behaviours.items())),
        }
    return out


def run_record(result: LMPretrainResult, *, n_first: int = 10) -> dict[str, dict[str, Any]]:
    """What the manifest records about a run, per stage: the config, the first losses (a
    short re-run must reproduce them), the final training loss and the loss on fixed
    evaluation texts (which the shipped float32 weights must reproduce)."""
    tw = load_text_world()
    corpus = pretraining_corpus(256, EVAL_SEED, world=tw)
    demos = sft_demonstrations(8, EVAL_SEED, world=tw)
    record = {}
    for stage, model, key, texts, response_only in (
        ("base", result.base, "pretrain", corpus, False),
        ("sft", result.sft, "sft", demos, True),
    ):
        h = result.history[key]
        shipped = _float32(model)
        record[stage] = {
            "config": asdict(result.config),
            "first_losses": h["loss"][:n_first],
            "final_loss": h["loss"][-1],
            "loss_curve": _curve(h),
            "eval_loss": eval_loss(shipped, texts, response_only=response_only),
        }
    return record


def _curve(history: dict[str, list[float]], points: int = 100) -> dict[str, list[float]]:
    """About ``points`` evenly spaced (step, loss) pairs of a stage, first and last included,
    each loss averaged over the steps since the previous point (a readable curve)."""
    steps, losses = history["step"], history["loss"]
    ends = sorted({round(i) for i in np.linspace(0, len(steps) - 1, min(points, len(steps)))})
    curve: dict[str, list[float]] = {"step": [], "loss": []}
    start = 0
    for end in ends:
        curve["step"].append(steps[end])
        curve["loss"].append(float(np.mean(losses[start : end + 1])))
        start = end + 1
    return curve


def _float32(model: LanguageModel) -> LanguageModel:
    """The model as it is shipped: weights rounded to float32, computed in float64."""
    params = {
        k: np.asarray(to_numpy(v), dtype=np.float32).astype(np.float64)
        for k, v in model.params.items()
    }
    return LanguageModel(model.config, params, model.tokenizer)
