"""Checks of scalar arguments: the one place that turns a bad setting into a clear error.

Every check names the argument and says what was expected. A value of the wrong *type*
(``"0.2"`` for a float, ``True`` or ``2.0`` for an int) raises ``TypeError``; a value of the
right type out of range raises ``ValueError``. Each returns the value normalised (a Python
``int`` or ``float``), so a config can store what it checked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_array_api_obj

__all__ = [
    "check_choice",
    "check_in_range",
    "check_int",
    "check_non_negative",
    "check_positive",
    "check_real_scalar",
]


def check_real_scalar(value: Any, name: str) -> float:
    """``value`` as a finite Python float; 0-d real arrays (numpy or torch, e.g. a mean) count."""
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


def check_positive(value: Any, name: str) -> float:
    """A finite float > 0."""
    value = check_real_scalar(value, name)
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def check_non_negative(value: Any, name: str) -> float:
    """A finite float >= 0."""
    value = check_real_scalar(value, name)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def check_in_range(
    value: Any, name: str, low: float, high: float, *, low_open: bool, high_open: bool
) -> float:
    """Check ``low (<|<=) value (<|<=) high`` and return ``value`` as float."""
    value = check_real_scalar(value, name)
    ok_low = value > low if low_open else value >= low
    ok_high = value < high if high_open else value <= high
    if not (ok_low and ok_high):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """An int >= ``minimum`` (default: a positive int); bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """One of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value
