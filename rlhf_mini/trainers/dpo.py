"""DPO on the response-level bandit: learn the policy straight from the comparisons.

Public names
------------
DPOConfig                              the settings, one doc line each
train_dpo(...)          -> DPOResult   full-batch Adam on the mean DPO loss
DPOResult                              .policy, .reference, .history, .final(), .to_dict()
dpo_optimal_policy(...)                the policy DPO converges to on a finite data set

Direct Preference Optimization (Rafailov et al. 2023, arXiv 2305.18290) minimises, over the
comparisons (x_i, y_w, y_l) (:func:`rlhf_mini.dpo_loss`),

    L(theta) = mean_i -log sigmoid(beta h_i),
    h_i = (log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x))

with no reward model and no sampling. Its gradient w.r.t. the two log-probabilities is
:func:`rlhf_mini.dpo_loss_grad`; the chain rule through the softmax gives the logits'.

What DPO converges to (the claim the tests check). The implicit reward
rho(x, y) = beta log(pi(y|x) / pi_ref(y|x)) enters the loss only through differences on one
prompt, and with a table of logits every rho is free, so minimising the DPO loss is exactly
maximum-likelihood Bradley–Terry fitting of rho on each prompt's comparisons. If those
MLE scores s_x exist (every candidate of the prompt both wins and loses, and the "beats"
graph is strongly connected; see :func:`rlhf_mini.fit_bradley_terry`), the minimiser is

    pi_DPO(y | x) = pi_ref(y | x) exp(s_x(y) / beta) / Z(x),

the KL-regularised optimum pi* of :func:`rlhf_mini.optimal_kl_policy` for the reward the
Bradley–Terry model infers from the data. Prompts without comparisons keep pi_ref.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf_mini.core.backend import Backend, resolve_backend, to_numpy
from rlhf_mini.core.checks import check_in_range, check_int, check_positive
from rlhf_mini.core.config import TrainerConfig
from rlhf_mini.core.optim import AdamW
from rlhf_mini.core.runs import PolicyRun
from rlhf_mini.losses.dpo import DPO_LOSS_TYPES, dpo_loss, dpo_loss_grad
from rlhf_mini.models.bradley_terry import fit_bradley_terry
from rlhf_mini.models.softmax_policy import SoftmaxPolicy, optimal_kl_policy
from rlhf_mini.trainers.sft import sft_policy
from rlhf_mini.worlds.bandit import Comparisons, load_world, simulate_comparisons

__all__ = ["DPOConfig", "DPOResult", "dpo_optimal_policy", "train_dpo"]

# implicit-reward margins up to this count as ties in "accuracy" (float64 round-off)
RANK_TOL = 1e-9

HISTORY_KEYS = ("step", "loss", "accuracy", "reward_margin", "kl", "gold_reward")
HELDOUT_KEYS = ("heldout_loss", "heldout_accuracy")


@dataclass(frozen=True)
class DPOConfig(TrainerConfig):
    """Settings of :func:`train_dpo`."""

    beta: float = 0.5
    """DPO's KL strength: a small beta lets the policy move far from the reference."""
    steps: int = 300
    """Full-batch Adam steps."""
    lr: float = 0.1
    """Adam step size (each logit moves about this much per step)."""
    anneal_lr: bool = True
    """Anneal the step size linearly to 0 over the run."""
    loss_type: str = field(default="sigmoid", metadata={"choices": DPO_LOSS_TYPES})
    """The loss of the DPO family (rlhf_mini.dpo_loss)."""
    label_smoothing: float = 0.0
    """Assumed share of flipped labels, in [0, 0.5) (conservative DPO, robust DPO)."""
    log_every: int | None = None
    """Log every this many steps, plus step 0 and the last (None: about 100 points)."""

    def check(self) -> dict[str, Any]:
        return {
            **super().check(),
            "beta": check_positive(self.beta, "beta"),
            "steps": check_int(self.steps, "steps"),
            "lr": check_positive(self.lr, "lr"),
            "label_smoothing": check_in_range(
                self.label_smoothing, "label_smoothing", 0.0, 0.5, low_open=False, high_open=True
            ),
            "log_every": None if self.log_every is None else check_int(self.log_every, "log_every"),
        }


class DPOResult(PolicyRun):
    """A DPO run. ``history`` (one entry per logged step): step, loss (mean DPO loss),
    accuracy (share of comparisons whose implicit reward ranks the chosen response higher),
    reward_margin (mean of chosen minus rejected implicit reward), kl (exact
    KL(pi || pi_ref), mean over prompts), gold_reward (E_pi[gold utility]); with held-out
    comparisons also heldout_loss and heldout_accuracy (the same loss and accuracy on them)."""


def _selection(c: Comparisons, n_prompts: int, k: int) -> tuple[np.ndarray, ...]:
    """Distinct (x, y_w, y_l) triples with their share of the data, and one-hot rows that
    pick log pi(y_w|x) and log pi(y_l|x) out of the flattened (P*K,) table:
    logp_chosen = S_w @ logp.reshape(-1). Shapes (t,), (t, P*K), (t, P*K); t <= P K (K-1).

    The mean loss over the m comparisons equals sum_t weight_t * loss_t, so training on
    the distinct triples is exact and costs O(P K^2) per step whatever m is."""
    key = (c.prompt * k + c.chosen) * k + c.rejected
    uniq, counts = np.unique(key, return_counts=True)
    chosen_flat, rejected = uniq // k, uniq % k
    rejected_flat = (chosen_flat // k) * k + rejected
    t = uniq.size
    s_w = np.zeros((t, n_prompts * k))
    s_l = np.zeros((t, n_prompts * k))
    s_w[np.arange(t), chosen_flat] = 1.0
    s_l[np.arange(t), rejected_flat] = 1.0
    return counts / len(c), s_w, s_l


class _Pairs:
    """Comparisons on the backend: weight (t,), selection rows S_w, S_l (t, P*K) and the
    reference's log-probabilities of the chosen and rejected responses (t,)."""

    def __init__(self, c: Comparisons, b: Backend, flat_ref: Any, n_prompts: int, k: int):
        weight, s_w, s_l = _selection(c, n_prompts, k)
        self.weight, self.s_w, self.s_l = b.asarray(weight), b.asarray(s_w), b.asarray(s_l)
        self.ref_w, self.ref_l = self.s_w @ flat_ref, self.s_l @ flat_ref

    def evaluate(self, xp: Any, flat_logp: Any, cfg: DPOConfig) -> tuple[float, float, float]:
        """Mean DPO loss, accuracy and implicit reward margin of the policy on these pairs."""
        losses, chosen_rewards, rejected_rewards = dpo_loss(
            self.s_w @ flat_logp,
            self.s_l @ flat_logp,
            self.ref_w,
            self.ref_l,
            cfg.beta,
            cfg.loss_type,
            cfg.label_smoothing,
        )
        margin = chosen_rewards - rejected_rewards
        # Exact ties are common (Adam moves tied logits identically) and round-off puts
        # them at +-1e-16: a tie is not a win, whatever the backend's summation order.
        ranked = xp.astype(margin > RANK_TOL, margin.dtype)
        w = self.weight
        return float(xp.sum(w * losses)), float(xp.sum(w * ranked)), float(xp.sum(w * margin))

    def gradient(self, xp: Any, flat_logp: Any, cfg: DPOConfig, shape: tuple[int, int]) -> Any:
        """d mean-loss / d log pi(y|x), scattered back onto the (P, K) table."""
        g_w, g_l = dpo_loss_grad(
            self.s_w @ flat_logp,
            self.s_l @ flat_logp,
            self.ref_w,
            self.ref_l,
            cfg.beta,
            cfg.loss_type,
            cfg.label_smoothing,
        )
        return xp.reshape((self.weight * g_w) @ self.s_w + (self.weight * g_l) @ self.s_l, shape)


def _check_data(name: str, c: Any, n_prompts: int) -> None:
    if not isinstance(c, Comparisons):
        raise TypeError(f"{name} must be a Comparisons, got {type(c).__name__}")
    if len(c) == 0 or c.prompt.max() >= n_prompts:
        raise ValueError(f"{name} must be non-empty and refer to prompts < {n_prompts}")


def train_dpo(
    comparisons: Comparisons | None = None,
    config: DPOConfig | None = None,
    *,
    heldout: Comparisons | None = None,
    reference: SoftmaxPolicy | None = None,
    gold: Any = None,
    world: Any = None,
    **options: Any,
) -> DPOResult:
    """Train the response-level policy on pairwise comparisons with the DPO loss.

    Parameters
    ----------
    comparisons : Comparisons, optional
        Default: 500 faithful simulated comparisons drawn with ``seed``.
    config, **options
        :class:`DPOConfig`, or its fields as keywords (``train_dpo(c, beta=0.1)``).
    heldout : Comparisons, optional
        Comparisons not trained on. When given, the history also logs heldout_loss and
        heldout_accuracy: how well the implicit reward generalises to new labels.
    reference : SoftmaxPolicy, optional
        pi_ref and the initial policy; default the world's SFT policy.
    gold : (P, K) array, optional
        Utility reported as gold_reward; default the world's gold utility.
    world : World, optional

    Examples
    --------
    >>> res = train_dpo(steps=100, seed=0)
    >>> res.history["accuracy"][-1] > 0.7
    True
    >>> train, test = simulate_comparisons(500, 0).split(0.2, seed=0)
    >>> res = train_dpo(train, heldout=test, steps=100, seed=0)
    >>> res.history["heldout_accuracy"][-1] > res.history["heldout_accuracy"][0]
    True
    """
    cfg = DPOConfig.from_options(config, **options)
    b = resolve_backend(cfg.backend, cfg.device, cfg.dtype)
    xp = b.xp
    world = load_world() if world is None else world
    if comparisons is None:
        comparisons = simulate_comparisons(500, cfg.seed, world=world)
    if reference is None:
        reference = sft_policy(world, backend=b.name, device=b.device)
    elif not isinstance(reference, SoftmaxPolicy):
        raise TypeError(f"reference must be a SoftmaxPolicy, got {type(reference).__name__}")
    reference = SoftmaxPolicy(to_numpy(reference.logits), b)
    n_prompts, k = reference.shape
    _check_data("comparisons", comparisons, n_prompts)
    if heldout is not None:
        _check_data("heldout", heldout, n_prompts)
    gold_np = world.gold_utility() if gold is None else np.asarray(gold, dtype=float)
    if gold_np.shape != (n_prompts, k):
        raise ValueError(f"gold must have shape {(n_prompts, k)}, got {gold_np.shape}")

    flat_ref = xp.reshape(reference.log_probs(), (-1,))  # (P*K,)
    train = _Pairs(comparisons, b, flat_ref, n_prompts, k)
    test = None if heldout is None else _Pairs(heldout, b, flat_ref, n_prompts, k)
    log_every = cfg.log_every or max(1, cfg.steps // 100)
    adam = AdamW(cfg.lr)  # weight_decay 0: Adam (Kingma & Ba 2014, arXiv 1412.6980)
    params = {"logits": reference.logits}
    history: dict[str, list[float]] = {
        key: [] for key in (HISTORY_KEYS if test is None else HISTORY_KEYS + HELDOUT_KEYS)
    }
    for step in range(cfg.steps + 1):
        policy = reference.copy(params["logits"])
        flat = xp.reshape(policy.log_probs(), (-1,))
        if step % log_every == 0 or step == cfg.steps:
            loss, accuracy, margin = train.evaluate(xp, flat, cfg)
            values = {"step": step, "loss": loss, "accuracy": accuracy, "reward_margin": margin}
            if test is not None:
                values["heldout_loss"], values["heldout_accuracy"], _ = test.evaluate(xp, flat, cfg)
            values["kl"] = float(xp.mean(policy.kl(reference)))
            values["gold_reward"] = float(xp.mean(policy.expected(gold_np)))
            for key in history:
                history[key].append(values[key])
        if step == cfg.steps:
            break
        g = train.gradient(xp, flat, cfg, (n_prompts, k))  # dL / d log pi(y|x)
        # chain rule through the softmax: dL/dtheta[x, k] = g[x, k] - pi(k|x) sum_y g[x, y]
        grad = g - policy.probs() * xp.sum(g, axis=-1, keepdims=True)
        lr = cfg.lr * (1 - step / cfg.steps) if cfg.anneal_lr else cfg.lr
        params = adam.step(params, {"logits": grad}, lr)
    return DPOResult(
        history=history,
        config=cfg.to_dict(),
        policy=reference.copy(params["logits"]),
        reference=reference,
    )


def dpo_optimal_policy(
    comparisons: Comparisons, reference: SoftmaxPolicy, beta: float
) -> SoftmaxPolicy:
    """The minimiser of the DPO loss on ``comparisons`` for a tabular policy:

        pi(y | x) = pi_ref(y | x) exp(s_x(y) / beta) / Z(x),
        s_x = fit_bradley_terry(the comparisons on prompt x)   (maximum likelihood)

    i.e. :func:`rlhf_mini.optimal_kl_policy` with the Bradley–Terry-implied reward. Prompts
    without comparisons keep pi_ref. Raises ``ValueError`` (from ``fit_bradley_terry``)
    when a prompt's MLE does not exist; then the DPO loss has no minimiser either (the
    logits of an unbeaten response grow without bound).
    """
    beta = check_positive(beta, "beta")
    n_prompts, k = reference.shape
    scores = np.zeros((n_prompts, k))
    for x in np.unique(comparisons.prompt):
        on_x = comparisons.prompt == x
        pairs = np.stack([comparisons.chosen[on_x], comparisons.rejected[on_x]], axis=1)
        scores[x] = fit_bradley_terry(pairs, n_items=k)
    return optimal_kl_policy(reference, scores, beta)
