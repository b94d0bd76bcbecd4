"""DPO on the response-level bandit: learn the policy straight from the comparisons.

Public names
------------
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

from typing import Any

import numpy as np

from rlhf_mini.backend import resolve_backend, to_numpy
from rlhf_mini.dpo import DPO_LOSS_TYPES, dpo_loss, dpo_loss_grad
from rlhf_mini.policy import (
    Adam,
    PolicyRun,
    SoftmaxPolicy,
    _positive_float,
    _positive_int,
    log_softmax,
    optimal_kl_policy,
    sft_policy,
)
from rlhf_mini.preferences import fit_bradley_terry
from rlhf_mini.world import Comparisons, simulate_comparisons

__all__ = ["DPOResult", "dpo_optimal_policy", "train_dpo"]

# implicit-reward margins up to this count as ties in "accuracy" (float64 round-off)
RANK_TOL = 1e-9

HISTORY_KEYS = ("step", "loss", "accuracy", "reward_margin", "kl", "gold_reward")
HELDOUT_KEYS = ("heldout_loss", "heldout_accuracy")


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


def train_dpo(
    comparisons: Comparisons | None = None,
    *,
    beta: float = 0.5,
    steps: int = 300,
    lr: float = 0.1,
    anneal_lr: bool = True,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    reference: SoftmaxPolicy | None = None,
    heldout: Comparisons | None = None,
    gold: Any = None,
    seed: int = 0,
    log_every: int | None = None,
    world: Any = None,
    backend: str = "numpy",
    device: Any = None,
    dtype: str = "float64",
) -> DPOResult:
    """Train the response-level policy on pairwise comparisons with the DPO loss.

    Parameters
    ----------
    comparisons : Comparisons, optional
        Default: 500 faithful simulated comparisons drawn with ``seed``.
    beta : float > 0
        DPO's KL strength: small beta lets the policy move far from the reference.
    steps : int > 0
        Full-batch Adam steps.
    lr : float > 0
        Adam step size (logits move about this much per step), linearly annealed to 0 if
        ``anneal_lr``.
    loss_type, label_smoothing
        As in :func:`rlhf_mini.dpo_loss`.
    reference : SoftmaxPolicy, optional
        pi_ref and the initial policy; default the world's SFT policy.
    heldout : Comparisons, optional
        Comparisons not trained on. When given, the history also logs heldout_loss and
        heldout_accuracy: how well the implicit reward generalises to new labels.
    gold : (P, K) array, optional
        Utility reported as gold_reward; default the world's gold utility.
    log_every : int, optional
        Default: about 100 points (plus step 0 and the last).
    backend, device
        "numpy" | "torch"; identical histories for the same inputs (float64).
    dtype : {"float64", "float32"}
        Precision of every array (float32 is the usual choice on a GPU).

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
    beta = _positive_float(beta, "beta")
    steps = _positive_int(steps, "steps")
    lr = _positive_float(lr, "lr")
    if loss_type not in DPO_LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {DPO_LOSS_TYPES}, got {loss_type!r}")
    log_every = max(1, steps // 100) if log_every is None else _positive_int(log_every, "log_every")
    b = resolve_backend(backend, device, dtype)
    xp = b.xp
    from rlhf_mini.world import load_world

    world = load_world() if world is None else world
    if comparisons is None:
        comparisons = simulate_comparisons(500, seed, world=world)
    if reference is None:
        reference = sft_policy(world, backend=b.name, device=b.device)
    elif not isinstance(reference, SoftmaxPolicy):
        raise TypeError(f"reference must be a SoftmaxPolicy, got {type(reference).__name__}")
    reference = SoftmaxPolicy(to_numpy(reference.logits), b)
    n_prompts, k = reference.shape
    for name, c in (("comparisons", comparisons), ("heldout", heldout)):
        if c is None and name == "heldout":
            continue
        if not isinstance(c, Comparisons):
            raise TypeError(f"{name} must be a Comparisons, got {type(c).__name__}")
        if len(c) == 0 or c.prompt.max() >= n_prompts:
            raise ValueError(f"{name} must be non-empty and refer to prompts < {n_prompts}")
    gold_np = world.gold_utility() if gold is None else np.asarray(gold, dtype=float)
    if gold_np.shape != (n_prompts, k):
        raise ValueError(f"gold must have shape {(n_prompts, k)}, got {gold_np.shape}")

    logp_ref = reference.log_probs()  # (P, K)
    flat_ref = xp.reshape(logp_ref, (-1,))  # (P*K,)

    def data(c: Comparisons) -> tuple[Any, ...]:
        """weight (t,), S_w, S_l (t, P*K) and log pi_ref of chosen / rejected (t,)."""
        weight_np, s_w_np, s_l_np = _selection(c, n_prompts, k)
        s_w, s_l = b.asarray(s_w_np), b.asarray(s_l_np)
        return b.asarray(weight_np), s_w, s_l, s_w @ flat_ref, s_l @ flat_ref

    def evaluate(flat_logp: Any, d: tuple[Any, ...]) -> tuple[float, float, float]:
        """Mean DPO loss, accuracy and reward margin of the policy on data ``d``."""
        weight, s_w, s_l, ref_w, ref_l = d
        losses, chosen_rewards, rejected_rewards = dpo_loss(
            s_w @ flat_logp, s_l @ flat_logp, ref_w, ref_l, beta, loss_type, label_smoothing
        )
        margin = chosen_rewards - rejected_rewards
        # Exact ties are common (Adam moves tied logits identically) and round-off puts
        # them at +-1e-16: a tie is not a win, whatever the backend's summation order.
        ranked = xp.astype(margin > RANK_TOL, b.dtype)
        return (
            float(xp.sum(weight * losses)),
            float(xp.sum(weight * ranked)),
            float(xp.sum(weight * margin)),
        )

    train = data(comparisons)
    weight, s_w, s_l, ref_w, ref_l = train
    test = None if heldout is None else data(heldout)
    u_gold = b.asarray(gold_np)
    theta = reference.logits
    adam = Adam(xp, lr)
    keys = HISTORY_KEYS if test is None else HISTORY_KEYS + HELDOUT_KEYS
    history: dict[str, list[float]] = {key: [] for key in keys}

    for step in range(steps + 1):
        logp = log_softmax(xp, theta)  # (P, K)
        flat = xp.reshape(logp, (-1,))
        pol_w, pol_l = s_w @ flat, s_l @ flat  # (t,)
        if step % log_every == 0 or step == steps:
            pi = xp.exp(logp)
            loss, accuracy, margin = evaluate(flat, train)
            history["step"].append(step)
            history["loss"].append(loss)
            history["accuracy"].append(accuracy)
            history["reward_margin"].append(margin)
            if test is not None:
                loss, accuracy, _ = evaluate(flat, test)
                history["heldout_loss"].append(loss)
                history["heldout_accuracy"].append(accuracy)
            history["kl"].append(float(xp.mean(xp.sum(pi * (logp - logp_ref), axis=-1))))
            history["gold_reward"].append(float(xp.mean(xp.sum(pi * u_gold, axis=-1))))
        if step == steps:
            break
        g_w, g_l = dpo_loss_grad(pol_w, pol_l, ref_w, ref_l, beta, loss_type, label_smoothing)
        # d mean-loss / d log pi(y|x), scattered back onto the (P, K) table
        g = xp.reshape((weight * g_w) @ s_w + (weight * g_l) @ s_l, (n_prompts, k))
        # chain rule through the softmax: dL/dtheta[x, k] = g[x, k] - pi(k|x) sum_y g[x, y]
        grad = g - xp.exp(logp) * xp.sum(g, axis=-1, keepdims=True)
        theta = adam.step(theta, grad, lr * (1 - step / steps) if anneal_lr else lr)

    config = {
        "beta": beta,
        "steps": steps,
        "lr": lr,
        "anneal_lr": bool(anneal_lr),
        "loss_type": loss_type,
        "label_smoothing": float(label_smoothing),
        "n_comparisons": len(comparisons),
        "n_heldout": 0 if heldout is None else len(heldout),
        "seed": seed,
        "backend": b.name,
        "dtype": dtype,
    }
    return DPOResult(reference.copy(theta), reference, history, config)


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
    beta = _positive_float(beta, "beta")
    n_prompts, k = reference.shape
    scores = np.zeros((n_prompts, k))
    for x in np.unique(comparisons.prompt):
        on_x = comparisons.prompt == x
        pairs = np.stack([comparisons.chosen[on_x], comparisons.rejected[on_x]], axis=1)
        scores[x] = fit_bradley_terry(pairs, n_items=k)
    return optimal_kl_policy(reference, scores, beta)
