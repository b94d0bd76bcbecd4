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

The DPO family (``loss_type``; one branch per loss in ``_pair_losses``, each with its
equation and paper, and its gradient in ``_pair_grads``). "sigmoid", "ipo", "hinge" and "robust" are :func:`rlhf_mini.dpo_loss`.
Three more change what DPO's loss is built from:

- "kto" (Ethayarajh et al. 2024, arXiv 2402.01306; :func:`rlhf_mini.kto_loss`): learns from
  single responses labelled desirable or undesirable, not pairs. The labels are derived from
  the comparisons the way TRL's ``unpair_preference_dataset`` does it (and the KTO paper for
  its paired data sets): each comparison gives one desirable example (its chosen response)
  and one undesirable example (its rejected one), so the two classes are the same size and
  the class weights stay 1 (the paper's rule keeps their ratio in [1, 4/3]). The loss of a
  comparison is the mean of its two examples' losses, so the mean over comparisons is the
  mean over the unpaired examples. KTO's reference point z0 estimates KL(pi || pi_ref) from
  mismatched (prompt, response) pairs of a batch; on the bandit the KL is known exactly, so
  z0 is the exact KL (mean over prompts, no gradient through it). A response that was
  chosen more often than rejected has its log-ratio pushed up until the sigmoid saturates,
  one rejected more often pushed down; there is no finite minimiser (the tests check that
  direction, and that gold utility improves).
- "simpo" (Meng et al. 2024, arXiv 2405.14734; :func:`rlhf_mini.simpo_loss`): no reference
  model; the implicit reward is beta times the *average* per-token log-probability,
  log pi(y|x) / |y|, with a target margin ``simpo_gamma``. A bandit response is one action,
  so |y| = 1 and the average is log pi(y|x) itself (a language model's lengths are where the
  normalisation matters). On a table of logits, SimPO with gamma = 0 is DPO with a uniform
  reference: its minimiser is softmax(s_x / beta), s_x the Bradley–Terry fit of prompt x's
  comparisons, whatever pi_ref was.
- "orpo" (Hong et al. 2024, arXiv 2403.07691; :func:`rlhf_mini.orpo_loss`): no reference
  model and no separate SFT stage: the loss is the SFT loss on the chosen response plus beta
  times the odds-ratio term, -log pi(y_w|x) - beta log sigmoid(log odds(y_w) - log odds(y_l)),
  odds(y) = P / (1 - P) with P = exp(average log-prob) = pi(y|x) here (|y| = 1). Start it
  from the base model to run the single stage it was designed for
  (``reference=base_policy()``). As beta -> 0 its minimiser is the share of comparisons of
  each prompt that chose each response (maximum likelihood on the chosen responses).

For "simpo" and "orpo" the logged implicit rewards are beta log pi(y|x) (TRL's choice), so
their accuracy and margin at step 0 are those of the starting policy, not 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf_mini.core.backend import Backend, resolve_backend, to_numpy
from rlhf_mini.core.checks import check_in_range, check_int, check_non_negative, check_positive
from rlhf_mini.core.config import TrainerConfig
from rlhf_mini.core.optim import AdamW
from rlhf_mini.core.runs import PolicyRun
from rlhf_mini.losses.dpo import DPO_LOSS_TYPES, dpo_loss, dpo_loss_grad
from rlhf_mini.losses.kto import kto_loss, kto_loss_grad
from rlhf_mini.losses.orpo import orpo_loss, orpo_loss_grad
from rlhf_mini.losses.simpo import simpo_loss, simpo_loss_grad
from rlhf_mini.models.bradley_terry import fit_bradley_terry
from rlhf_mini.models.softmax_policy import SoftmaxPolicy, optimal_kl_policy
from rlhf_mini.trainers.sft import sft_policy
from rlhf_mini.worlds.bandit import Comparisons, load_world, simulate_comparisons

__all__ = [
    "PREFERENCE_LOSS_TYPES",
    "DPOConfig",
    "DPOResult",
    "dpo_optimal_policy",
    "train_dpo",
]

#: Every loss train_dpo offers: the DPO losses of rlhf_mini.dpo_loss, then KTO, SimPO, ORPO.
PREFERENCE_LOSS_TYPES = (*DPO_LOSS_TYPES, "kto", "simpo", "orpo")
#: The losses with a label-smoothing variant (the share of flipped labels they assume).
SMOOTHED_LOSS_TYPES = ("sigmoid", "robust", "simpo")

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
    loss_type: str = field(default="sigmoid", metadata={"choices": PREFERENCE_LOSS_TYPES})
    """The loss: DPO's (sigmoid, ipo, hinge, robust), KTO's, SimPO's or ORPO's."""
    label_smoothing: float = 0.0
    """Assumed share of flipped labels, in [0, 0.5) (sigmoid, robust and simpo only)."""
    simpo_gamma: float = 0.5
    """SimPO's target reward margin gamma (loss_type "simpo" only)."""
    log_every: int | None = None
    """Log every this many steps, plus step 0 and the last (None: about 100 points)."""

    def check(self) -> dict[str, Any]:
        return {
            **super().check(),
            "beta": check_positive(self.beta, "beta"),
            "steps": check_int(self.steps, "steps"),
            "lr": check_positive(self.lr, "lr"),
            "label_smoothing": self._label_smoothing(),
            "simpo_gamma": check_non_negative(self.simpo_gamma, "simpo_gamma"),
            "log_every": None if self.log_every is None else check_int(self.log_every, "log_every"),
        }

    def _label_smoothing(self) -> float:
        eps = check_in_range(
            self.label_smoothing, "label_smoothing", 0.0, 0.5, low_open=False, high_open=True
        )
        if eps != 0.0 and self.loss_type not in SMOOTHED_LOSS_TYPES:
            raise ValueError(
                f"label_smoothing applies to the {SMOOTHED_LOSS_TYPES} losses only, "
                f"got label_smoothing={eps} with loss_type={self.loss_type!r}"
            )
        return eps


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

    def evaluate(
        self, xp: Any, flat_logp: Any, cfg: DPOConfig, kl: float
    ) -> tuple[float, float, float]:
        """Mean loss, accuracy and implicit reward margin of the policy on these pairs."""
        losses, chosen_rewards, rejected_rewards = _pair_losses(
            xp, self.s_w @ flat_logp, self.s_l @ flat_logp, self.ref_w, self.ref_l, cfg, kl
        )
        margin = chosen_rewards - rejected_rewards
        # Exact ties are common (Adam moves tied logits identically) and round-off puts
        # them at +-1e-16: a tie is not a win, whatever the backend's summation order.
        ranked = xp.astype(margin > RANK_TOL, margin.dtype)
        w = self.weight
        return float(xp.sum(w * losses)), float(xp.sum(w * ranked)), float(xp.sum(w * margin))

    def gradient(
        self, xp: Any, flat_logp: Any, cfg: DPOConfig, kl: float, shape: tuple[int, int]
    ) -> Any:
        """d mean-loss / d log pi(y|x), scattered back onto the (P, K) table."""
        g_w, g_l = _pair_grads(
            xp, self.s_w @ flat_logp, self.s_l @ flat_logp, self.ref_w, self.ref_l, cfg, kl
        )
        return xp.reshape((self.weight * g_w) @ self.s_w + (self.weight * g_l) @ self.s_l, shape)


def _pair_losses(
    xp: Any, logp_w: Any, logp_l: Any, ref_w: Any, ref_l: Any, cfg: DPOConfig, kl: float
) -> tuple[Any, Any, Any]:
    """Per distinct comparison (t,): the loss and the chosen and rejected implicit rewards.
    ``kl`` is the exact KL(pi || pi_ref), mean over prompts (KTO's reference point)."""
    beta = cfg.beta
    if cfg.loss_type in DPO_LOSS_TYPES:
        # Rafailov et al. 2023 (arXiv 2305.18290) and variants: a function of
        # h = (log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))
        return dpo_loss(logp_w, logp_l, ref_w, ref_l, beta, cfg.loss_type, cfg.label_smoothing)
    if cfg.loss_type == "kto":
        # Ethayarajh et al. 2024 (arXiv 2402.01306): each comparison is one desirable example
        # (y_w) and one undesirable one (y_l); z0 = KL(pi || pi_ref), no gradient through it.
        #   L = (1/2) [ (1 - sigmoid(beta (logratio(y_w) - z0)))
        #             + (1 - sigmoid(beta (z0 - logratio(y_l)))) ]
        both, chosen, rejected, _ = kto_loss(
            *_kto_inputs(xp, logp_w, logp_l, ref_w, ref_l, kl), beta=beta
        )
        t = logp_w.shape[0]
        return (both[:t] + both[t:]) / 2, chosen, rejected
    if cfg.loss_type == "simpo":
        # Meng et al. 2024 (arXiv 2405.14734): no reference; average log-prob = log pi (|y| = 1)
        #   L = -log sigmoid(beta (log pi(y_w) - log pi(y_l)) - gamma)   (label-smoothed)
        return simpo_loss(
            logp_w, logp_l, beta=beta, gamma=cfg.simpo_gamma, label_smoothing=cfg.label_smoothing
        )
    # "orpo": Hong et al. 2024 (arXiv 2403.07691): SFT on y_w plus beta times the odds ratio
    #   L = -log pi(y_w) - beta log sigmoid(log odds(y_w) - log odds(y_l)),  odds = P / (1 - P)
    odds_losses, _ = orpo_loss(logp_w, logp_l, beta=beta)
    return -logp_w + odds_losses, beta * logp_w, beta * logp_l


def _pair_grads(
    xp: Any, logp_w: Any, logp_l: Any, ref_w: Any, ref_l: Any, cfg: DPOConfig, kl: float
) -> tuple[Any, Any]:
    """d loss / d log pi(y_w|x) and d loss / d log pi(y_l|x) per distinct comparison, for
    each loss of :func:`_pair_losses` (same order of branches)."""
    beta = cfg.beta
    if cfg.loss_type in DPO_LOSS_TYPES:
        return dpo_loss_grad(logp_w, logp_l, ref_w, ref_l, beta, cfg.loss_type, cfg.label_smoothing)
    if cfg.loss_type == "kto":  # each half of the comparison's loss
        g_w, g_l = kto_loss_grad(*_kto_inputs(xp, logp_w, logp_l, ref_w, ref_l, kl), beta=beta)
        return g_w / 2, g_l / 2
    if cfg.loss_type == "simpo":
        return simpo_loss_grad(
            logp_w, logp_l, beta=beta, gamma=cfg.simpo_gamma, label_smoothing=cfg.label_smoothing
        )
    g_w, g_l = orpo_loss_grad(logp_w, logp_l, beta=beta)  # "orpo"
    return g_w - 1.0, g_l  # the SFT term -log pi(y_w) adds -1 to d / d log pi(y_w)


def _kto_inputs(
    xp: Any, logp_w: Any, logp_l: Any, ref_w: Any, ref_l: Any, kl: float
) -> tuple[Any, ...]:
    """kto_loss's six arrays: desirable = chosen, undesirable = rejected, and the reference
    point z0 = KL(pi || pi_ref) given as one "mismatched pair" with log-ratio kl."""
    z0 = xp.zeros_like(logp_w[:1]) + kl  # (1,), dtype and device of logp_w
    return logp_w, logp_l, z0, ref_w, ref_l, xp.zeros_like(z0)


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
        logging = step % log_every == 0 or step == cfg.steps
        # the exact KL: logged, and KTO's reference point (no other loss needs it)
        kl = float(xp.mean(policy.kl(reference))) if logging or cfg.loss_type == "kto" else 0.0
        if logging:
            loss, accuracy, margin = train.evaluate(xp, flat, cfg, kl)
            values = {"step": step, "loss": loss, "accuracy": accuracy, "reward_margin": margin}
            if test is not None:
                values["heldout_loss"], values["heldout_accuracy"], _ = test.evaluate(
                    xp, flat, cfg, kl
                )
            values["kl"] = kl
            values["gold_reward"] = float(xp.mean(policy.expected(gold_np)))
            for key in history:
                history[key].append(values[key])
        if step == cfg.steps:
            break
        g = train.gradient(xp, flat, cfg, kl, (n_prompts, k))  # dL / d log pi(y|x)
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
