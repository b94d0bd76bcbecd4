"""Optimisers over a dict of parameter arrays (numpy or torch): AdamW, gradient clipping.

A model's parameters are a ``dict`` mapping names to arrays (e.g. the transformer's
``"h.0.attn.c_attn.weight"``); a gradient is a dict with the same keys. Nested dicts are
walked too (a "pytree" of dicts). Updates return a new dict and leave the input unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from rlhf_mini._arrays import _numpy_namespace

__all__ = ["AdamW", "clip_grad_norm", "global_norm"]


def _leaves(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path, array) of every array in a nested dict, paths joined with '/'."""
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _leaves(value, path + "/")
        else:
            yield path, value


def _map(fn: Callable[[str, Any], Any], tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A dict of the same structure with ``fn(path, leaf)`` at every leaf."""
    return {
        k: _map(fn, v, f"{prefix}{k}/") if isinstance(v, dict) else fn(f"{prefix}{k}", v)
        for k, v in tree.items()
    }


def _xp(x: Any) -> Any:
    return _numpy_namespace() if isinstance(x, np.ndarray) else array_namespace(x)


def global_norm(grads: dict[str, Any]) -> float:
    """||g|| = sqrt(sum over every array of sum(g^2)), as a Python float.

    Examples
    --------
    >>> import numpy as np
    >>> global_norm({"a": np.array([3.0]), "b": {"c": np.array([4.0])}})
    5.0
    """
    total = 0.0
    for _, g in _leaves(grads):
        total += float(_xp(g).sum(g * g))
    return math.sqrt(total)


def clip_grad_norm(grads: dict[str, Any], max_norm: float) -> tuple[dict[str, Any], float]:
    """Scale every gradient by min(1, max_norm / ||g||) (Pascanu et al. 2013, arXiv
    1211.5063), as ``torch.nn.utils.clip_grad_norm_`` does; return (grads, ||g|| before).

    Examples
    --------
    >>> import numpy as np
    >>> g, norm = clip_grad_norm({"w": np.array([3.0, 4.0])}, max_norm=1.0)
    >>> g["w"].round(6), norm
    (array([0.6, 0.8]), 5.0)
    """
    if not (isinstance(max_norm, (int, float)) and math.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"max_norm must be a finite number > 0, got {max_norm!r}")
    norm = global_norm(grads)
    scale = max_norm / (norm + 1e-6)
    if scale >= 1.0:
        return grads, norm
    return _map(lambda _, g: g * scale, grads), norm


class AdamW:
    """Adam with decoupled weight decay (Loshchilov & Hutter 2017, arXiv 1711.05101; Adam:
    Kingma & Ba 2014, arXiv 1412.6980), over a dict of arrays.

    For every parameter theta with gradient g, at step t = 1, 2, ...

        m <- b1 m + (1 - b1) g              v <- b2 v + (1 - b2) g^2
        m_hat = m / (1 - b1^t)              v_hat = v / (1 - b2^t)
        theta <- theta - lr (m_hat / (sqrt(v_hat) + eps) + weight_decay * theta)

    The decay is applied to theta directly, not added to g (which Adam would rescale per
    coordinate): that is what "decoupled" means, and what ``torch.optim.AdamW`` computes.
    It applies to the parameters ``decay(name, array)`` selects; by default those with at
    least two dimensions (weight matrices and embeddings, not biases or LayerNorm gains),
    as in GPT-2 and nanoGPT.

    Parameters
    ----------
    lr : float > 0
        Step size (``step`` can override it per call, e.g. from a schedule).
    betas : (b1, b2) in [0, 1)
    eps : float > 0
    weight_decay : float >= 0
    decay : callable (name, array) -> bool, optional

    Examples
    --------
    >>> import numpy as np
    >>> opt = AdamW(lr=0.1)
    >>> params = {"w": np.array([1.0, -2.0])}
    >>> params = opt.step(params, {"w": np.array([0.5, -3.0])})
    >>> params["w"]  # the first Adam step moves each coordinate by lr against its gradient
    array([ 0.9, -1.9])
    """

    def __init__(
        self,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decay: Callable[[str, Any], bool] | None = None,
    ) -> None:
        self.lr = _positive(lr, "lr")
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        self.b1, self.b2 = float(betas[0]), float(betas[1])
        self.eps = _positive(eps, "eps")
        if not (math.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        self.decay = decay if decay is not None else (lambda name, x: x.ndim >= 2)
        self.t = 0
        self.m: dict[str, Any] = {}
        self.v: dict[str, Any] = {}

    def step(
        self, params: dict[str, Any], grads: dict[str, Any], lr: float | None = None
    ) -> dict[str, Any]:
        """One update; returns the new parameters (a new dict of the same structure)."""
        lr = self.lr if lr is None else _positive(lr, "lr")
        self.t += 1
        c1 = 1.0 / (1.0 - self.b1**self.t)
        c2 = 1.0 / (1.0 - self.b2**self.t)
        flat_grads = dict(_leaves(grads))
        if set(flat_grads) != {path for path, _ in _leaves(params)}:
            raise ValueError("grads must have exactly the keys of params")

        def update(path: str, theta: Any) -> Any:
            g = flat_grads[path]
            if tuple(g.shape) != tuple(theta.shape):
                raise ValueError(
                    f"grads[{path!r}] must have shape {tuple(theta.shape)}, got {tuple(g.shape)}"
                )
            xp = _xp(theta)
            if path not in self.m:
                self.m[path] = xp.zeros_like(theta)
                self.v[path] = xp.zeros_like(theta)
            m = self.b1 * self.m[path] + (1.0 - self.b1) * g
            v = self.b2 * self.v[path] + (1.0 - self.b2) * (g * g)
            self.m[path], self.v[path] = m, v
            new = theta - (lr * c1) * m / (xp.sqrt(v * c2) + self.eps)
            if self.weight_decay and self.decay(path, theta):
                new = new - (lr * self.weight_decay) * theta
            return new

        return _map(update, params)

    def state_dict(self) -> dict[str, Any]:
        """The step count and moment estimates (to resume training)."""
        return {"t": self.t, "m": dict(self.m), "v": dict(self.v)}


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)
