"""MkDocs hook: draw the Mermaid diagrams at build time, so pages need no diagram script.

Authors write a diagram as Material for MkDocs documents it, in a ``mermaid`` fence (the
``pymdownx.superfences`` custom fence in ``mkdocs.yml``), which becomes
``<pre class="mermaid"><code>SOURCE</code></pre>``. Left like that, Material's JavaScript
would fetch mermaid from unpkg.com when the page loads (a CDN: the page would not work
offline), and a reader without JavaScript would see the source. Instead this hook renders
each diagram to SVG with the pinned npm ``mermaid`` (``package.json``) and puts the SVG into
the page in place of the fence, in ``<figure class="rlhf-diagram">``: no script, nothing
fetched, readable without JavaScript, and the text stays text (selectable, searchable; the
diagram's ``accTitle``/``accDescr`` become its accessible name and description).

Mermaid lays a diagram out by measuring its text in a browser, so it runs in headless
Chromium (the browser the tests use; ``CHROMIUM`` overrides its path), driven by
Playwright. The labels use a font stack whose first members (Helvetica, Arial, Liberation
Sans, Arimo) share one set of metrics, so boxes measured at build time fit the text on the
reader's machine. Colours are Material's CSS variables (``--md-mermaid-*``), so a diagram
follows the light and dark palettes.

Chromium starts once per build at most, and only for diagrams not drawn before:
``on_page_content`` collects every page's diagrams, ``on_env`` renders the new ones in one
browser, ``on_post_page`` puts them in. SVGs are cached under ``build/diagrams/`` by the
sha256 of the source, mermaid's version, the configuration and this file. A diagram mermaid
cannot parse is a build warning (``mkdocs build --strict`` fails on it).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import html
import json
import logging
import os
import re
from pathlib import Path

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.diagrams")

ROOT = Path(__file__).resolve().parents[2]
MERMAID = ROOT / "node_modules" / "mermaid"
CACHE = ROOT / "build" / "diagrams"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

FONT = 'Helvetica, Arial, "Liberation Sans", Arimo, sans-serif'
#: Flowchart styles in Material's palette variables (with fallbacks for the SVG alone).
THEME_CSS = f"""
text, .label, .nodeLabel, .edgeLabel {{ font-family: {FONT}; }}
.node rect, .node polygon, .node circle, .node path {{
  fill: var(--md-mermaid-node-bg-color, #eef0fa); stroke: var(--md-mermaid-node-fg-color, #3f51b5);
}}
.label text, .nodeLabel, text.nodeLabel, .node text {{
  fill: var(--md-mermaid-label-fg-color, #36464e);
}}
.edgePath .path, .flowchart-link {{ stroke: var(--md-mermaid-edge-color, #36464e); }}
marker, .arrowheadPath, .arrowMarkerPath {{
  fill: var(--md-mermaid-edge-color, #36464e) !important; stroke: none;
}}
.edgeLabel text, .edgeLabel tspan {{ fill: var(--md-mermaid-edge-color, #36464e); }}
.edgeLabel rect, .edgeLabel .background {{
  fill: var(--md-mermaid-label-bg-color, #ffffff); opacity: 1;
}}
.cluster rect {{
  fill: var(--md-default-fg-color--lightest, #f5f5f5);
  stroke: var(--md-default-fg-color--lighter, #bdbdbd);
}}
.cluster text, .cluster .nodeLabel {{ fill: var(--md-default-fg-color--light, #616161); }}
"""
CONFIG = {
    "startOnLoad": False,
    "securityLevel": "strict",
    "theme": "base",
    "fontFamily": FONT,
    "htmlLabels": False,  # labels as SVG text, not HTML in <foreignObject>
    # labels break where the source says (<br/>), not at mermaid's default 200 px
    "flowchart": {"htmlLabels": False, "useMaxWidth": True, "wrappingWidth": 480},
    "themeCSS": THEME_CSS,
}

_FENCE = re.compile(r'<pre class="mermaid"><code>(.*?)</code></pre>', re.S)


def find(page: str) -> list[str]:
    """The source of every ``mermaid`` fence in the HTML ``page``, in order."""
    return [html.unescape(m.group(1)) for m in _FENCE.finditer(page)]


def _salt() -> str:
    manifest = MERMAID / "package.json"
    if not manifest.is_file():
        raise PluginError(f"diagrams: {manifest} is missing; run `npm ci` (make npm)")
    version = json.loads(manifest.read_text())["version"]
    this = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    return f"mermaid {version} config {json.dumps(CONFIG, sort_keys=True)} hook {this}"


def diagram_id(source: str) -> str:
    """The SVG's id (its element ids start with it): from the source, so stable."""
    return "diagram-" + hashlib.sha256(source.encode()).hexdigest()[:10]


def render(sources: list[str]) -> dict[str, str]:
    """SVG of each diagram: from the cache, the rest from one headless Chromium.

    A diagram mermaid rejects is logged as a warning and shown as its source (not cached,
    so it is reported on every build until fixed).
    """
    salt = _salt()
    out: dict[str, str] = {}
    todo: list[str] = []
    for source in dict.fromkeys(sources):
        path = _cache_path(source, salt)
        if path.is_file():
            out[source] = path.read_text(encoding="utf-8")
        else:
            todo.append(source)
    if not todo:
        return out
    results = _render_in_chromium(todo)
    log.info("diagrams: drew %d diagrams (%d cached)", len(todo), len(out))
    for source, result in zip(todo, results, strict=True):
        if "error" in result:
            log.warning("diagrams: mermaid cannot draw %r: %s", source[:60], result["error"])
            out[source] = (
                f'<pre class="rlhf-diagram-error"><code>{html.escape(source)}</code></pre>'
            )
            continue
        path = _cache_path(source, salt)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # concurrent builds share the cache
        tmp.write_text(result["svg"], encoding="utf-8")
        tmp.replace(path)
        out[source] = result["svg"]
    return out


def _cache_path(source: str, salt: str) -> Path:
    key = hashlib.sha256(f"{salt}\0{source}".encode()).hexdigest()
    return CACHE / f"{key}.svg"


def _render_in_chromium(sources: list[str]) -> list[dict[str, str]]:
    # Playwright's sync API refuses to run in a thread with an asyncio loop (a caller's, e.g.
    # a test session that drives a browser too): run it in a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_render_in_chromium_here, sources).result()


def _render_in_chromium_here(sources: list[str]) -> list[dict[str, str]]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise PluginError("diagrams: Playwright is needed to draw the diagrams") from err
    if not Path(CHROMIUM).is_file():
        raise PluginError(
            f"diagrams: no Chromium at {CHROMIUM} to draw the diagrams with "
            "(`make chromium`, or set CHROMIUM to a Chromium or Chrome binary)"
        )
    jobs = [{"id": diagram_id(s), "source": s} for s in sources]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            # A local page that loads node_modules' mermaid (a file: page may load file:
            # scripts; handing the 3.5 MB script over as text takes seconds longer).
            blank = CACHE / "render.html"
            blank.parent.mkdir(parents=True, exist_ok=True)
            script = (MERMAID / "dist" / "mermaid.min.js").as_uri()
            text = f'<!doctype html><html><head><script src="{script}"></script>'
            if not blank.is_file() or blank.read_text() != text:
                tmp = blank.with_suffix(f".{os.getpid()}.tmp")  # concurrent builds
                tmp.write_text(text)
                tmp.replace(blank)
            page = browser.new_page()
            page.goto(blank.as_uri())
            return page.evaluate(
                """async ([config, jobs]) => {
                    mermaid.initialize(config);
                    const out = [];
                    for (const job of jobs) {
                        try {
                            out.push({svg: (await mermaid.render(job.id, job.source)).svg});
                        } catch (err) {
                            out.push({error: String(err && err.message ? err.message : err)});
                        }
                    }
                    return out;
                }""",
                [CONFIG, jobs],
            )
        finally:
            browser.close()


# --- MkDocs events -------------------------------------------------------------------------

_pending: list[str] = []
_rendered: dict[str, str] = {}


def on_pre_build(config) -> None:
    _pending.clear()
    _rendered.clear()


def on_page_content(content: str, page, config, files) -> str:
    _pending.extend(find(content))
    return content


def on_env(env, config, files):
    if _pending:
        _rendered.update(render(_pending))
    return env


def on_post_page(output: str, page, config) -> str:
    if '<pre class="mermaid">' not in output:
        return output

    def figure(m: re.Match) -> str:
        source = html.unescape(m.group(1))
        if source not in _rendered:  # only in a template, never seen by on_page_content
            _rendered.update(render([source]))
        # focusable: on a narrow screen the figure scrolls sideways (rlhf.css)
        return f'<figure class="rlhf-diagram" tabindex="0">{_rendered[source]}</figure>'

    return _FENCE.sub(figure, output)
