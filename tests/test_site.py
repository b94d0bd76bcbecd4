"""The built course site: strict build, self-hosted runtime, nothing loaded from outside,
accessibility (axe-core in headless Chromium on every page).

The site is built once per session (``tests/browser/sitebuild.py``); the browser tests in
``tests/browser/`` use the same build.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import importlib.util
import json
import re
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tools.runtime import BuildError, layout, pins, wheels
from tools.runtime import bytecode as runtime_bytecode
from tools.runtime import manifest as runtime_manifest
from tools.runtime.build import build as build_runtime

sys.path.insert(0, str(Path(__file__).parent / "browser"))
from sitebuild import AXE, ROOT, Server, build_site, pages

sys.path.pop(0)


def _load_hook(name: str):
    """``docs/hooks/<name>.py`` as a module (the hooks are files, not a package)."""
    spec = importlib.util.spec_from_file_location(
        f"rlhf_{name}_hook", ROOT / f"docs/hooks/{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


#: Where the runtime build step (``python -m tools.runtime``) puts what the site serves.
RUNTIME_OUT = ROOT / "build" / "runtime"
PYODIDE_NPM = ROOT / "node_modules" / "pyodide"


@pytest.fixture(scope="session")
def build(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("rlhf-site"))


@pytest.fixture(scope="session")
def site(build) -> Path:
    if build.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{build.log[-4000:]}")
    return build.site


@pytest.fixture(scope="session")
def manifest(site) -> runtime_manifest.Manifest:
    """The manifest of the runtime the site was built with."""
    return runtime_manifest.read(RUNTIME_OUT)


def _pyodide_dir(manifest) -> str:
    return layout.pyodide_dir(manifest.versions["npm"]["pyodide"])


def test_mkdocs_build_strict_passes(build):
    assert build.returncode == 0, build.log[-4000:]
    assert "WARNING" not in build.log
    assert (build.site / "index.html").is_file()


# --- nothing is loaded from outside the site -------------------------------------------------

EXTERNAL = r"(?:[a-z][a-z0-9+.-]*:)?//"  # http://, https://, //cdn..., any scheme
LOADING_ATTRS = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "input": ("src",),
    "image": ("href", "xlink:href"),
    "use": ("href", "xlink:href"),
    "feimage": ("href", "xlink:href"),
}
#: <link rel=...> values that make the browser fetch (alternate/canonical do not).
LOADING_RELS = {
    "stylesheet",
    "icon",
    "shortcut",
    "apple-touch-icon",
    "manifest",
    "preload",
    "modulepreload",
    "prefetch",
    "preconnect",
    "dns-prefetch",
    "prerender",
    "mask-icon",
}
CSS_LOADS = [
    re.compile(r"url\(\s*['\"]?" + EXTERNAL, re.I),
    re.compile(r"@import\s+(?:url\()?\s*['\"]?" + EXTERNAL, re.I),
]
JS_LOADS = [
    re.compile(r"\bimport\s*\(\s*['\"`]" + EXTERNAL, re.I),  # import("https://...")
    re.compile(r"\bfrom\s*['\"`]" + EXTERNAL, re.I),  # import x from "https://..."
    re.compile(r"\bimport\s*['\"`]" + EXTERNAL, re.I),  # import "https://..."
    re.compile(r"\bimportScripts\s*\(\s*['\"`]" + EXTERNAL, re.I),
    re.compile(r"\bnew\s+(?:Shared)?Worker\s*\(\s*['\"`]" + EXTERNAL, re.I),
    re.compile(r"\.src\s*=\s*['\"`]" + EXTERNAL, re.I),  # script.src = "https://..."
]


class _Loads(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {k.lower(): v or "" for k, v in attrs}
        tag = tag.lower()
        urls = [attrs.get(a, "") for a in LOADING_ATTRS.get(tag, ())]
        if tag == "link" and LOADING_RELS & set(attrs.get("rel", "").lower().split()):
            urls.append(attrs.get("href", ""))
        for url in urls:
            for part in url.split(","):
                if re.match(r"\s*" + EXTERNAL, part, re.I):
                    self.found.append(f"<{tag}> {part.strip()}")
        style = attrs.get("style", "")
        self.found += [f"style= {m.group(0)}" for p in CSS_LOADS for m in p.finditer(style)]
        self._in = tag if tag in ("script", "style") else None
        self._script_type = attrs.get("type", "")

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "style":
            self.found += css_loads(data)
        elif self._in == "script" and self._script_type in ("", "module", "text/javascript"):
            self.found += js_loads(data)


def css_loads(text: str) -> list[str]:
    return [f"css {m.group(0)}" for p in CSS_LOADS for m in p.finditer(text)]


def js_loads(text: str) -> list[str]:
    return [f"js {m.group(0)}" for p in JS_LOADS for m in p.finditer(text)]


def html_loads(text: str) -> list[str]:
    parser = _Loads()
    parser.feed(text)
    return parser.found


def external_loads(site: Path) -> dict[str, list[str]]:
    found = {}
    for path in sorted(site.rglob("*")):
        if not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm", ".svg"):
            hits = html_loads(path.read_text(encoding="utf-8", errors="replace"))
            if suffix == ".svg":
                hits += css_loads(path.read_text(encoding="utf-8", errors="replace"))
        elif suffix == ".css":
            hits = css_loads(path.read_text(encoding="utf-8", errors="replace"))
        elif suffix in (".js", ".mjs"):
            hits = js_loads(path.read_text(encoding="utf-8", errors="replace"))
        else:
            continue
        if hits:
            found[path.relative_to(site).as_posix()] = hits
    return found


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("html", '<script src="https://cdn.jsdelivr.net/x.js"></script>'),
        ("html", '<link rel="stylesheet" href="//fonts.googleapis.com/css?family=Roboto">'),
        ("html", '<img alt="" srcset="a.png 1x, https://example.org/b.png 2x">'),
        ("html", '<script>import("https://esm.sh/x")</script>'),
        ("html", '<div style="background: url(https://example.org/bg.png)"></div>'),
        ("css", "@font-face { src: url('https://fonts.gstatic.com/s/roboto.woff2') }"),
        ("css", '@import url("https://example.org/x.css");'),
        ("js", 'import { x } from "https://cdn.example.org/mod.js";'),
        ("js", 'importScripts("https://cdn.example.org/worker.js")'),
    ],
)
def test_scanner_catches_external_loads(kind, text):
    scan = {"html": html_loads, "css": css_loads, "js": js_loads}[kind]
    assert scan(text), f"missed: {text}"


def test_scanner_ignores_links_and_local_loads():
    text = (
        '<a href="https://arxiv.org/abs/2203.02155">paper</a>'
        '<link rel="canonical" href="https://example.org/">'
        '<script src="../assets/boot.js"></script><img src="/figures/x.svg" alt="">'
    )
    assert html_loads(text) == []


def test_built_site_loads_nothing_from_outside(site):
    assert external_loads(site) == {}


#: What in a page makes Material's own script fetch from another host (its bundle holds
#: these URLs): an element of class ``mermaid`` (it would fetch mermaid from unpkg.com to draw
#: it; docs/hooks/diagrams.py draws the diagrams at build time and leaves none) and the
#: repository widget (``repo_url`` in mkdocs.yml: it would ask the GitHub API for stars).
MATERIAL_FETCH_TRIGGERS = {
    "https://unpkg.com/mermaid@": re.compile(r'<[a-z]+\b[^>]*\bclass="(?:[^"]*\s)?mermaid[\s"]'),
    "https://api.github.com/repos/": re.compile(r'data-md-component="source"'),
}


def test_no_page_makes_materials_script_fetch_from_outside(site):
    bundle = next((site / "assets" / "javascripts").glob("bundle.*.min.js")).read_text()
    for url in MATERIAL_FETCH_TRIGGERS:  # this table describes the Material the site uses
        assert url in bundle, f"Material no longer fetches {url}: review MATERIAL_FETCH_TRIGGERS"
    found = {}
    for url in pages(site):
        text = (site / (url + "index.html" if url.endswith("/") or not url else url)).read_text()
        hits = [cdn for cdn, trigger in MATERIAL_FETCH_TRIGGERS.items() if trigger.search(text)]
        if hits:
            found[url or "index"] = hits
    assert found == {}
    assert MATERIAL_FETCH_TRIGGERS["https://unpkg.com/mermaid@"].search(
        '<pre class="mermaid"><code>flowchart TB</code></pre>'
    )  # the trigger finds what the fence leaves when no hook draws it


# --- the self-hosted runtime -------------------------------------------------------------------


def test_runtime_files_are_in_the_site(site, manifest):
    pyodide = site / _pyodide_dir(manifest)
    for name in layout.PYODIDE_CORE:
        assert (pyodide / name).is_file(), name
    assert not (pyodide / "console.html").exists()  # loads jQuery from a CDN
    pyscript = layout.pyscript_dir(manifest.versions["npm"]["@pyscript/core"])
    assert (site / pyscript / "core.js").is_file()
    lock = json.loads((pyodide / "pyodide-lock.json").read_text())
    assert lock["info"]["version"] == "0.27.7"
    entry = lock["packages"]["numpy"]
    assert entry["version"] == "2.0.2"
    numpy = pyodide / entry["file_name"]
    assert hashlib.sha256(numpy.read_bytes()).hexdigest() == entry["sha256"]
    # Its preload carries the integrity Pyodide's fetch will ask for (the lock's sha256), or
    # the browser would download it a second time instead of using the preload.
    sri = "sha256-" + base64.b64encode(bytes.fromhex(entry["sha256"])).decode()
    page = (site / "lessons" / "07-playground" / "index.html").read_text()
    (tag,) = re.findall(r'<link rel="preload" href="[^"]*/numpy-[^"]*"[^>]*>', page)
    assert f'href="../../{_pyodide_dir(manifest)}/{entry["file_name"]}"' in tag
    assert f'integrity="{sri}"' in tag and 'as="fetch" crossorigin' in tag


def test_numpy_wheel_with_a_wrong_hash_is_refused():
    entry = {"file_name": "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl", "sha256": "0" * 64}
    with pytest.raises(BuildError, match="refusing it"):
        wheels.check_sha256(b"not numpy", entry)
    good = {"file_name": "x.whl", "sha256": hashlib.sha256(b"ok").hexdigest()}
    wheels.check_sha256(b"ok", good)


def _wheel_urls(site: Path) -> list[str]:
    html = site / "lessons" / "07-playground" / "index.html"
    if not html.is_file():
        html = next(p for p in site.rglob("index.html") if 'id="rlhf-runtime"' in p.read_text())
    spec = re.search(r'id="rlhf-runtime">(.*?)</script>', html.read_text()).group(1)
    return json.loads(spec)["wheels"]


def test_wheels_have_content_addressed_urls_and_match_the_working_tree(site):
    urls = _wheel_urls(site)
    names = [u.rsplit("/", 1)[1] for u in urls]
    assert any(n.startswith("rlhf_mini-") for n in names)
    assert any(n.startswith("array_api_compat-") for n in names)
    assert any(n.startswith("rlhf_widgets-") for n in names)
    for url in urls:
        rel = url.split("assets/runtime/wheels/", 1)[1]
        digest, name = rel.split("/")
        path = site / layout.WHEELS_DIR / digest / name
        assert hashlib.sha256(path.read_bytes()).hexdigest()[:16] == digest
        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None
            if name.startswith("rlhf_mini-"):  # what the browser imports is this tree
                for src in (ROOT / "rlhf_mini").glob("*.py"):
                    assert zf.read(f"rlhf_mini/{src.name}") == src.read_bytes(), src.name
            if name.startswith("rlhf_widgets-"):
                for src in (ROOT / "docs/widgets/rlhf_widgets").glob("*.py"):
                    assert zf.read(f"rlhf_widgets/{src.name}") == src.read_bytes(), src.name


def test_widgets_wheel_is_reproducible(tmp_path):
    src = ROOT / "docs" / "widgets" / "rlhf_widgets"
    a = wheels.build_widgets_wheel(src, tmp_path / "a").read_bytes()
    b = wheels.build_widgets_wheel(src, tmp_path / "b").read_bytes()
    assert a == b  # same content -> same hash -> same URL; browsers may cache it forever


# --- the runtime's manifest and pins -------------------------------------------------------


def test_manifest_describes_every_runtime_file_the_site_serves(site, manifest):
    served = {
        p.relative_to(site).as_posix()
        for folder in ("assets/runtime", "assets/vendor")
        for p in (site / folder).rglob("*")
        if p.is_file()
    }
    assert served == set(manifest.files)  # nothing unlisted, nothing missing
    for rel, entry in manifest.files.items():
        data = (site / rel).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry.bytes, entry.sha256), rel
        compressed = rel.endswith((".zip", ".whl", ".woff", ".woff2"))
        sent = len(data) if compressed else len(gzip.compress(data, 6))
        assert entry.download_bytes == sent, rel
    page = manifest.page
    assert page.download_bytes == sum(manifest.files[rel].download_bytes for rel in page.download)
    assert set(page.wheels) <= set(page.download) and page.chart_js in page.download
    for rel in (page.pyscript, page.pyscript_css, page.interpreter, *page.wheels):
        assert rel in manifest.files, rel
    html = (site / "lessons" / "07-playground" / "index.html").read_text()
    assert f'"download_mb": {round(page.download_bytes / 1e6)}' in html
    assert _wheel_urls(site) == ["../../" + w for w in page.wheels]


def test_manifest_versions_are_the_pins(manifest):
    package = json.loads((ROOT / "package.json").read_text())["dependencies"]
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    npm = manifest.versions["npm"]
    assert set(npm) == set(pins.SITE_NPM_PACKAGES)
    for name, version in npm.items():
        assert version == package[name] == lock[f"node_modules/{name}"]["version"], name
    constraints = (ROOT / "constraints.txt").read_text()
    assert f"array-api-compat=={manifest.versions['wheels']['array-api-compat']}" in constraints
    npm_lock = json.loads((PYODIDE_NPM / "pyodide-lock.json").read_text())
    assert manifest.versions["wheels"]["numpy"] == npm_lock["packages"]["numpy"]["version"]
    assert manifest.versions["python"] == npm_lock["info"]["python"]


def _npm_tree(root: Path, pin: str, locked: str, installed: str | None) -> Path:
    (root / "package.json").write_text(json.dumps({"dependencies": {"pyodide": pin}}))
    (root / "package-lock.json").write_text(
        json.dumps({"packages": {"node_modules/pyodide": {"version": locked}}})
    )
    if installed is not None:
        (root / "node_modules" / "pyodide").mkdir(parents=True, exist_ok=True)
        (root / "node_modules" / "pyodide" / "package.json").write_text(
            json.dumps({"version": installed})
        )
    return root


@pytest.mark.parametrize(
    ("pin", "locked", "installed", "message"),
    [
        ("^0.27.7", "0.27.7", "0.27.7", "one exact version"),
        ("0.27.7", "0.27.6", "0.27.7", "package-lock.json locks pyodide@0.27.6"),
        ("0.27.7", "0.27.7", "0.28.0", "node_modules has pyodide@0.28.0"),
        ("0.27.7", "0.27.7", None, "run `npm ci`"),
    ],
)
def test_npm_pins_must_be_exact_and_agree_with_lock_and_node_modules(
    tmp_path, pin, locked, installed, message
):
    root = _npm_tree(tmp_path, pin, locked, installed)
    with pytest.raises(BuildError, match=re.escape(message)):
        pins.npm_versions(root, ("pyodide",))
    good = _npm_tree(tmp_path, "0.27.7", "0.27.7", "0.27.7")
    assert pins.npm_versions(good, ("pyodide",)) == {"pyodide": "0.27.7"}


def test_pypi_pins_come_from_constraints(tmp_path):
    (tmp_path / "constraints.txt").write_text("# pinned\nArray_API.compat==1.16.0\nnumpy==2.3.1\n")
    assert pins.pypi_versions(tmp_path, ("array-api-compat",)) == {"array-api-compat": "1.16.0"}
    with pytest.raises(BuildError, match="pins no version of scipy"):
        pins.pypi_versions(tmp_path, ("scipy",))


def test_a_stale_or_altered_runtime_is_refused(tmp_path):
    """The hook's check: a manifest built from other sources, or a file that is not what
    the manifest says, is refused with the command that rebuilds it."""
    root = tmp_path / "repo"
    (root / "rlhf_mini").mkdir(parents=True)
    (root / "rlhf_mini" / "core.py").write_text("X = 1\n")
    out = tmp_path / "out"
    (out / "site" / "assets").mkdir(parents=True)
    (out / "site" / "assets" / "a.js").write_text("a")
    entry = runtime_manifest.FileEntry(
        sha256=hashlib.sha256(b"a").hexdigest(), bytes=1, download_bytes=21
    )
    page = runtime_manifest.Page("", "", "", [], [], "", [], [], 0)
    runtime_manifest.write(
        runtime_manifest.Manifest(
            runtime_manifest.inputs_digest(root), {}, {"assets/a.js": entry}, page, out_dir=out
        )
    )
    assert runtime_manifest.load(out, root).files == {"assets/a.js": entry}
    (root / "rlhf_mini" / "core.py").write_text("X = 2\n")  # the library changed
    with pytest.raises(runtime_manifest.StaleRuntime, match="make runtime"):
        runtime_manifest.load(out, root)
    (root / "rlhf_mini" / "core.py").write_text("X = 1\n")
    (out / "site" / "assets" / "a.js").write_text("b")  # same size, other bytes
    with pytest.raises(runtime_manifest.StaleRuntime, match=r"a\.js is missing or changed"):
        runtime_manifest.load(out, root)


def test_runtime_build_step_does_nothing_when_up_to_date(site, manifest):
    said = []
    again = build_runtime(ROOT, RUNTIME_OUT, ROOT / "build" / "runtime-cache", log=said.append)
    assert said == [f"runtime: {RUNTIME_OUT} is up to date"]
    assert again == manifest


# --- the API reference ---------------------------------------------------------------------


def test_xref_roles_become_links_to_the_one_entry_they_name():
    xref = _load_hook("xref")
    html = (
        '<h2 id="rlhf_mini.dpo.dpo_loss"></h2><h2 id="rlhf_mini.core.backend.Backend.asarray"></h2>'
        '<h2 id="rlhf_mini.a.f"></h2><h2 id="rlhf_mini.b.f"></h2>'
        "<p>:func:<code>rlhf_mini.dpo_loss</code> :meth:<code>~Backend.asarray</code> "
        ":func:<code>f</code> :class:<code>Nowhere</code> :func:<code>dpo_loss</code></p>"
    )
    assert xref.link_roles(html).split("<p>")[1] == (
        '<a href="#rlhf_mini.dpo.dpo_loss"><code>rlhf_mini.dpo_loss</code></a> '
        '<a href="#rlhf_mini.core.backend.Backend.asarray"><code>asarray</code></a> '
        "<code>f</code> <code>Nowhere</code> "  # ambiguous, unknown: plain code
        '<a href="#rlhf_mini.dpo.dpo_loss"><code>dpo_loss</code></a></p>'
    )


def test_reference_page_shows_no_sphinx_roles_and_its_links_resolve(site):
    html = (site / "reference" / "index.html").read_text()
    assert not re.search(r":(func|class|meth|attr|data|mod|obj):", html)
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    links = re.findall(r'<a href="#(rlhf_mini[^"]*)"><code>', html)
    assert len(links) >= 20
    assert set(links) <= ids


# --- bytecode compiled at build time ---------------------------------------------------------

#: The header of CPython 3.12 bytecode (Pyodide 0.27's interpreter): magic 3531, then the
#: PEP 552 flags 0b01 (hash-based, not checked against the source).
PY312_MAGIC = (3531).to_bytes(2, "little") + b"\r\n"
UNCHECKED_HASH = (1).to_bytes(4, "little")


def _assert_py312_pyc(data: bytes, what: str) -> None:
    assert data[:4] == PY312_MAGIC, f"{what}: not CPython 3.12 bytecode ({data[:4]!r})"
    assert data[4:8] == UNCHECKED_HASH, f"{what}: not an unchecked hash-based pyc"


def test_served_stdlib_is_sourceless_python312_bytecode(site, manifest):
    served = site / _pyodide_dir(manifest) / "python_stdlib.zip"
    with zipfile.ZipFile(ROOT / "node_modules/pyodide/python_stdlib.zip") as zf:
        sources = {n for n in zf.namelist() if n.endswith(".py")}
    with zipfile.ZipFile(served) as zf:
        names = set(zf.namelist())
        assert len(sources) > 400
        for src in sources:
            if src + "c" in names:
                _assert_py312_pyc(zf.read(src + "c"), src)
                assert src not in names, f"{src} shipped twice"
            else:  # only sources Python itself cannot compile may stay as they are
                assert src in names, src
                assert not _compiles(zf.read(src)), f"{src} was not compiled"


def _compiles(source: bytes) -> bool:
    try:
        compile(source, "<src>", "exec", dont_inherit=True)
    except SyntaxError:
        return False
    return True


def test_served_numpy_is_bytecode_and_the_lock_names_it(site, manifest):
    pyodide = site / _pyodide_dir(manifest)
    npm_lock = json.loads((ROOT / "node_modules/pyodide/pyodide-lock.json").read_text())
    lock = json.loads((pyodide / "pyodide-lock.json").read_text())
    # the served lock differs from npm's in numpy's sha256 only
    served_numpy = lock["packages"].pop("numpy")
    original_numpy = npm_lock["packages"].pop("numpy")
    assert lock == npm_lock
    assert {k: v for k, v in served_numpy.items() if k != "sha256"} == {
        k: v for k, v in original_numpy.items() if k != "sha256"
    }
    with zipfile.ZipFile(pyodide / served_numpy["file_name"]) as zf:
        names = zf.namelist()
        assert "numpy/__init__.pyc" in names and "numpy/__init__.py" not in names
        _assert_py312_pyc(zf.read("numpy/_core/numeric.pyc"), "numpy/_core/numeric")
        assert not [n for n in names if n.endswith(".py")]


def test_own_wheels_keep_their_sources_next_to_their_bytecode(site):
    for url in _wheel_urls(site):
        rel = url.split("assets/runtime/wheels/", 1)[1]
        with zipfile.ZipFile(site / layout.WHEELS_DIR / rel) as zf:
            names = set(zf.namelist())
            if rel.endswith(
                ("rlhf_mini-0.1.0-py3-none-any.whl", "rlhf_widgets-0.1.0-py3-none-any.whl")
            ):
                sources = [n for n in names if n.endswith(".py")]
                assert sources
                for src in sources:
                    folder, module = src.rsplit("/", 1)
                    cached = f"{folder}/__pycache__/{module[:-3]}.cpython-312.pyc"
                    _assert_py312_pyc(zf.read(cached), src)
            else:  # array-api-compat: bytecode only
                assert not [n for n in names if n.endswith(".py")]
                assert [n for n in names if n.endswith(".pyc")]


def compile_bytecode(jobs, cache):
    return runtime_bytecode.compile_bytecode(jobs, pyodide=PYODIDE_NPM, cache=cache)


def test_compile_bytecode_modes_and_determinism(tmp_path, monkeypatch):
    def make_zip(path, files):
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in files.items():
                zf.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 2, 3, 4, 6)), data)
        return path

    files = {"pkg/__init__.py": "X = 1\n", "pkg/bad.py": "def (:\n", "pkg/data.txt": "hi"}
    a = make_zip(tmp_path / "a.zip", files)
    b = make_zip(tmp_path / "b.whl", files)
    out = compile_bytecode({a: "sourceless", b: "cached"}, tmp_path / "cache1")
    with zipfile.ZipFile(out[a]) as zf:
        assert sorted(zf.namelist()) == ["pkg/__init__.pyc", "pkg/bad.py", "pkg/data.txt"]
        _assert_py312_pyc(zf.read("pkg/__init__.pyc"), "sourceless")
        assert zf.read("pkg/data.txt") == b"hi"
        assert zf.getinfo("pkg/__init__.pyc").date_time == (2020, 1, 2, 3, 4, 6)
    with zipfile.ZipFile(out[b]) as zf:
        assert sorted(zf.namelist()) == [
            "pkg/__init__.py",
            "pkg/__pycache__/__init__.cpython-312.pyc",
            "pkg/bad.py",
            "pkg/data.txt",
        ]
        assert zf.read("pkg/__init__.py") == b"X = 1\n"
        _assert_py312_pyc(zf.read("pkg/__pycache__/__init__.cpython-312.pyc"), "cached")
    # cached: a second call does not run Node again
    monkeypatch.setattr(runtime_bytecode.shutil, "which", lambda name: None)
    assert compile_bytecode({a: "sourceless"}, tmp_path / "cache1") == {a: out[a]}
    # nothing cached and no Node: a clear error
    with pytest.raises(BuildError, match=r"Node\.js is needed"):
        compile_bytecode({a: "sourceless"}, tmp_path / "cache2")
    # the same input compiles to the same bytes (reproducible URLs and lock hashes)
    monkeypatch.undo()
    again = compile_bytecode({a: "sourceless", b: "cached"}, tmp_path / "cache3")
    assert again[a].read_bytes() == out[a].read_bytes()
    assert again[b].read_bytes() == out[b].read_bytes()


def test_pages_without_python_do_not_load_the_runtime(site):
    for url in pages(site):
        html = (site / (url + "index.html" if url.endswith("/") or not url else url)).read_text()
        has_python = 'class="rlhf-widget"' in html or (
            url.startswith("lessons/") and 'class="language-python highlight"' in html
        )
        assert ('id="rlhf-runtime"' in html) == has_python, url


# --- the code runner (pure Python part of the widget framework) -----------------------------

sys.path.insert(0, str(ROOT / "docs" / "widgets"))
from rlhf_widgets import runner  # noqa: E402

sys.path.pop(0)


def test_runner_runs_doctest_blocks_like_the_prompt():
    ns = runner.new_namespace()
    block = ">>> x = 2\n>>> x + 1\n3\n>>> print('a')\na\n>>> for i in range(2):\n...     i\n0\n1\n"
    assert runner.run(block, ns) == (True, "3\na\n0\n1\n")
    assert runner.run("x * 10", ns) == (True, "20\n")  # one namespace per page


def test_runner_script_blocks_show_stdout_and_last_expression():
    ns = runner.new_namespace()
    assert runner.run("print('hi')\ny = [1, 2]\ny", ns) == (True, "hi\n[1, 2]\n")
    assert runner.run("y.append(3)", ns) == (True, "")  # None is not shown
    assert runner.run("None", ns) == (True, "")


def test_runner_errors_are_tracebacks_of_the_readers_code():
    ns = runner.new_namespace()
    ok, out = runner.run("def f():\n    return 1 / 0\nf()", ns)
    assert not ok
    assert out.startswith("Traceback (most recent call last):\n")
    assert 'File "<code block>", line 3' in out and "ZeroDivisionError: division by zero" in out
    assert "runner.py" not in out
    ok, out = runner.run("def (:", ns)
    assert not ok and "SyntaxError" in out
    ok, out = runner.run(">>> print('before')\nbefore\n>>> undefined_name\n", ns)
    assert not ok and out.startswith("before\nTraceback") and "NameError" in out


# --- accessibility ---------------------------------------------------------------------------


@pytest.mark.browser
def test_axe_no_serious_or_critical_violations_on_any_page(site, browser):
    """axe-core on every page (the runtime blocked: static content and the widgets' error
    state; tests/browser checks a ready widget). Every page, as a browser runs it, also asks
    nothing of any other host: not the page itself, not Material's script (which fetches
    mermaid from a CDN when it finds a diagram to draw), not the stylesheets."""
    server = Server(site)
    failures = {}
    outside: dict[str, list[str]] = {}
    visiting = [""]

    def block_outside(route):
        outside.setdefault(visiting[0], []).append(route.request.url)
        route.abort()

    try:
        for scheme in ("light", "dark"):
            context = browser.new_context(color_scheme=scheme, service_workers="block")
            context.route("**/assets/runtime/**", lambda route: route.abort())
            context.route(re.compile(r"^(?!" + re.escape(server.origin) + ").*"), block_outside)
            page = context.new_page()
            dark = ["lessons/07-playground/", "architecture/"]
            for url in pages(site) if scheme == "light" else dark:
                visiting[0] = f"{scheme} {url or 'index'}"
                if scheme == "dark" and not (site / url / "index.html").is_file():
                    continue
                page.goto(server.url(url))
                page.add_script_tag(path=str(AXE))
                bad = page.evaluate(
                    "async () => (await axe.run(document, {resultTypes: ['violations']}))"
                    ".violations.filter(v => ['serious', 'critical'].includes(v.impact))"
                    ".map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))"
                )
                if bad:
                    failures[f"{scheme} {url or 'index'}"] = bad
            context.close()
    finally:
        server.close()
    assert not failures, json.dumps(failures, indent=1)
    assert not outside, f"requests outside the site: {json.dumps(outside, indent=1)}"


# --- quizzes: options in an order fixed per quiz -------------------------------------------

quiz_hook = _load_hook("quiz")

_QUIZ_HTML = re.compile(
    r'<div class="rlhf-quiz" data-quiz="([^"]+)">.*?<div class="rlhf-quiz-options">(.*?)</div>',
    re.S,
)
_OPTION = re.compile(r'<button\b[^>]*\bdata-correct="(true|false)"[^>]*>(.*?)</button>', re.S)


def built_quizzes(site: Path) -> dict[str, list[tuple[bool, str]]]:
    """Quiz id -> its options as the page shows them: (correct?, visible text)."""
    quizzes = {}
    for url in pages(site):
        if not url.startswith("lessons/"):
            continue
        for quiz_id, options in _QUIZ_HTML.findall((site / url / "index.html").read_text()):
            quizzes[quiz_id] = [
                (flag == "true", html.unescape(re.sub(r"<[^>]+>", "", label)).strip())
                for flag, label in _OPTION.findall(options)
            ]
    return quizzes


def test_quiz_hook_orders_options_by_the_quiz_id_only():
    assert sorted(quiz_hook.order("pipeline", 4)) == [0, 1, 2, 3]
    assert quiz_hook.order("pipeline", 4) == quiz_hook.order("pipeline", 4)
    orders = {tuple(quiz_hook.order(f"quiz-{k}", 4)) for k in range(20)}
    assert len(orders) > 5  # different quizzes, different orders
    written = (
        '<div class="rlhf-quiz" data-quiz="q1">\n  <p class="rlhf-quiz-question">?</p>\n'
        '  <div class="rlhf-quiz-options">\n'
        + "".join(
            f'    <button type="button" data-correct="{str(i == 0).lower()}">o{i}</button>\n'
            for i in range(4)
        )
        + "  </div>\n</div>"
    )
    shown = quiz_hook.shuffle(written)
    labels = re.findall(r">(o\d)</button>", shown)
    assert labels == [f"o{i}" for i in quiz_hook.order("q1", 4)]

    # only the buttons moved: the rest of the markup, whitespace included, is as written
    def skeleton(text: str) -> str:
        return re.sub(r'data-correct="\w+">o\d', "", text)

    assert skeleton(shown) == skeleton(written)
    assert re.findall(r'"(true|false)">o0<', shown) == ["true"]  # the flag moved with it
    with pytest.raises(Exception, match="only <button>s"):
        quiz_hook.shuffle(written.replace("<button", "<p>x</p><button", 1))


def test_right_answers_are_spread_over_the_positions(site):
    quizzes = built_quizzes(site)
    assert len(quizzes) >= 8
    positions = {}
    for quiz_id, options in quizzes.items():
        flags = [correct for correct, _ in options]
        assert flags.count(True) == 1, quiz_id
        positions[quiz_id] = flags.index(True)
    print("\nposition of the right answer (0 = first):", positions)
    counts = [list(positions.values()).count(k) for k in set(positions.values())]
    assert len(counts) >= 3, f"right answers in only {len(counts)} positions: {positions}"
    # no place holds half of them (8 quizzes, 4 options: 2 each on average)
    assert max(counts) < len(quizzes) / 2, f"too many right answers in one place: {positions}"


def test_right_answer_is_rarely_the_longest_option(site):
    """Readers must not find the right answer by its length: it may be the strictly longest
    option in at most half the quizzes."""
    longest = {}
    for quiz_id, options in built_quizzes(site).items():
        right = next(len(text) for correct, text in options if correct)
        longest[quiz_id] = all(right > len(text) for correct, text in options if not correct)
        lengths = [f"{len(text)}{'*' if correct else ''}" for correct, text in options]
        print(
            f"\n{quiz_id:16s} lengths {' '.join(lengths):24s} right is strictly longest: "
            f"{longest[quiz_id]}",
            end="",
        )
    assert sum(longest.values()) <= len(longest) // 2, [q for q, v in longest.items() if v]


# --- formulas typeset at build time -----------------------------------------------------------

katex_hook = _load_hook("katex")

NOTEBOOK_CELL = (
    '<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown jp-MarkdownOutput">'
    "<p>Inline $\\beta &lt; 1$, display $$\\frac{a}{b}$$, money: $5 and $6.</p>"
    "<p><code>$not_math$</code> <div>nested $x_1$</div> after</p></div>"
    "<p>outside the cell: $y$</p>"
)


def test_katex_hook_finds_every_formula_and_only_formulas():
    page = (
        '<p><span class="arithmatex">\\(a &lt; b\\)</span> and '
        '<span class="arithmatex">\\(\\beta\\)</span></p>\n'
        '<div class="arithmatex">\\[\nr(x, y) - \\beta\\, \\mathrm{KL}\n\\]</div>\n' + NOTEBOOK_CELL
    )
    assert katex_hook.find(page) == {
        ("a < b", False),
        ("\\beta", False),
        ("r(x, y) - \\beta\\, \\mathrm{KL}", True),
        ("\\beta < 1", False),
        ("\\frac{a}{b}", True),
        ("x_1", False),
    }
    fake = {f: f"<K{int(f[1])}>{f[0]}</K>" for f in katex_hook.find(page)}
    out = katex_hook.typeset(page, fake)
    assert '<span class="arithmatex"><K0>a < b</K></span>' in out
    assert '<div class="arithmatex" tabindex="0"><K1>r(x, y)' in out  # scrolls: focusable
    assert "Inline <K0>\\beta < 1</K>, display <K1>\\frac{a}{b}</K>, money: $5 and $6." in out
    assert "<code>$not_math$</code>" in out and "nested <K0>x_1</K>" in out
    assert "outside the cell: $y$" in out


def test_katex_renders_a_build_in_one_node_process_and_caches(tmp_path, monkeypatch):
    monkeypatch.setattr(katex_hook, "CACHE", tmp_path)
    calls = []
    real_run = katex_hook.subprocess.run
    monkeypatch.setattr(
        katex_hook.subprocess, "run", lambda *a, **k: calls.append(a) or real_run(*a, **k)
    )
    formulas = [("\\beta", False), ("\\frac{1}{2}", True), ("e^{x}", False), ("a < b", False)]
    first = katex_hook.render(formulas)
    assert len(calls) == 1  # one Node process for all of them
    assert set(first) == set(formulas)
    assert all(h.startswith('<span class="katex') for h in first.values())
    assert first[("\\frac{1}{2}", True)].startswith('<span class="katex-display">')
    assert "<math" in first[("\\beta", False)]  # MathML for screen readers
    assert "&lt;" in first[("a < b", False)]
    assert katex_hook.render(formulas) == first
    assert len(calls) == 1  # all cached: no Node at all
    assert len(list(tmp_path.rglob("*.html"))) == len(formulas)


def test_katex_error_is_a_build_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(katex_hook, "CACHE", tmp_path)
    with caplog.at_level("WARNING", logger="mkdocs.hooks.katex"):
        out = katex_hook.render([("\\frac{a}{b", False)])
    assert "cannot typeset" in caplog.text
    assert out[("\\frac{a}{b", False)].startswith('<span class="katex-error"')
    assert not list(tmp_path.rglob("*.html"))  # reported again on the next build


def test_pages_typeset_math_without_any_script(site, build):
    assert not (site / layout.KATEX_DIR / "katex.min.js").exists()
    assert (site / layout.KATEX_DIR / "katex.min.css").is_file()
    assert list((site / layout.KATEX_DIR / "fonts").glob("*.woff2"))
    typeset_lines = [line for line in build.log.splitlines() if "katex: typeset" in line]
    assert len(typeset_lines) <= 1, typeset_lines  # Node at most once per build
    for url in pages(site):
        text = (site / (url + "index.html" if url.endswith("/") or not url else url)).read_text()
        assert not re.search(r"katex(\.min)?\.js|auto-render|katex-init", text), url
        assert 'class="katex-error"' not in text, url
        shown = re.sub(r"<(annotation|script|pre|code)\b.*?</\1>", "", text, flags=re.S)
        assert not re.search(r"\\[()\[\]]|\\beta\b", shown), f"{url}: raw TeX left"
        if 'class="katex' in text:
            assert "assets/vendor/katex/katex.min.css" in text, url


# --- diagrams drawn at build time -------------------------------------------------------------

diagrams_hook = _load_hook("diagrams")


def test_diagrams_are_drawn_once_and_a_broken_one_is_a_build_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(diagrams_hook, "CACHE", tmp_path)
    good = 'flowchart TB\n  accTitle: Two layers\n  top["top<br/>layer"] --> bottom'
    bad = "flowchart TB\n  top -->"
    page = f'<p>x</p><pre class="mermaid"><code>{html.escape(good)}</code></pre>'
    assert diagrams_hook.find(page) == [good]
    with caplog.at_level("WARNING", logger="mkdocs.hooks.diagrams"):
        out = diagrams_hook.render([good, bad])  # one browser for both
    assert "mermaid cannot draw" in caplog.text
    svg = out[good]
    assert svg.startswith(f'<svg id="{diagrams_hook.diagram_id(good)}"')
    assert ">Two layers</title>" in svg  # its accessible name
    assert re.findall(r"<tspan[^>]*>(\w+)</tspan>", svg) == ["top", "layer", "bottom"]
    assert "var(--md-mermaid-node-bg-color" in svg  # the page's palette, light or dark
    assert html_loads(svg) == [] and css_loads(svg) == []
    assert out[bad].startswith('<pre class="rlhf-diagram-error">')
    assert len(list(tmp_path.glob("*.svg"))) == 1  # the broken one is reported every build
    monkeypatch.setattr(diagrams_hook, "_render_in_chromium", lambda s: pytest.fail(f"drew {s}"))
    assert diagrams_hook.render([good]) == {good: svg}  # cached: no browser at all


def test_architecture_page_shows_diagrams_drawn_at_build_time(site):
    source = (ROOT / "docs" / "architecture.md").read_text()
    text = (site / "architecture" / "index.html").read_text()
    figures = re.findall(
        r'<figure class="rlhf-diagram" tabindex="0">(<svg\b.*?</svg>)</figure>', text, re.S
    )
    assert len(figures) == source.count("```mermaid") == 2
    assert 'class="mermaid"' not in text and "mermaid.min.js" not in text
    labels = set(re.findall(r"<tspan[^>]*>([^<]+)</tspan>", figures[0]))
    assert {"core", "losses", "models", "worlds", "trainers", "experiments", "cli"} <= labels
    assert "rlhf_widgets.start()" in figures[1]
    for svg in figures:
        assert "<title" in svg and "<desc" in svg
