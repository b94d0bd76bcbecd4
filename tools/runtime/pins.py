"""The versions the runtime is built from, read where they are pinned (never repeated here).

- npm: ``package.json`` pins each front-end package to an exact version; ``package-lock.json``
  must agree with it, and ``node_modules`` must hold that version (``npm ci`` installs it).
- PyPI: the pure wheels shipped to the browser (array-api-compat) at the version
  ``constraints.txt`` pins, so the browser runs the release the test suite runs in CPython.
- numpy: the version npm pyodide's ``pyodide-lock.json`` lists (the wheel built for that
  interpreter), read in :mod:`.wheels`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from . import BuildError

#: The npm packages whose files the site serves (axe-core, also in package.json, is only
#: used by the tests).
SITE_NPM_PACKAGES = ("@pyscript/core", "pyodide", "katex", "chart.js")
#: Pure wheels from PyPI that the browser imports next to rlhf_mini (its dependencies).
BROWSER_WHEELS = ("array-api-compat",)

_EXACT = re.compile(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?")


def npm_versions(root: Path, names: tuple[str, ...] = SITE_NPM_PACKAGES) -> dict[str, str]:
    """``{name: version}`` for ``names``, as ``package.json`` pins them.

    Raises :class:`BuildError` when a package is not pinned to one exact version, when
    ``package-lock.json`` locks another version (run ``npm install``), or when ``node_modules``
    holds another one or none (run ``npm ci``).
    """
    package = json.loads((root / "package.json").read_text())
    lock = json.loads((root / "package-lock.json").read_text())
    dependencies = package.get("dependencies", {})
    out = {}
    for name in names:
        pin = dependencies.get(name)
        if pin is None:
            raise BuildError(f"runtime: package.json does not list {name}")
        if not _EXACT.fullmatch(pin):
            raise BuildError(
                f"runtime: package.json must pin {name} to one exact version, not {pin!r} "
                "(npm install --save-exact)"
            )
        locked = lock.get("packages", {}).get(f"node_modules/{name}", {}).get("version")
        if locked != pin:
            raise BuildError(
                f"runtime: package-lock.json locks {name}@{locked}, package.json pins {pin}; "
                "run `npm install` and commit both"
            )
        installed = root / "node_modules" / name / "package.json"
        if not installed.is_file():
            raise BuildError(f"runtime: {installed} is missing; run `npm ci` (make npm)")
        found = json.loads(installed.read_text())["version"]
        if found != pin:
            raise BuildError(
                f"runtime: node_modules has {name}@{found}, package.json pins {pin}; "
                "run `npm ci` (make npm)"
            )
        out[name] = pin
    return out


def pypi_versions(root: Path, names: tuple[str, ...] = BROWSER_WHEELS) -> dict[str, str]:
    """``{name: version}`` for ``names``, as ``constraints.txt`` pins them (``name==version``)."""
    pinned = {}
    for line in (root / "constraints.txt").read_text().splitlines():
        m = re.fullmatch(r"\s*([A-Za-z0-9._-]+)\s*==\s*([^\s;#]+)\s*(?:#.*)?", line)
        if m:
            pinned[_normalise(m.group(1))] = m.group(2)
    missing = [name for name in names if _normalise(name) not in pinned]
    if missing:
        raise BuildError(f"runtime: constraints.txt pins no version of {', '.join(missing)}")
    return {name: pinned[_normalise(name)] for name in names}


def _normalise(name: str) -> str:
    """PEP 503 name: ``Array_API.compat`` and ``array-api-compat`` are the same project."""
    return re.sub(r"[-_.]+", "-", name).lower()
