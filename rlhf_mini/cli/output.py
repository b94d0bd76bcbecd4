"""Output of the command line: tables, JSON, progress bars and figures."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "figure",
    "fmt",
    "history_table",
    "jsonable",
    "progress",
    "require_matplotlib",
    "short",
    "table",
]


def fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v == 0 or 1e-3 <= abs(v) < 1e5:
            return f"{v:.4f}"
        return f"{v:.3e}"
    return str(value)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> str:
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    out = [title] if title else []
    out += [line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    return "\n".join(out)


def short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _every(history: dict[str, list[float]], n_rows: int = 10) -> list[int]:
    """Indices of about ``n_rows`` evenly spaced history entries, always the first and last."""
    n = len(next(iter(history.values())))
    return sorted({round(i) for i in np.linspace(0, n - 1, min(n, n_rows))})


def history_table(history: dict[str, list[float]], index: str, title: str) -> str:
    """About ten evenly spaced rows of a training history, the ``index`` column first."""
    keys = [k for k in history if k != index]
    rows = [[history[index][i], *(history[k][i] for k in keys)] for i in _every(history)]
    return table([index, *keys], rows, title)


def jsonable(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (tuple, set)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress(total: int, desc: str) -> Any:
    """A tqdm bar on stderr (shown only on a terminal), or a silent stand-in without tqdm."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=None, leave=False)


def figure(n_axes: int) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0 * n_axes, 3.8), layout="constrained")
    axes = fig.subplots(1, n_axes, squeeze=False)[0]
    return fig, axes


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("--plot needs matplotlib: pip install 'rlhf-mini[plot]'") from None
