"""MkDocs hook: draw the lessons' figures at build time by running ``rlhf_mini``.

The drawing code lives next to the lessons it serves, in ``docs/figures/`` (one module per
lesson, plus ``widget_fallbacks.py``; see its ``__init__.py``). This hook only finds and
renders it: in ``on_files`` each figure is rendered to SVG and added to the site as a
generated file ``figures/NAME.svg``; lessons link it as ``../figures/NAME.svg``, so
``mkdocs build --strict`` checks the links like any other.

Rendering takes a few seconds; the SVGs are cached under ``build/figures/<hash>/`` where the
hash covers this file, the drawing code, the library's sources and data and the widgets'
sources, so a rebuild after an unrelated edit is instant and any change to the code that
draws a figure redraws it.

``figures()`` maps each name to its drawing function, ``render(name)`` returns one SVG and
``render_all(out_dir)`` renders every figure into a directory (used by the tests).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import io
import logging
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.figures")

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "figures"
#: The drawing code, imported as the package ``PACKAGE`` (a name no installed package uses).
FIGURES_DIR = ROOT / "docs" / "figures"
PACKAGE = "rlhf_course_figures"
# `mkdocs serve` loads the hooks again for each rebuild: import the drawing code afresh too.
for _name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
    del sys.modules[_name]


def _modules() -> list[Any]:
    """Every module of ``docs/figures/`` (not ``_private`` ones), imported, in name order."""
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, FIGURES_DIR / "__init__.py", submodule_search_locations=[str(FIGURES_DIR)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
    return [
        importlib.import_module(f"{PACKAGE}.{path.stem}")
        for path in sorted(FIGURES_DIR.glob("*.py"))
        if not path.name.startswith("_")
    ]


def figures() -> dict[str, Callable[[Any], None]]:
    """Figure name -> the function that draws it (marked with ``@figure`` in its module)."""
    found: dict[str, Callable[[Any], None]] = {}
    for module in _modules():
        for draw in vars(module).values():
            name = getattr(draw, "figure_name", None)
            if name is None or not callable(draw):
                continue
            if name in found:
                raise ValueError(f"figures: {name!r} is drawn twice ({module.__name__})")
            found[name] = draw
    return found


def _sources_hash() -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    # the drawing code, the library, the widgets
    for src in (FIGURES_DIR, ROOT / "rlhf_mini", ROOT / "docs" / "widgets"):
        for path in sorted(
            p for p in src.rglob("*") if p.is_file() and p.suffix in (".py", ".json")
        ):
            h.update(str(path.relative_to(ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def render(name: str) -> bytes:
    """Run the drawing code of figure ``name`` and return the SVG bytes (deterministic)."""
    import matplotlib
    from matplotlib.figure import Figure

    draw = figures()[name]
    with matplotlib.rc_context(
        {
            "svg.hashsalt": name,  # stable element ids: same code, same bytes
            "svg.fonttype": "none",  # text stays text: small, selectable, searchable
            "font.size": 10,
            "figure.facecolor": "white",
            "axes.facecolor": "white",
        }
    ):
        fig = Figure(figsize=draw.figure_size, layout="constrained")
        draw(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "rlhf_mini docs"})
    return buf.getvalue()


def render_all(out_dir: Path | None = None) -> dict[str, Path]:
    """Render every figure (or reuse the cache); return name -> path of its SVG."""
    if out_dir is None:
        out = CACHE / _sources_hash()
        if CACHE.is_dir():  # drop the figures of older versions of the code
            for stale in CACHE.iterdir():
                if stale.is_dir() and stale != out:
                    shutil.rmtree(stale, ignore_errors=True)
    else:
        out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in figures():
        path = out / f"{name}.svg"
        if not path.exists():
            log.info("figures: drawing %s", name)
            tmp = path.with_suffix(f".svg.{os.getpid()}.tmp")  # concurrent builds
            tmp.write_bytes(render(name))
            tmp.replace(path)
        paths[name] = path
    return paths


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for name, path in render_all().items():
        files.append(File.generated(config, f"figures/{name}.svg", abs_src_path=str(path)))
    return files
