"""ORPO's odds-ratio term: preference alignment added to the SFT loss, no reference model.

Hong et al. 2024, "ORPO: Monolithic Preference Optimization without Reference Model", arXiv
2403.07691, equations (4) and (7).

With P = pi(y | x) taken as the exponential of the *average* per-token log-probability
(the paper's length-normalised likelihood), the odds of a response are P / (1 - P), and

    log_odds = log odds(y_w) - log odds(y_l)
             = (c - r) - (log(1 - e^c) - log(1 - e^r))        c, r: average logps (< 0)
    L_OR     = -beta log sigmoid(log_odds)

The full ORPO loss is L_SFT(y_w) + L_OR (the paper's lambda is ``beta``): this module gives
L_OR, the term to *minimise*. TRL's ``ORPOTrainer.odds_ratio_loss`` returns its negative,
``beta * log sigmoid(log_odds)``, and subtracts it from the SFT loss: the same objective.
(TRL also casts the log-probs to float32 before this computation; this module keeps the
input's dtype.)

log(1 - e^x) is computed stably for x near 0, where 1 - e^x cancels (Maechler 2012,
"Accurately computing log(1 - exp(-|a|))"): log(-expm1(x)) for x >= -log 2, else
log1p(-exp(x)). Average logps must be < 0 (a probability of 1 has infinite odds).
"""

from __future__ import annotations

import math
from typing import Any

from rlhf_mini.core.arrays import same_backend
from rlhf_mini.core.checks import check_positive
from rlhf_mini.core.numerics import log_sigmoid

__all__ = ["orpo_loss", "orpo_loss_grad"]

_LOG_HALF = -math.log(2.0)


def log1mexp(xp: Any, x: Any) -> Any:
    """log(1 - exp(x)) for x < 0, accurate near 0 and for very negative x.

    Each branch only sees inputs it handles well (so no warning is raised for the other).

    Examples
    --------
    >>> import numpy as np
    >>> from array_api_compat import array_namespace
    >>> xp = array_namespace(np.zeros(1))
    >>> log1mexp(xp, np.array([-1e-300, -np.log(2.0), -50.0]))
    array([-6.90775528e+02, -6.93147181e-01, -1.92874985e-22])
    """
    near_zero = x >= _LOG_HALF
    small = xp.where(near_zero, xp.full_like(x, -1.0), x)  # inputs of log1p(-exp(x))
    near = xp.where(near_zero, x, xp.full_like(x, -1.0))  # inputs of log(-expm1(x))
    return xp.where(near_zero, xp.log(-xp.expm1(near)), xp.log1p(-xp.exp(small)))


def _prepare(chosen: Any, rejected: Any, beta: float) -> tuple[Any, Any, Any, Any, float]:
    beta = check_positive(beta, "beta")
    xp, a = same_backend({"chosen_avg_logps": chosen, "rejected_avg_logps": rejected})
    c, r = a["chosen_avg_logps"], a["rejected_avg_logps"]
    for name, x in (("chosen_avg_logps", c), ("rejected_avg_logps", r)):
        if not bool(xp.all(x < 0)):
            raise ValueError(f"{name} must be < 0 (log-probabilities of probabilities below 1)")
    log1m_c, log1m_r = log1mexp(xp, c), log1mexp(xp, r)
    log_odds = (c - r) - (log1m_c - log1m_r)
    return xp, log_odds, log1m_c, log1m_r, beta


def orpo_loss(
    chosen_avg_logps: Any, rejected_avg_logps: Any, *, beta: float = 0.1
) -> tuple[Any, Any]:
    """Per-example odds-ratio loss ``-beta log sigmoid(log_odds)`` and the log odds ratio.

    Parameters
    ----------
    chosen_avg_logps, rejected_avg_logps : arrays of one shape, every value < 0
        Mean per-token log-probability of the chosen / rejected response under the policy.
    beta : float > 0
        Weight of the odds-ratio term against the SFT loss (the paper's lambda).

    Returns
    -------
    losses, log_odds : arrays of the input shape
        The term to add to the SFT loss (>= 0), and log odds(y_w) - log odds(y_l).

    Examples
    --------
    >>> import numpy as np
    >>> losses, log_odds = orpo_loss(np.log([0.5]), np.log([0.5]), beta=1.0)   # equal odds
    >>> np.round(losses, 6), log_odds
    (array([0.693147]), array([0.]))
    >>> _, log_odds = orpo_loss(np.log([0.75]), np.log([0.5]))   # odds 3 against 1
    >>> np.round(log_odds, 6)
    array([1.098612])
    """
    xp, log_odds, _, _, beta = _prepare(chosen_avg_logps, rejected_avg_logps, beta)
    return -beta * log_sigmoid(xp, log_odds), log_odds


def orpo_loss_grad(
    chosen_avg_logps: Any, rejected_avg_logps: Any, *, beta: float = 0.1
) -> tuple[Any, Any]:
    """d losses_i / d chosen_avg_logps_i and d losses_i / d rejected_avg_logps_i.

    d log_odds / dc = 1 / (1 - e^c) and d log_odds / dr = -1 / (1 - e^r), and
    dL / d log_odds = -beta sigmoid(-log_odds), so

        dL/dc = -beta exp(log sigmoid(-log_odds) - log(1 - e^c))
        dL/dr =  beta exp(log sigmoid(-log_odds) - log(1 - e^r))

    computed in log space (beta included): near c = 0 the factor 1 / (1 - e^c) is huge and
    sigmoid(-log_odds) tiny, and their product is finite wherever the dtype can hold it (it
    overflows, with numpy's warning, only where the gradient itself does, e.g. c ~ -1e-309).

    Examples
    --------
    >>> import numpy as np
    >>> orpo_loss_grad(np.log([0.5]), np.log([0.5]), beta=1.0)   # -/+ 1/2 * 1/(1 - 1/2)
    (array([-1.]), array([1.]))
    """
    xp, log_odds, log1m_c, log1m_r, beta = _prepare(chosen_avg_logps, rejected_avg_logps, beta)
    log_size = math.log(beta) + log_sigmoid(xp, -log_odds)  # log(beta sigmoid(-log_odds))
    return -xp.exp(log_size - log1m_c), xp.exp(log_size - log1m_r)
