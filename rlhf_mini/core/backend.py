"""Choosing where the arrays live: numpy (default) or torch on CPU / CUDA.

Trainers take ``backend="numpy" | "torch"`` and ``device=None | "cpu" | "cuda" | ...``.
:func:`resolve_backend` returns a :class:`Backend` whose ``xp`` is the array-API namespace
(via ``array_api_compat``) and whose :meth:`Backend.asarray` moves numpy data there.

Randomness always comes from a ``numpy.random.Generator`` seeded by the trainer, on the
CPU; the draws are then moved to the backend. The same seed therefore gives the same
samples on every backend, which is what makes numpy/torch parity testable.

torch is imported only when ``backend="torch"`` is asked for, never by ``import rlhf_mini``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BACKENDS", "Backend", "resolve_backend", "to_numpy"]

BACKENDS = ("numpy", "torch")


@dataclass(frozen=True)
class Backend:
    """An array namespace, a device and a float dtype to compute in."""

    name: str
    xp: Any
    device: Any
    dtype: Any

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        """Move numpy data (or a Python number / list) onto this backend."""
        dtype = self.dtype if dtype is None else dtype
        if self.name == "numpy":
            return np.asarray(x, dtype=dtype)
        return self.xp.asarray(np.asarray(x), dtype=dtype, device=self.device)

    def zeros(self, shape: Any, dtype: Any = None) -> Any:
        dtype = self.dtype if dtype is None else dtype
        if self.name == "numpy":
            return np.zeros(shape, dtype=dtype)
        return self.xp.zeros(shape, dtype=dtype, device=self.device)


def resolve_backend(backend: str = "numpy", device: Any = None, dtype: str = "float64") -> Backend:
    """Return the :class:`Backend` for ``backend`` / ``device`` / ``dtype``.

    Raises
    ------
    ValueError
        Unknown ``backend`` or ``dtype``, or a ``device`` given for numpy other than "cpu".
    ImportError
        ``backend="torch"`` without torch installed (names the ``rlhf-mini[torch]`` extra).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if backend == "numpy":
        if device not in (None, "cpu"):
            raise ValueError(f"device must be None or 'cpu' with backend='numpy', got {device!r}")
        from array_api_compat import numpy as xp_numpy

        return Backend("numpy", xp_numpy, "cpu", getattr(np, dtype))
    try:
        torch = importlib.import_module("torch")
    except ImportError as err:
        raise ImportError(
            "backend='torch' needs PyTorch: pip install 'rlhf-mini[torch]' "
            "(for a CPU-only machine, install the CPU build of torch first)"
        ) from err
    from array_api_compat import torch as xp_torch

    try:
        dev = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device must be a torch device such as 'cpu' or 'cuda', got {device!r}"
        ) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} asked for CUDA, but torch.cuda.is_available() is False"
        )
    return Backend("torch", xp_torch, dev, getattr(torch, dtype))


def to_numpy(x: Any) -> np.ndarray:
    """Copy any backend's array (or a number) to a numpy array on the CPU."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)
