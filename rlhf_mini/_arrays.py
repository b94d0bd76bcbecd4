"""Input checks and the array namespace shared by every public function.

Every public function accepts numpy arrays, torch tensors (CPU or CUDA) or plain Python
numbers / lists, and returns the same kind of array it was given. The namespace comes
from :func:`array_api_compat.array_namespace`, so one implementation serves every backend.
Bad input raises ``ValueError`` / ``TypeError`` naming the argument.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from array_api_compat import array_namespace, device, is_array_api_obj


@functools.cache
def _numpy_namespace() -> Any:
    """array_namespace() of numpy arrays, looked up once (the call costs ~10 us per loss
    call) and on first use: importing array_api_compat.numpy takes ~3 s in Pyodide, which
    pages that never call a loss should not pay while they start."""
    return array_namespace(np.empty(0))


def as_float_array(x: Any, name: str) -> Any:
    """Return ``x`` as a floating array of its own backend, or raise naming ``name``.

    Python numbers and (nested) lists become float64 numpy arrays; integer arrays are
    promoted to float64.
    """
    if isinstance(x, np.ndarray):  # fast path: trainers call the losses in tight loops
        kind = x.dtype.kind
        if kind == "f":
            return x
        if kind in "iu":
            return x.astype(np.float64)
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if isinstance(x, bool) or x is None or isinstance(x, str):
        raise TypeError(f"{name} must be a real number or an array of them, got {type(x).__name__}")
    if not is_array_api_obj(x):
        try:
            x = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{name} must be a real number or an array of them, got {type(x).__name__}"
            ) from err
    xp = array_namespace(x)
    if xp.isdtype(x.dtype, "complex floating") or xp.isdtype(x.dtype, "bool"):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if not xp.isdtype(x.dtype, "real floating"):
        if not xp.isdtype(x.dtype, "integral"):
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
        x = xp.astype(x, xp.float64)
    return x


def check_finite(x: Any, name: str) -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or inf."""
    if isinstance(x, np.ndarray):
        finite = bool(np.isfinite(x).all())
    else:
        xp = array_namespace(x)
        finite = bool(xp.all(xp.isfinite(x)))
    if not finite:
        raise ValueError(f"{name} must be finite (no NaN or inf)")


def check_nonempty(x: Any, name: str) -> None:
    if x.ndim > 0 and math.prod(x.shape) == 0:
        raise ValueError(f"{name} must not be empty")


def float_input(x: Any, name: str, *, allow_scalar: bool = True) -> Any:
    """:func:`as_float_array` + non-empty + finite checks."""
    x = as_float_array(x, name)
    if not allow_scalar and x.ndim == 0:
        raise ValueError(f"{name} must be an array with at least one dimension, got a scalar")
    check_nonempty(x, name)
    check_finite(x, name)
    return x


def same_backend(arrays: dict[str, Any]) -> Any:
    """Convert each named input, check they share a backend and shape; return ``(xp, arrays)``.

    Raises ``ValueError`` naming the first argument whose shape differs from the first one's.
    """
    converted = {name: float_input(value, name) for name, value in arrays.items()}
    values = list(converted.values())
    all_numpy = all(isinstance(v, np.ndarray) for v in values)
    try:
        xp = _numpy_namespace() if all_numpy else array_namespace(*values)
    except TypeError as err:
        raise TypeError(f"{', '.join(arrays)} must all be arrays of the same library") from err
    names = list(converted)
    first = names[0]
    for name in names[1:]:
        if tuple(converted[name].shape) != tuple(converted[first].shape):
            raise ValueError(
                f"{name} must have the same shape as {first}: "
                f"got {tuple(converted[name].shape)} and {tuple(converted[first].shape)}"
            )
        if not all_numpy and device(converted[name]) != device(converted[first]):
            raise ValueError(
                f"{name} must be on the same device as {first}: "
                f"got {device(converted[name])} and {device(converted[first])}"
            )
    if all_numpy:
        dtype = np.result_type(*values)
        converted = {n: v if v.dtype == dtype else v.astype(dtype) for n, v in converted.items()}
        return xp, converted
    dtype = _result_dtype(xp, values)
    converted = {
        name: xp.astype(v, dtype) if v.dtype != dtype else v for name, v in converted.items()
    }
    return xp, converted


def _result_dtype(xp: Any, values: list[Any]) -> Any:
    dtype = values[0].dtype
    for v in values[1:]:
        dtype = xp.result_type(dtype, v.dtype)
    return dtype


def check_positive(value: float, name: str) -> float:
    value = check_real_scalar(value, name)
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def check_real_scalar(value: Any, name: str) -> float:
    """``value`` as a Python float; 0-d real arrays (numpy or torch, e.g. a mean) count."""
    if is_array_api_obj(value) and value.ndim == 0:
        xp = array_namespace(value)
        if xp.isdtype(value.dtype, ("real floating", "integral")):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def check_in_range(
    value: float, name: str, low: float, high: float, *, low_open: bool, high_open: bool
) -> float:
    """Check ``low (<|<=) value (<|<=) high`` and return ``value`` as float."""
    value = check_real_scalar(value, name)
    ok_low = value > low if low_open else value >= low
    ok_high = value < high if high_open else value <= high
    if not (ok_low and ok_high):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def log_sigmoid(xp: Any, x: Any) -> Any:
    """log sigmoid(x) = -log(1 + exp(-x)), stable for any finite x."""
    return -xp.logaddexp(xp.zeros_like(x), -x)


def sigmoid(xp: Any, x: Any) -> Any:
    """sigmoid(x) = 1 / (1 + exp(-x)), computed as exp(log sigmoid(x)): no overflow."""
    return xp.exp(log_sigmoid(xp, x))


def clip(xp: Any, x: Any, low: float, high: float) -> Any:
    """``clip(x, low, high)``; numpy's own ufunc for numpy arrays (the wrapper is ~10x slower)."""
    if isinstance(x, np.ndarray):
        return np.clip(x, low, high)
    return xp.clip(x, low, high)
