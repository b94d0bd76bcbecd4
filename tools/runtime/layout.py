"""Where each file of the runtime lies in the site, and what a page with Python loads.

Folders carry the version of what they hold (``pyodide-0.27.7``) and wheels lie under the
first 16 hex digits of their sha256, so every URL changes when its content does and a
browser may cache them for good.
"""

from __future__ import annotations

import base64
import gzip
import re
from pathlib import Path

from .manifest import FileEntry, Page
from .wheels import sha256_file

#: Pyodide core files the browser needs (the npm package also has console.html, which loads
#: jQuery from a CDN, typings and source maps).
PYODIDE_CORE = (
    "pyodide.mjs",
    "pyodide.asm.js",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
)
#: Pyodide packages loaded by name (through pyodide-lock.json next to the interpreter).
PYODIDE_PACKAGES = ("numpy",)
WHEELS_DIR = "assets/runtime/wheels"
KATEX_DIR = "assets/vendor/katex"
CHART_JS = "assets/vendor/chart.js/chart.umd.min.js"
#: Formats a static host sends as they are (already compressed).
COMPRESSED = (".zip", ".whl", ".woff", ".woff2")


def pyodide_dir(version: str) -> str:
    return f"assets/runtime/pyodide-{version}"


def pyscript_dir(version: str) -> str:
    return f"assets/runtime/pyscript-{version}"


#: Package data served apart from the rlhf_mini wheel (weights), under content hashes.
DATA_DIR = "assets/runtime/data"


def data_path(name: str, sha256: str) -> str:
    """Site path of a deferred package file: under its content hash, like a wheel."""
    return f"{DATA_DIR}/{sha256[:16]}/{name}"


def wheel_path(name: str, sha256: str) -> str:
    """Site path of a wheel: under its content hash, so a changed wheel gets a new URL."""
    return f"{WHEELS_DIR}/{sha256[:16]}/{name}"


def download_bytes(rel: str, data: bytes) -> int:
    """What a host that compresses text and WebAssembly (GitHub Pages does) sends for a file:
    its gzip size (level 6) for text and ``.wasm``, its size for zips, wheels and fonts."""
    return len(data) if rel.endswith(COMPRESSED) else len(gzip.compress(data, 6))


def _sri(sha256_hex: str) -> str:
    """A Subresource Integrity value, as Pyodide builds it from a lock's sha256."""
    return "sha256-" + base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def page(
    files: dict[str, FileEntry],
    npm: dict[str, str],
    wheels: list[str],
    deferred: dict[str, str] | None = None,
) -> Page:
    """What a page with a widget or runnable code loads, from the laid-out ``files``;
    ``deferred`` maps a package path left out of the wheel to its site path."""
    pyodide, pyscript = pyodide_dir(npm["pyodide"]), pyscript_dir(npm["@pyscript/core"])
    preload = [
        {"href": f"{pyscript}/core.js", "rel": "modulepreload"},
        {"href": f"{pyodide}/pyodide.mjs", "rel": "modulepreload"},
        {"href": f"{pyodide}/pyodide.asm.js", "rel": "modulepreload"},
        *(
            {"href": f"{pyodide}/{name}", "rel": "preload", "as": "fetch"}
            for name in ("pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
        ),
        # The wheels too. Pyodide fetches numpy's with an SRI hash (the lock's sha256): its
        # preload carries the same integrity, or the browser would not reuse it (fetched at
        # once instead of after the interpreter has started: Python starts ~0.1 s sooner, cold).
        *({"href": w, "rel": "preload", "as": "fetch"} for w in wheels),
        *(
            {"href": rel, "rel": "preload", "as": "fetch", "integrity": _sri(files[rel].sha256)}
            for rel in sorted(files)
            if rel.startswith(f"{pyodide}/numpy-") and rel.endswith(".whl")
        ),
    ]
    # A widget page's first visit fetches the interpreter, the stdlib, numpy, the wheels,
    # PyScript's core and Chart.js (PyScript's other chunks are plugins the page turns off).
    download = [
        *(f"{pyodide}/{name}" for name in PYODIDE_CORE),
        *(rel for rel in files if rel.endswith(".whl")),
        *(rel for rel in files if re.fullmatch(rf"{pyscript}/core[^/]*\.(js|css)", rel)),
        CHART_JS,
    ]
    return Page(
        pyscript=f"{pyscript}/core.js",
        pyscript_css=f"{pyscript}/core.css",
        interpreter=f"{pyodide}/pyodide.mjs",
        packages=list(PYODIDE_PACKAGES),
        wheels=wheels,
        chart_js=CHART_JS,
        preload=preload,
        download=download,
        download_bytes=sum(files[rel].download_bytes for rel in download),
        deferred=[
            {"path": path, "href": rel, "sha256": files[rel].sha256, "bytes": files[rel].bytes}
            for path, rel in sorted((deferred or {}).items())
        ],
    )


def site_files(
    node_modules: Path,
    npm: dict[str, str],
    stdlib: Path,
    numpy: Path,
    lock: Path,
    wheels: list[Path],
    deferred: dict[str, Path] | None = None,
) -> dict[str, Path]:
    """Site-relative path -> the file to serve there (the compiled stdlib, numpy and wheels,
    the served lock, the package data served apart, and the npm files as they are)."""
    pyodide, pyscript = pyodide_dir(npm["pyodide"]), pyscript_dir(npm["@pyscript/core"])
    files: dict[str, Path] = {}
    for name in PYODIDE_CORE:
        files[f"{pyodide}/{name}"] = node_modules / "pyodide" / name
    files[f"{pyodide}/python_stdlib.zip"] = stdlib
    files[f"{pyodide}/{numpy.name}"] = numpy
    files[f"{pyodide}/pyodide-lock.json"] = lock
    dist = node_modules / "@pyscript" / "core" / "dist"
    for path in sorted(dist.iterdir()):
        if path.is_file() and not path.name.endswith(".map"):
            files[f"{pyscript}/{path.name}"] = path
    katex = node_modules / "katex" / "dist"
    # Only the stylesheet and fonts: formulas are typeset at build time (docs/hooks/katex.py).
    files[f"{KATEX_DIR}/katex.min.css"] = katex / "katex.min.css"
    for font in sorted((katex / "fonts").iterdir()):
        files[f"{KATEX_DIR}/fonts/{font.name}"] = font
    files[CHART_JS] = node_modules / "chart.js" / "dist" / "chart.umd.min.js"
    for wheel in wheels:
        files[wheel_path(wheel.name, sha256_file(wheel))] = wheel
    for path in (deferred or {}).values():
        files[data_path(path.name, sha256_file(path))] = path
    return files
