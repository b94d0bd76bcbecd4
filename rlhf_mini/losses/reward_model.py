"""The training loss of a reward model and its gradient, written out.

The Bradley–Terry negative log-likelihood of the labellers' choices (Christiano et al. 2017,
arXiv 1706.03741; Ouyang et al. 2022, arXiv 2203.02155, eq. 1), plus an L2 penalty:

    L(w) = mean_i -log sigmoid(r_w(x_i, y_chosen_i) - r_w(x_i, y_rejected_i)) + (l2 / 2) ||w||^2

Its gradient is :func:`rlhf_mini.bradley_terry_loss_grad` (w.r.t. the two score vectors)
carried to the parameters by the chain rule: for the linear model dr/dw = phi, for the MLP
by backpropagation through tanh.
"""

from __future__ import annotations

from typing import Any

from array_api_compat import array_namespace

from rlhf_mini.losses.bradley_terry import bradley_terry_loss, bradley_terry_loss_grad
from rlhf_mini.models.reward_model import mlp_forward

__all__ = ["mlp_reward_model_loss", "reward_model_loss"]


def reward_model_loss(
    weights: Any, phi_chosen: Any, phi_rejected: Any, l2: float = 0.0
) -> tuple[Any, Any]:
    """The regularised Bradley–Terry loss of a linear reward model and its gradient.

        L(w)  = bradley_terry_loss(phi_c w, phi_r w) + (l2 / 2) ||w||^2
        dL/dw = phi_c^T g_c + phi_r^T g_r + l2 w,   (g_c, g_r) = bradley_terry_loss_grad(...)

    Parameters
    ----------
    weights : array (F,)
    phi_chosen, phi_rejected : arrays (m, F)
        Features of the chosen and rejected response of each comparison.

    Returns
    -------
    (loss, grad) : 0-d array and (F,) array, on the inputs' backend.
    """
    s_c, s_r = phi_chosen @ weights, phi_rejected @ weights  # (m,) scores
    loss = bradley_terry_loss(s_c, s_r) + 0.5 * l2 * (weights @ weights)
    g_c, g_r = bradley_terry_loss_grad(s_c, s_r)  # dL/ds, (m,) each
    grad = phi_chosen.T @ g_c + phi_rejected.T @ g_r + l2 * weights  # chain rule: ds/dw = phi
    return loss, grad


def mlp_reward_model_loss(
    w: Any, c: Any, v: Any, phi_chosen: Any, phi_rejected: Any, l2: float = 0.0
) -> tuple[Any, tuple[Any, Any, Any]]:
    """The regularised Bradley–Terry loss of the MLP reward model and its gradient.

        h = tanh(phi W^T + c),  r = h v                              (per response)
        L = bradley_terry_loss(r_c, r_r) + (l2 / 2) (||W||^2 + ||v||^2)

    Backpropagation, with (g_c, g_r) = bradley_terry_loss_grad(r_c, r_r) = dL/dr:

        dL/dv = h_c^T g_c + h_r^T g_r + l2 v
        d_c   = (g_c v^T) * (1 - h_c^2)       dL/d(pre-activation), (m, H); same for r
        dL/dW = d_c^T phi_c + d_r^T phi_r + l2 W
        dL/dc = sum_i d_c[i] + sum_i d_r[i]

    Parameters
    ----------
    w : array (H, F);  c : array (H,);  v : array (H,)
    phi_chosen, phi_rejected : arrays (m, F)

    Returns
    -------
    (loss, (dL/dW, dL/dc, dL/dv)), on the inputs' backend.
    """
    xp = array_namespace(w, phi_chosen)
    h_c, s_c = mlp_forward(xp, phi_chosen, w, c, v)  # (m, H), (m,)
    h_r, s_r = mlp_forward(xp, phi_rejected, w, c, v)
    loss = bradley_terry_loss(s_c, s_r) + 0.5 * l2 * (xp.sum(w * w) + v @ v)
    g_c, g_r = bradley_terry_loss_grad(s_c, s_r)  # dL/ds, (m,) each
    grad_v = h_c.T @ g_c + h_r.T @ g_r + l2 * v
    d_c = g_c[:, None] * v[None, :] * (1.0 - h_c * h_c)  # (m, H)
    d_r = g_r[:, None] * v[None, :] * (1.0 - h_r * h_r)
    grad_w = d_c.T @ phi_chosen + d_r.T @ phi_rejected + l2 * w
    grad_c = xp.sum(d_c, axis=0) + xp.sum(d_r, axis=0)
    return loss, (grad_w, grad_c, grad_v)
