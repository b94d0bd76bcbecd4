"""The runtime's manifest: what was built, from what, and what a page loads.

``build/runtime/manifest.json`` sits next to ``build/runtime/site/``, which holds every file
at its site-relative path. The format is described in :mod:`tools.runtime`. :func:`load`
is what the MkDocs hook calls: it refuses a manifest built from other sources than the
working tree's (so a site never ships a library older than its prose) and one whose files
no longer have their hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import BuildError
from .wheels import sha256_file

FORMAT = 1
MANIFEST = "manifest.json"
SITE = "site"

#: What the runtime is built from, relative to the repository root (folders: every file in
#: them). The npm and PyPI pins, the library (the rlhf_mini wheel; its metadata carries
#: pyproject.toml and README.md), the widgets, and this build step itself.
INPUTS = (
    "package.json",
    "package-lock.json",
    "constraints.txt",
    "pyproject.toml",
    "README.md",
    "rlhf_mini",
    "docs/widgets/rlhf_widgets",
    "tools/runtime",
)


class StaleRuntime(BuildError):
    """The built runtime does not match the working tree: run ``make runtime``."""


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    bytes: int
    #: what a compressing static host sends (see :mod:`tools.runtime`)
    download_bytes: int


@dataclass(frozen=True)
class Page:
    """What a page with Python loads; every path is site-relative."""

    pyscript: str
    pyscript_css: str
    interpreter: str
    packages: list[str]  # loaded by name through pyodide-lock.json
    wheels: list[str]  # in load order
    chart_js: str
    preload: list[dict[str, str]]  # {"href", "rel"[, "as"]}
    download: list[str]  # the files a widget page fetches
    download_bytes: int
    #: package data left out of the rlhf_mini wheel, served apart (see wheels.DEFERRED):
    #: {"path": path in the package's site-packages, "href": site path, "sha256", "bytes"}
    deferred: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Manifest:
    inputs: str
    versions: dict
    files: dict[str, FileEntry]
    page: Page
    format: int = FORMAT
    #: the folder the manifest was read from or written to (not stored)
    out_dir: Path = field(default=Path("."), compare=False)

    def path(self, rel: str) -> Path:
        """Where the file served at ``rel`` lies in the build output."""
        return self.out_dir / SITE / rel

    def to_json(self) -> str:
        data = asdict(self)
        del data["out_dir"]
        return json.dumps(data, indent=1, sort_keys=True) + "\n"


def inputs_digest(root: Path) -> str:
    """sha256 over the path and bytes of every input file (bytecode caches left out)."""
    h = hashlib.sha256()
    for name in INPUTS:
        path = root / name
        paths = sorted(path.rglob("*")) if path.is_dir() else [path]
        for p in paths:
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
                h.update(p.relative_to(root).as_posix().encode() + b"\0")
                h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def write(manifest: Manifest) -> None:
    """Write ``manifest.json`` into ``manifest.out_dir`` (atomically: readers never see half)."""
    target = manifest.out_dir / MANIFEST
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(manifest.to_json())
    tmp.replace(target)


def read(out_dir: Path) -> Manifest:
    """The manifest in ``out_dir``, as written (nothing checked but its format)."""
    path = out_dir / MANIFEST
    if not path.is_file():
        raise StaleRuntime(f"runtime: {path} is missing; run `make runtime`")
    data = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        raise StaleRuntime(f"runtime: {path} has format {data.get('format')}, not {FORMAT}")
    return Manifest(
        inputs=data["inputs"],
        versions=data["versions"],
        files={rel: FileEntry(**entry) for rel, entry in data["files"].items()},
        page=Page(**data["page"]),
        out_dir=out_dir,
    )


def load(out_dir: Path, root: Path) -> Manifest:
    """The manifest in ``out_dir``, checked against the working tree ``root`` and its files.

    Raises :class:`StaleRuntime` when it is missing, when anything it is built from has
    changed since (``inputs``), or when a file is missing or differs from its sha256.
    """
    manifest = read(out_dir)
    if manifest.inputs != inputs_digest(root):
        raise StaleRuntime(
            f"runtime: {out_dir} was built from other sources than the working tree's "
            "(library, widgets, pins); run `make runtime`"
        )
    for rel, entry in manifest.files.items():
        path = manifest.path(rel)
        if (
            not path.is_file()
            or path.stat().st_size != entry.bytes
            or sha256_file(path) != entry.sha256
        ):
            raise StaleRuntime(f"runtime: {path} is missing or changed; run `make runtime`")
    return manifest
