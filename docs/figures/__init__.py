"""The lessons' figures: the code that draws them, one module per lesson.

Every figure on the site is the output of code here calling ``rlhf_mini``, never a pasted
image. ``lesson_NN.py`` draws the figures of lesson NN (``docs/lessons/NN-*.md``);
``widget_fallbacks.py`` draws each widget's default run, shown in the widget's box as its
no-script fallback. A drawing function is marked with :func:`figure`::

    @figure("bradley-terry-curve", size=(6.4, 3.6))
    def _bradley_terry_curve(fig):
        ax = fig.subplots()
        ...

and receives a fresh ``matplotlib.figure.Figure`` of that size (inches). The MkDocs hook
``docs/hooks/figures.py`` imports every module of this folder, renders each marked function
to ``figures/NAME.svg`` (cached) and adds it to the site; a lesson shows it as
``![what it shows](../figures/NAME.svg)``. ``tests/test_docs.py`` checks that every figure
drawn is shown, every figure shown is drawn, and each lesson's figures live in its module.

These files are build-time code, not pages: ``mkdocs.yml`` excludes them from the site.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Colours: the course's indigo, plus a contrasting orange and grey; readable in both themes
# because every figure has its own white background.
INDIGO, ORANGE, GREY, GREEN = "#3f51b5", "#e65100", "#757575", "#2e7d32"

Draw = Callable[[Any], None]


def figure(name: str, size: tuple[float, float] = (6.4, 3.6)) -> Callable[[Draw], Draw]:
    """Mark a drawing function as the figure ``name`` (the SVG is ``figures/NAME.svg``)."""

    def mark(draw: Draw) -> Draw:
        draw.figure_name = name  # type: ignore[attr-defined]
        draw.figure_size = size  # type: ignore[attr-defined]
        return draw

    return mark
