"""Compile the Python the browser imports to bytecode, with Pyodide's own CPython under Node.

Pyodide 0.27's npm package and numpy's wheel hold sources only, so without this step the
reader's browser compiles every module it imports on every page load (Pyodide's file system
lives in memory): on a 2-core machine the playground page became interactive after 8.4 s
without it and 4.8 s with it (``bench/browser.py``). The bytecode comes from Pyodide's own
interpreter, run by Node (which ``npm ci`` already needs), so its magic number is the
browser's. ``compile_bytecode.mjs`` does the work; see it for the two modes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from . import BuildError
from .wheels import sha256_file

#: Node script that compiles zipped Python sources to bytecode with Pyodide's own CPython.
SCRIPT = Path(__file__).with_name("compile_bytecode.mjs")


def compile_bytecode(jobs: dict[Path, str], *, pyodide: Path, cache: Path) -> dict[Path, Path]:
    """Each zip (stdlib or wheel) in ``jobs`` -> a copy with CPython bytecode, cached.

    ``jobs`` maps a zip to ``"sourceless"`` (``foo.py`` becomes ``foo.pyc``) or ``"cached"``
    (``foo.py`` kept, ``__pycache__/foo.cpython-312.pyc`` added). ``pyodide`` is the folder of
    the npm package ``pyodide`` (its interpreter compiles). Outputs are cached under
    ``cache`` by the input's and the script's sha256: Node runs only for new inputs, once
    for all of them.
    """
    script = sha256_file(SCRIPT)[:12]
    out: dict[Path, Path] = {}
    todo = []
    for src, mode in jobs.items():
        dst = cache / f"{sha256_file(src)[:16]}-{mode}-{script}" / src.name
        out[src] = dst
        if not dst.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            todo.append({"src": str(src), "dst": str(dst) + ".part", "mode": mode})
    if todo:
        node = shutil.which("node")
        if node is None:
            raise BuildError("runtime: Node.js is needed to compile the browser's bytecode")
        jobs_file = cache / "jobs.json"
        jobs_file.write_text(json.dumps(todo))
        done = subprocess.run(
            [node, str(SCRIPT), str(pyodide), str(jobs_file)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BuildError(f"runtime: compiling bytecode failed:\n{done.stdout}{done.stderr}")
        for job in todo:
            part = Path(job["dst"])
            part.rename(part.with_suffix(""))  # complete outputs only: a killed build leaves .part
    return out
