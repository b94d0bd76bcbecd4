"""Chart.js charts from Python: create one, then replace its data sets.

Chart.js (npm ``chart.js``, pinned in package.json) is served by the site (``make runtime``
puts it there) and loaded with a plain ``<script>`` on every page with a widget,
so it is the global ``Chart``. This module only builds the configuration; every number a
chart shows comes from ``rlhf_mini`` through the widget that calls :meth:`Chart.show`.

Series are told apart by colour *and* dash pattern / point style (never by colour alone),
and the axes take Material's text colour, so light and dark schemes both read well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import js

from rlhf_widgets._dom import h, js_object

#: Colour-blind-safe palette (Okabe & Ito), with a dash pattern per series.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
DASHES = ((), (6, 3), (2, 2), (8, 3, 2, 3), (1, 3), (10, 4))
POINTS = ("circle", "triangle", "rect", "rectRot", "star", "crossRot")


@dataclass
class Series:
    """One data set: ``points`` are (x, y) pairs; ``axis`` is "y" or "y2" (right axis)."""

    label: str
    points: Sequence[tuple[float, float]]
    style: int = 0  # index into COLOURS / DASHES / POINTS
    axis: str = "y"
    line: bool | None = None  # draw a line through the points (None: unless a scatter chart)
    markers: bool | None = None  # mark each point (None: only on a scatter chart)


def _default(value: bool | None, default: bool) -> bool:
    return default if value is None else value


def _theme_colour(name: str, fallback: str) -> str:
    value = str(js.getComputedStyle(js.document.body).getPropertyValue(name)).strip()
    return value or fallback


_CHARTS: list[Chart] = []
_OBSERVER: list[Any] = []  # the one MutationObserver of the page (and its proxy)


def _follow_colour_scheme() -> None:
    """Re-colour every chart when Material switches palette (``data-md-color-scheme``)."""
    if _OBSERVER:
        return
    from pyodide.ffi import create_proxy

    def recolour(records: Any, observer: Any) -> None:
        for chart in _CHARTS:
            chart.apply_theme()

    proxy = create_proxy(recolour)
    observer = js.MutationObserver.new(proxy)
    observer.observe(
        js.document.body,
        js_object({"attributes": True, "attributeFilter": ["data-md-color-scheme"]}),
    )
    _OBSERVER.extend([proxy, observer])


def destroy_all() -> None:
    """Destroy every chart (their page is gone: see ``_dom.unmount_page``)."""
    for chart in _CHARTS:
        chart.chart.destroy()
    _CHARTS.clear()


class Chart:
    """A Chart.js line or scatter chart in a fixed-height box, with labelled axes.

    ``Chart(title, x_label, y_label, y2_label=None, kind="line")``; ``chart.element`` goes
    into the widget; ``chart.show([Series(...), ...])`` replaces what it plots.
    """

    def __init__(
        self,
        title: str,
        x_label: str,
        y_label: str,
        *,
        y2_label: str | None = None,
        kind: str = "line",
        name: str = "",
        height: int = 220,
    ):
        if getattr(js, "Chart", None) is None:
            raise RuntimeError("the chart library (Chart.js) did not load")
        self.kind = kind
        self.canvas = h("canvas", role="img", aria_label=title, data_chart=name or title)
        self.element = h(
            "div",
            self.canvas,
            class_="rlhf-chart",
            style=f"position: relative; height: {height}px; min-width: 0;",
        )
        text = _theme_colour("--md-default-fg-color--light", "#666")
        grid = _theme_colour("--md-default-fg-color--lightest", "rgba(0,0,0,0.1)")

        def axis(label: str, position: str) -> dict[str, Any]:
            return {
                "type": "linear",
                "position": position,
                "title": {"display": True, "text": label, "color": text},
                "ticks": {"color": text},
                "grid": {"color": grid, "drawOnChartArea": position != "right"},
            }

        scales = {"x": axis(x_label, "bottom"), "y": axis(y_label, "left")}
        if y2_label is not None:
            scales["y2"] = axis(y2_label, "right")
        config = {
            "type": kind,
            "data": {"datasets": []},
            "options": {
                "responsive": True,
                "maintainAspectRatio": False,
                "animation": {"duration": 250},
                "parsing": True,
                "interaction": {"mode": "nearest", "intersect": False},
                "plugins": {
                    "title": {"display": True, "text": title, "color": text},
                    "legend": {"labels": {"color": text, "usePointStyle": True}},
                },
                "scales": scales,
            },
        }
        self.chart = js.Chart.new(self.canvas, js_object(config))
        self.axes = list(scales)
        _CHARTS.append(self)
        _follow_colour_scheme()

    def apply_theme(self) -> None:
        """Take Material's current text and grid colours (after a light/dark switch)."""
        text = _theme_colour("--md-default-fg-color--light", "#666")
        grid = _theme_colour("--md-default-fg-color--lightest", "rgba(0,0,0,0.1)")
        options = self.chart.options
        options.plugins.title.color = text
        options.plugins.legend.labels.color = text
        for name in self.axes:
            scale = getattr(options.scales, name)
            scale.title.color = text
            scale.ticks.color = text
            scale.grid.color = grid
        self.chart.update("none")

    def x_range(self, low: float, high: float) -> None:
        """Fix the x axis to [low, high] (a live chart then grows without rescaling)."""
        self.chart.options.scales.x.min = low
        self.chart.options.scales.x.max = high

    def show(self, series: Sequence[Series], *, animate: bool = True) -> None:
        """Plot exactly ``series`` (replacing what was there) and redraw; ``animate=False``
        redraws at once (for frame-by-frame updates)."""
        datasets = []
        for s in series:
            colour = COLOURS[s.style % len(COLOURS)]
            datasets.append(
                {
                    "label": s.label,
                    "data": [{"x": float(x), "y": float(y)} for x, y in s.points],
                    "borderColor": colour,
                    "backgroundColor": colour,
                    "borderDash": list(DASHES[s.style % len(DASHES)]),
                    "pointStyle": POINTS[s.style % len(POINTS)],
                    "pointRadius": 5 if _default(s.markers, self.kind == "scatter") else 0,
                    "borderWidth": 2,
                    "showLine": _default(s.line, self.kind != "scatter"),
                    "yAxisID": s.axis,
                }
            )
        self.chart.data.datasets = js_object(datasets)
        if animate:
            self.chart.update()
        else:
            self.chart.update("none")
