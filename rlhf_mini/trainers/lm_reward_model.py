"""A reward model on text: the SFT transformer with a scalar head, trained on comparisons.

As in InstructGPT (Ouyang et al. 2022, arXiv 2203.02155, section 3.5) the reward model
starts from the supervised fine-tuned model, its output head replaced by a scalar one:
r_phi(x, y) is the reward head's value at the last token (<eos>) of ``x <sep> y``.

The comparisons come from the language models themselves: for a prompt x, two responses are
sampled (each from the base or the SFT model), and a simulated labeller picks one with the
Bradley–Terry probability on the text world's gold utility, optionally biased toward
verbosity (:func:`rlhf_mini.worlds.text.simulate_text_labels`). Training minimises the
library's Bradley–Terry loss (:func:`rlhf_mini.bradley_terry_loss`, Bradley & Terry 1952;
Christiano et al. 2017, arXiv 1706.03741),

    L(phi) = mean_i -log sigmoid(r_phi(x_i, y_chosen_i) - r_phi(x_i, y_rejected_i)),

whose gradient with respect to each score (:func:`rlhf_mini.bradley_terry_loss_grad`) is
placed at that sequence's last token and back-propagated through the whole transformer.
With ``verbosity_bias`` > 1 the labels reward padding more than the gold utility punishes
it, and so does the learned proxy: the flaw a policy optimised against it can exploit
(Gao et al. 2022, arXiv 2210.10760).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rlhf_mini.core.backend import to_numpy
from rlhf_mini.core.checks import (
    check_in_range,
    check_int,
    check_non_negative,
    check_positive,
    check_real_scalar,
)
from rlhf_mini.core.config import Config
from rlhf_mini.core.optim import AdamW, clip_grad_norm
from rlhf_mini.losses.bradley_terry import bradley_terry_loss, bradley_terry_loss_grad
from rlhf_mini.models import transformer as tr
from rlhf_mini.models.language_model import LanguageModel
from rlhf_mini.worlds.text import TextWorld, gold_utility, load_text_world, simulate_text_labels

__all__ = [
    "LMRewardConfig",
    "LMRewardResult",
    "TextComparisons",
    "sample_text_comparisons",
    "score_texts",
    "split_comparisons",
    "train_lm_reward_model",
]


@dataclass(frozen=True)
class LMRewardConfig(Config):
    """Hyperparameters of the comparisons and of reward-model training.

    Examples
    --------
    >>> LMRewardConfig(verbosity_bias=3.0).verbosity_bias, LMRewardConfig().epochs
    (3.0, 3)
    """

    seed: int = 0
    """Seed of the sampled responses, the labels, the split and the minibatches."""
    n_pairs: int = 2000
    """Comparisons (pairs of responses to one prompt)."""
    base_share: float = 0.5
    """Share of responses sampled from the base model (the rest from the SFT model), so the comparisons cover bad behaviours as well as good ones."""
    sample_temperature: float = 1.0
    """Sampling temperature of the responses."""
    label_temperature: float = 1.0
    """Label noise of the simulated labellers (Bradley–Terry temperature)."""
    verbosity_bias: float = 0.0
    """The labellers' extra utility per unit of verbosity (0 = faithful to the gold utility)."""
    heldout_fraction: float = 0.2
    """Share of the comparisons held out to measure accuracy."""
    epochs: int = 3
    """Passes over the training comparisons (a fourth one overfits: held-out loss rises)."""
    batch_size: int = 32
    """Comparisons per minibatch."""
    lr: float = 1e-3
    """AdamW learning rate (constant)."""
    weight_decay: float = 0.01
    """AdamW decoupled weight decay on matrices and embeddings."""
    grad_clip: float = 1.0
    """Gradients are scaled down to this global norm when larger."""

    def check(self) -> dict[str, Any]:
        values: dict[str, Any] = {"seed": check_int(self.seed, "seed", 0)}
        for name in ("n_pairs", "epochs", "batch_size"):
            values[name] = check_int(getattr(self, name), name)
        for name in ("sample_temperature", "label_temperature", "lr", "grad_clip"):
            values[name] = check_positive(getattr(self, name), name)
        values["weight_decay"] = check_non_negative(self.weight_decay, "weight_decay")
        values["verbosity_bias"] = check_real_scalar(self.verbosity_bias, "verbosity_bias")
        for name in ("base_share", "heldout_fraction"):
            values[name] = check_in_range(
                getattr(self, name), name, 0.0, 1.0, low_open=False, high_open=name != "base_share"
            )
        return values


@dataclass(frozen=True)
class TextComparisons:
    """Labelled pairs: for pair i, on ``prompt_ids[i]`` (asked as ``prompts[i]``) the
    labeller preferred ``chosen[i]`` to ``rejected[i]`` (response texts).

    Examples
    --------
    >>> pairs = TextComparisons(["capital-australia"], ["What is the capital of Australia?"],
    ...                         ["Canberra."], ["Sydney."])
    >>> len(pairs), pairs.gold_agreement()
    (1, 1.0)
    """

    prompt_ids: list[str]
    prompts: list[str]
    chosen: list[str]
    rejected: list[str]

    def __len__(self) -> int:
        return len(self.prompt_ids)

    def subset(self, rows: Any) -> TextComparisons:
        rows = [int(i) for i in rows]
        return TextComparisons(
            [self.prompt_ids[i] for i in rows],
            [self.prompts[i] for i in rows],
            [self.chosen[i] for i in rows],
            [self.rejected[i] for i in rows],
        )

    def gold_agreement(self, world: TextWorld | None = None) -> float:
        """Share of pairs whose chosen response has the higher gold utility (ties: half)."""
        u_c = np.array(
            [
                gold_utility(x, y, world=world)
                for x, y in zip(self.prompt_ids, self.chosen, strict=True)
            ]
        )
        u_r = np.array(
            [
                gold_utility(x, y, world=world)
                for x, y in zip(self.prompt_ids, self.rejected, strict=True)
            ]
        )
        return float(np.mean((u_c > u_r) + 0.5 * (u_c == u_r)))


def sample_text_comparisons(
    base: LanguageModel,
    sft: LanguageModel,
    config: LMRewardConfig,
    *,
    world: TextWorld | None = None,
    callback: Callable[[int, int], None] | None = None,
) -> TextComparisons:
    """``config.n_pairs`` pairs of sampled responses, labelled by simulated labellers.

    Each pair: a prompt uniformly, one of its phrasings, two responses each drawn from the
    base model (probability ``base_share``) or the SFT model at ``sample_temperature``; the
    labeller's choice from :func:`simulate_text_labels`. ``callback(done, total)`` reports
    the sampling progress.

    Examples
    --------
    >>> from rlhf_mini import load_language_model
    >>> base, sft = load_language_model("base"), load_language_model("sft")
    >>> pairs = sample_text_comparisons(base, sft, LMRewardConfig(n_pairs=6))
    >>> len(pairs), pairs.prompt_ids[0]
    (6, 'python-or-js')
    """
    tw = load_text_world() if world is None else world
    rng = np.random.default_rng(config.seed)
    n = config.n_pairs
    x = rng.integers(0, len(tw.prompts), size=n)
    ids = [tw.prompts[i].id for i in x]
    prompts = [tw.write_prompt(pid, rng) for pid in ids]
    from_base = rng.random((n, 2)) < config.base_share
    texts: list[list[str]] = [["", ""] for _ in range(n)]
    chunk = 64
    total = 2 * n
    done = 0
    for side in range(2):
        for model, use in ((base, from_base[:, side]), (sft, ~from_base[:, side])):
            rows = np.flatnonzero(use)
            for start in range(0, rows.size, chunk):
                part = rows[start : start + chunk]
                batch = model.sample(
                    [prompts[i] for i in part], rng, temperature=config.sample_temperature
                )
                for i, text in zip(part, model.decode_responses(batch), strict=True):
                    texts[i][side] = text
                done += part.size
                if callback is not None:
                    callback(done, total)
    a = [t[0] for t in texts]
    b = [t[1] for t in texts]
    a_wins = simulate_text_labels(
        ids,
        a,
        b,
        int(rng.integers(2**31)),
        temperature=config.label_temperature,
        verbosity_bias=config.verbosity_bias,
        world=tw,
    )
    chosen = [ai if w else bi for ai, bi, w in zip(a, b, a_wins, strict=True)]
    rejected = [bi if w else ai for ai, bi, w in zip(a, b, a_wins, strict=True)]
    return TextComparisons(ids, prompts, chosen, rejected)


def split_comparisons(
    comparisons: TextComparisons, heldout_fraction: float, rng: np.random.Generator
) -> tuple[TextComparisons, TextComparisons]:
    """(train, held-out): a random ``heldout_fraction`` of the pairs held out (the split of
    :func:`train_lm_reward_model`, which passes ``np.random.default_rng(config.seed + 1)``;
    DPO makes the same split of the same pairs).

    Examples
    --------
    >>> pairs = TextComparisons(["boil-egg"] * 5, ["How can I boil an egg?"] * 5,
    ...                         list("abcde"), list("vwxyz"))
    >>> train, heldout = split_comparisons(pairs, 0.4, np.random.default_rng(1))
    >>> len(train), len(heldout)
    (3, 2)
    """
    order = rng.permutation(len(comparisons))
    n_held = round(heldout_fraction * len(comparisons))
    heldout, train = comparisons.subset(order[:n_held]), comparisons.subset(order[n_held:])
    if len(train) == 0:
        raise ValueError("comparisons: no pair is left to train on after the held-out split")
    return train, heldout


def score_texts(
    model: LanguageModel, prompts: list[str], responses: list[str]
) -> tuple[Any, Any, tr.Batch]:
    """Forward pass of the reward model on (prompt, response + <eos>) pairs: the scores
    r (B,) at each last token, the forward's cache and the token batch."""
    batch = model.batch(prompts, responses)
    out = tr.forward(model.params, model.config, batch.tokens, batch.attention_mask, logits=False)
    rows = np.arange(batch.tokens.shape[0])
    return out.rewards[rows, batch.last_index], out, batch


def _pair_step(model: LanguageModel, pairs: TextComparisons) -> tuple[float, float, dict[str, Any]]:
    """Bradley–Terry loss, accuracy and gradients on a minibatch of pairs.

    The chosen and rejected responses run as one batch of 2B sequences; the loss gradient
    with respect to each score is put at that sequence's last token of d rewards (2B, T).
    """
    n = len(pairs)
    r, out, batch = score_texts(model, pairs.prompts * 2, pairs.chosen + pairs.rejected)
    r_c, r_r = r[:n], r[n:]
    loss = float(bradley_terry_loss(r_c, r_r))
    g_c, g_r = bradley_terry_loss_grad(r_c, r_r)
    g = np.concatenate([to_numpy(g_c), to_numpy(g_r)])
    d_rewards = np.zeros(batch.tokens.shape, dtype=float)
    d_rewards[np.arange(2 * n), batch.last_index] = g
    w = model.params["wte.weight"]
    grads = tr.backward(
        model.params, model.config, out.cache, drewards=tr.host_to_backend(d_rewards, w, w.dtype)
    )
    r_c, r_r = to_numpy(r_c), to_numpy(r_r)
    accuracy = float(np.mean((r_c > r_r) + 0.5 * (r_c == r_r)))
    return loss, accuracy, grads


@dataclass
class LMRewardResult:
    """The trained reward model, its comparisons, per-epoch history and final metrics
    (see :func:`train_lm_reward_model` for an example)."""

    model: LanguageModel
    train: TextComparisons
    heldout: TextComparisons
    history: dict[str, list[float]]
    metrics: dict[str, float]
    config: LMRewardConfig
    extras: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "history": self.history, "metrics": self.metrics}


def _evaluate(model: LanguageModel, pairs: TextComparisons, world: TextWorld) -> dict[str, float]:
    """Loss and accuracy against the labels, and agreement with the gold utility."""
    losses, correct, gold_agree, gold_pairs = [], 0.0, 0.0, 0
    for start in range(0, len(pairs), 128):
        part = pairs.subset(range(start, min(start + 128, len(pairs))))
        r, _, _ = score_texts(model, part.prompts * 2, part.chosen + part.rejected)
        r = to_numpy(r)
        r_c, r_r = r[: len(part)], r[len(part) :]
        losses.append(float(bradley_terry_loss(r_c, r_r)) * len(part))
        correct += float(np.sum((r_c > r_r) + 0.5 * (r_c == r_r)))  # a tie counts half
        u_c = np.array(
            [
                gold_utility(x, y, world=world)
                for x, y in zip(part.prompt_ids, part.chosen, strict=True)
            ]
        )
        u_r = np.array(
            [
                gold_utility(x, y, world=world)
                for x, y in zip(part.prompt_ids, part.rejected, strict=True)
            ]
        )
        differ = u_c != u_r
        agree = np.where(r_c == r_r, 0.5, (r_c > r_r) == (u_c > u_r))  # a tie counts half
        gold_agree += float(np.sum(agree[differ]))
        gold_pairs += int(differ.sum())
    return {
        "loss": sum(losses) / len(pairs),
        "accuracy": correct / len(pairs),
        "gold_accuracy": gold_agree / max(1, gold_pairs),
    }


def train_lm_reward_model(
    sft: LanguageModel,
    comparisons: TextComparisons,
    config: LMRewardConfig | None = None,
    *,
    world: TextWorld | None = None,
    callback: Callable[[int, int, float], None] | None = None,
) -> LMRewardResult:
    """Fit a reward model, initialised from ``sft`` with a zero reward head, to the pairs.

    ``config.heldout_fraction`` of the pairs are held out; the history has, per epoch, the
    train and held-out Bradley–Terry loss, accuracy against the labels and against the gold
    utility (on pairs whose gold utilities differ). ``callback(epoch, step, loss)`` runs
    after every step.

    Examples
    --------
    >>> from rlhf_mini import load_language_model
    >>> pairs = TextComparisons(["capital-australia"] * 4, ["What is the capital of Australia?"] * 4,
    ...                         ["Canberra."] * 4, ["Sydney, of course."] * 4)
    >>> res = train_lm_reward_model(load_language_model("sft"), pairs,
    ...                             LMRewardConfig(epochs=2, heldout_fraction=0.25, batch_size=3))
    >>> res.history["train_loss"][-1] < res.history["train_loss"][0], res.metrics["heldout_accuracy"]
    (True, 1.0)
    """
    config = LMRewardConfig() if config is None else config
    tw = load_text_world() if world is None else world
    rng = np.random.default_rng(config.seed + 1)
    train, heldout = split_comparisons(comparisons, config.heldout_fraction, rng)
    model = sft.with_heads(("reward",))
    opt = AdamW(config.lr, weight_decay=config.weight_decay)
    history: dict[str, list[float]] = {
        k: []
        for k in (
            "epoch",
            "train_loss",
            "train_accuracy",
            "heldout_loss",
            "heldout_accuracy",
            "heldout_gold_accuracy",
        )
    }
    step = 0
    for epoch in range(config.epochs + 1):
        if epoch > 0:
            losses, accs = [], []
            perm = rng.permutation(len(train))
            for start in range(0, len(train), config.batch_size):
                part = train.subset(perm[start : start + config.batch_size])
                loss, acc, grads = _pair_step(model, part)
                if not math.isfinite(loss):
                    raise FloatingPointError(f"the loss became {loss} at step {step}")
                grads, _ = clip_grad_norm(grads, config.grad_clip)
                model = LanguageModel(model.config, opt.step(model.params, grads), model.tokenizer)
                losses.append(loss)
                accs.append(acc)
                if callback is not None:
                    callback(epoch, step, loss)
                step += 1
            history["train_loss"].append(float(np.mean(losses)))
            history["train_accuracy"].append(float(np.mean(accs)))
        else:
            ev = _evaluate(model, train, tw)
            history["train_loss"].append(ev["loss"])
            history["train_accuracy"].append(ev["accuracy"])
        history["epoch"].append(epoch)
        if len(heldout):
            ev = _evaluate(model, heldout, tw)
            history["heldout_loss"].append(ev["loss"])
            history["heldout_accuracy"].append(ev["accuracy"])
            history["heldout_gold_accuracy"].append(ev["gold_accuracy"])
    metrics = {k: v[-1] for k, v in history.items() if k != "epoch" and v}
    metrics["label_gold_agreement"] = comparisons.gold_agreement(tw)
    return LMRewardResult(model, train, heldout, history, metrics, config)
