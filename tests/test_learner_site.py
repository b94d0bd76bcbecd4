"""The built site's learner parts, without a browser: exercises rendered into their lessons,
the course outline and scripts in the pages, the service worker's manifest.

- Each exercise appears in its lesson as written in its spec (heading, task, starter code,
  every hint, the solution), with the starter's hash.
- ``sw.js`` lists every file a page of the site loads (so a lesson opened offline finds all
  of it), with the URL the page uses and the content's hash; the build id changes with any
  file.
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import json
import re
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).parent / "browser"))
from sitebuild import ROOT, build_site, pages

sys.path.pop(0)
sys.path.insert(0, str(ROOT / "docs" / "widgets"))
from rlhf_widgets.exercises import EXERCISES, number

sys.path.pop(0)


def _load_hook(name: str):
    spec = importlib.util.spec_from_file_location(
        f"rlhf_{name}_hook_l", ROOT / f"docs/hooks/{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


offline_cache = _load_hook("offline_cache")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    result = build_site(tmp_path_factory.mktemp("rlhf-site"))
    if result.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{result.log[-4000:]}")
    return result.site


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_every_exercise_is_rendered_in_its_lesson(site):
    for ex in EXERCISES.values():
        page = (site / "lessons" / ex.lesson / "index.html").read_text()
        start = page.rindex("<h3", 0, page.index(f'id="exercise-{ex.id}"'))
        end = page.index("</div>\n<h", start) if "</div>\n<h" in page[start:] else len(page)
        block = page[start:end]
        assert _text(block).startswith(f"Exercise {number(ex.id)}: {ex.title}")
        assert (
            f'data-starter-hash="{hashlib.sha256(ex.starter.encode()).hexdigest()[:16]}"' in block
        )
        codes = [
            _text(c) for c in re.findall(r"<pre><span></span><code>(.*?)</code></pre>", block, re.S)
        ]
        assert codes[0].strip() == ex.starter.strip()
        assert codes[-1].strip() == ex.solution.strip()
        hints = re.findall(
            r'<details class="rlhf-exercise-hint">\s*<summary>(.*?)</summary>', block
        )
        assert hints == [f"Hint {i} of {len(ex.hints)}" for i in range(1, len(ex.hints) + 1)]
        assert block.count('<details class="rlhf-exercise-solution">') == 1


def test_pages_carry_the_learners_scripts_and_the_course_outline(site):
    home = (site / "index.html").read_text()
    outline = json.loads(re.search(r'id="rlhf-course">(.*?)</script>', home).group(1))
    assert [lesson["url"] for lesson in outline["lessons"]] == [
        f"lessons/{p.stem}/" for p in sorted((ROOT / "docs/lessons").glob("[0-9][0-9]-*.md"))
    ]
    assert sum(len(lesson["exercises"]) for lesson in outline["lessons"]) == len(EXERCISES)
    for lesson in outline["lessons"]:
        source = (ROOT / "docs" / "lessons" / f"{lesson['url'].split('/')[1]}.md").read_text()
        assert lesson["quizzes"] == re.findall(r'data-quiz="([^"]+)"', source)
    assert outline["lessons"][1]["widgets"] == ["preference-game"]
    for url in pages(site):
        text = (site / (url + "index.html" if url.endswith("/") or not url else url)).read_text()
        if url == "404.html":
            continue
        assert re.search(r'<script src="(\.\./)*assets/progress\.js\?h=[0-9a-f]{12}">', text), url
        assert ("exercises.js?h=" in text) == ('class="rlhf-exercise"' in text), url
        # progress.js runs before the deferred quiz script, whose answers it keeps
        assert text.index("assets/progress.js") < text.index("</head>")
        # navigation.js (a plain script) runs before every other script of the site: they
        # register their per-page setup with it and read the site's root from it
        assert re.search(r'<script src="(\.\./)*assets/navigation\.js\?h=[0-9a-f]{12}">', text), url
        for name in ("boot.js", "progress.js", "quiz.js", "offline.js", "exercises.js"):
            if f"assets/{name}?h=" in text:
                assert text.index("assets/navigation.js") < text.index(f"assets/{name}?h="), url


def _manifest(site: Path) -> dict:
    text = (site / "sw.js").read_text()
    start = text.index("var MANIFEST = ") + len("var MANIFEST = ")
    return json.loads(text[start : text.index(";\n", start)])


#: URLs a page loads: src/href of scripts, stylesheets, preloads, images, and the runtime's.
_LOADS = re.compile(r'<(?:script|img|link)\b[^>]*?\b(?:src|href)="([^"#]+)"')


def test_service_worker_lists_everything_a_page_loads(site):
    manifest = _manifest(site)
    listed = {f["url"]: f for f in manifest["files"]}
    assert len(listed) == len(manifest["files"])
    for f in manifest["files"]:
        path = site / (f["url"].split("?")[0] or "index.html")
        if path.is_dir() or f["url"].endswith("/") or not f["url"].split("?")[0]:
            path = path / "index.html" if path.is_dir() else site / "index.html"
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest()[:16] == f["hash"] and len(data) == f["size"]
    for url in pages(site):
        if url == "404.html":
            continue
        text = (site / (url + "index.html" if url.endswith("/") or not url else url)).read_text()
        loads = _LOADS.findall(text)
        spec = re.search(r'id="rlhf-runtime">(.*?)</script>', text)
        if spec:
            runtime = json.loads(spec.group(1))
            loads += [runtime["interpreter"], runtime["pyscript"], *runtime["wheels"]]
        for ref in loads:
            parts = urlsplit(urljoin(f"http://site/{url}", html.unescape(ref)))
            if parts.netloc != "site":
                continue
            rel = parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")
            if rel.endswith((".xml", ".ipynb")) or "/lunr/" in rel:
                continue
            assert rel in listed, f"{url} loads {rel}, which sw.js does not list"
    groups = {f["group"] for f in manifest["files"]}
    assert groups == {"core", "runtime", "rest"}
    for f in manifest["files"]:
        if f["url"] == "" or f["url"].startswith(("lessons/", "figures/")):
            assert f["group"] == "core", f
        if f["url"].startswith("assets/runtime/"):
            assert f["group"] == "runtime", f
    assert "pyodide.asm.wasm" in " ".join(u for u in listed if listed[u]["group"] == "runtime")


def test_manifest_build_id_follows_every_file(tmp_path):
    (tmp_path / "lessons" / "a").mkdir(parents=True)
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<link href="assets/rlhf.css?h=abc"><p>home</p>')
    (tmp_path / "lessons" / "a" / "index.html").write_text(
        '<script src="../../assets/x.js?h=def"></script>'
    )
    (tmp_path / "assets" / "rlhf.css").write_text("p {}")
    (tmp_path / "assets" / "x.js").write_text("1")
    (tmp_path / "assets" / "x.js.map").write_text("{}")
    first = offline_cache.write_service_worker(tmp_path)
    assert [(f["url"], f["group"]) for f in first["files"]] == [
        ("assets/rlhf.css?h=abc", "core"),
        ("assets/x.js?h=def", "core"),
        ("", "core"),
        ("lessons/a/", "core"),
    ]
    sw = (tmp_path / "sw.js").read_text()
    assert offline_cache.MARKER not in sw and first["build"] in sw
    assert offline_cache.write_service_worker(tmp_path) == first  # reproducible
    (tmp_path / "assets" / "x.js").write_text("2")
    assert offline_cache.write_service_worker(tmp_path)["build"] != first["build"]
    assert offline_cache.group("assets/runtime/wheels/x/y.whl") == "runtime"
    assert offline_cache.group("notebooks/n/") == "rest"
