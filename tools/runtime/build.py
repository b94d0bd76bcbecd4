"""Build the runtime into a folder: :func:`build` (what ``python -m tools.runtime`` runs)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from . import layout, pins, wheels
from .bytecode import compile_bytecode
from .manifest import (
    MANIFEST,
    SITE,
    FileEntry,
    Manifest,
    StaleRuntime,
    inputs_digest,
    load,
    write,
)

#: The widget package, zipped into the rlhf_widgets wheel.
WIDGETS_SRC = Path("docs/widgets/rlhf_widgets")


def build(
    root: Path,
    out: Path,
    cache: Path,
    *,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> Manifest:
    """Build the runtime of the working tree ``root`` into ``out`` (``manifest.json`` and
    ``site/``), with its caches in ``cache``; or, when ``out`` already holds that runtime
    intact and ``force`` is false, only say so (and touch the manifest, for make)."""
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(out / ".lock"):  # concurrent builds wait for each other
        if not force:
            with contextlib.suppress(StaleRuntime):
                manifest = load(out, root)
                os.utime(out / MANIFEST)
                log(f"runtime: {out} is up to date")
                return manifest
        start = time.perf_counter()
        inputs = inputs_digest(root)  # first: a source edited during the build shows next time
        npm = pins.npm_versions(root)
        pypi = pins.pypi_versions(root)
        node_modules = root / "node_modules"
        pyodide = node_modules / "pyodide"
        stdlib = pyodide / "python_stdlib.zip"
        numpy = wheels.numpy_wheel(pyodide, cache)
        pure = [wheels.pip_download(f"{n}=={v}", cache / "pip") for n, v in pypi.items()]
        library, deferred = wheels.split_deferred(
            wheels.build_rlhf_mini_wheel(root, cache / "rlhf_mini-wheel"),
            cache / "rlhf_mini-slim",
        )
        own = [library, wheels.build_widgets_wheel(root / WIDGETS_SRC, cache / "widgets-wheel")]
        # Sources are kept (next to their bytecode) only in the course's own wheels.
        compiled = compile_bytecode(
            {stdlib: "sourceless", numpy: "sourceless"}
            | dict.fromkeys(pure, "sourceless")
            | dict.fromkeys(own, "cached"),
            pyodide=pyodide,
            cache=cache / "bytecode",
        )
        lock = served_lock(pyodide, compiled[numpy])
        sources = layout.site_files(
            node_modules,
            npm,
            stdlib=compiled[stdlib],
            numpy=compiled[numpy],
            lock=lock,
            wheels=[compiled[w] for w in [*pure, *own]],
            deferred=deferred,
        )
        files = _describe(sources, cache / "download-bytes.json")
        _copy(sources, files, out / SITE)
        info = json.loads(lock.read_text())
        versions = {
            "npm": npm,
            "python": info["info"]["python"],
            "wheels": {
                "numpy": info["packages"]["numpy"]["version"],
                **pypi,
                "rlhf_mini": own[0].name.split("-")[1],
                wheels.WIDGETS[0]: wheels.WIDGETS[1],
            },
        }
        wheel_paths = [rel for rel in sources if rel.startswith(layout.WHEELS_DIR + "/")]
        manifest = Manifest(
            inputs=inputs,
            versions=versions,
            files=files,
            page=layout.page(
                files,
                npm,
                wheel_paths,
                {
                    path: layout.data_path(f.name, wheels.sha256_file(f))
                    for path, f in deferred.items()
                },
            ),
            out_dir=out,
        )
        write(manifest)
        log(
            f"runtime: built {out} in {time.perf_counter() - start:.1f} s: {len(files)} files, "
            f"{sum(f.bytes for f in files.values()) / 1e6:.1f} MB; a widget page downloads "
            f"{manifest.page.download_bytes / 1e6:.1f} MB"
        )
        return manifest


def served_lock(pyodide: Path, numpy: Path) -> Path:
    """npm pyodide's ``pyodide-lock.json`` with numpy's sha256 set to the wheel we serve.

    Pyodide checks every package it loads by name against the lock (subresource integrity),
    so the lock must name the bytecode-compiled wheel; :func:`wheels.numpy_wheel` has
    already checked the original against npm's lock. Written next to ``numpy``.
    """
    lock = json.loads((pyodide / "pyodide-lock.json").read_text())
    entry = lock["packages"]["numpy"]
    if entry["file_name"] != numpy.name:
        raise pins.BuildError(f"runtime: the lock names {entry['file_name']}, not {numpy.name}")
    entry["sha256"] = wheels.sha256_file(numpy)
    out = numpy.parent / "pyodide-lock.json"
    text = json.dumps(lock, separators=(",", ":"), sort_keys=True)
    if not out.is_file() or out.read_text() != text:
        out.write_text(text)
    return out


def _describe(sources: dict[str, Path], sizes_cache: Path) -> dict[str, FileEntry]:
    """sha256, size and download size of each file (gzip sizes cached by sha256)."""
    known = json.loads(sizes_cache.read_text()) if sizes_cache.is_file() else {}
    files = {}
    for rel, src in sources.items():
        digest = wheels.sha256_file(src)
        size = src.stat().st_size
        if rel.endswith(layout.COMPRESSED):
            sent = size
        else:
            if digest not in known:
                known[digest] = layout.download_bytes(rel, src.read_bytes())
            sent = known[digest]
        files[rel] = FileEntry(sha256=digest, bytes=size, download_bytes=sent)
    sizes_cache.parent.mkdir(parents=True, exist_ok=True)
    sizes_cache.write_text(json.dumps(known, sort_keys=True))
    return files


def _copy(sources: dict[str, Path], files: dict[str, FileEntry], site: Path) -> None:
    """Make ``site`` hold exactly ``sources`` at their paths (unchanged files are kept)."""
    for rel, src in sources.items():
        dest = site / rel
        entry = files[rel]
        if (
            dest.is_file()
            and dest.stat().st_size == entry.bytes
            and wheels.sha256_file(dest) == entry.sha256
        ):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(src, tmp)
        tmp.replace(dest)
    for path in sorted(site.rglob("*"), reverse=True):  # files before their folders
        rel = path.relative_to(site).as_posix()
        if path.is_file() and rel not in sources:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    with lock_file.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
