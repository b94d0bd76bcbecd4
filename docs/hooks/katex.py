"""MkDocs hook: typeset every formula at build time with KaTeX, so pages need no math script.

Formulas then read with JavaScript off, print as they look on screen, and cost the reader
no script at all; the pages keep only KaTeX's stylesheet and fonts (served from the site).
The formulas are found where the Markdown tools leave them:

- ``pymdownx.arithmatex`` (generic mode), in the lessons, the home page and the API
  reference: ``<span class="arithmatex">\\(...\\)</span>`` inline and
  ``<div class="arithmatex">\\[...\\]</div>`` displayed (TeX HTML-escaped);
- nbconvert, in the notebooks' Markdown cells (``jp-RenderedMarkdown``): ``$...$`` inline and
  ``$$...$$`` displayed, left as text (code inside those cells is not touched).

Each formula is replaced by KaTeX's HTML (with MathML for screen readers), inside the same
arithmatex element; a displayed formula's box scrolls sideways when it is wider than the
page, so it is made focusable (keyboard users can scroll it).

KaTeX runs under Node (``render_math.mjs``, with the ``node_modules/katex`` that ``npm ci``
installs, the copy whose stylesheet the site serves). Node starts once per build at most:
``on_page_content`` collects every page's formulas, ``on_env`` (after all pages are converted,
before any is written) renders the ones not cached yet in ONE Node process, and
``on_post_page`` puts them in. The results are cached under ``build/katex/`` by the sha256 of
the formula, its mode, the KaTeX version and the script, so a rebuild renders nothing again.
A formula KaTeX cannot parse is a build warning (``mkdocs build --strict`` fails on it).
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.katex")

ROOT = Path(__file__).resolve().parents[2]
KATEX = ROOT / "node_modules" / "katex"
SCRIPT = Path(__file__).with_name("render_math.mjs")
CACHE = ROOT / "build" / "katex"

#: A formula: (TeX source, displayed?).
Formula = tuple[str, bool]

# --- finding formulas --------------------------------------------------------------------

_ARITHMATEX = re.compile(r'<(span|div) class="arithmatex">(.*?)</\1>', re.S)
_DELIMITED = re.compile(r"^\s*\\([(\[])(.*)\\[)\]]\s*$", re.S)
# Notebook Markdown cells: the cell's <div>, and the tags that matter inside it.
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>")
_NB_CELL = re.compile(r'<div\b[^>]*\bclass="[^"]*\bjp-RenderedMarkdown\b')
_NB_MATH = re.compile(
    r"(?<![\\$])\$\$(?P<display>.+?)(?<!\\)\$\$"  # $$...$$
    r"|(?<![\\$])\$(?P<inline>[^\s$](?:[^$]*?[^\s\\$])?)\$(?![\d$])",  # $...$, not "$5 or $6"
    re.S,
)


def _arithmatex_formula(tag: str, inner: str) -> Formula:
    tex = html.unescape(inner)
    m = _DELIMITED.match(tex)
    if m:
        return m.group(2).strip(), m.group(1) == "["
    return tex.strip(), tag == "div"  # e.g. a bare \begin{align}...\end{align} block


def _notebook_text_spans(page: str) -> list[tuple[int, int]]:
    """(start, end) of the text between tags inside notebook Markdown cells, outside code."""
    spans: list[tuple[int, int]] = []
    depth = 0  # <div> nesting inside the current Markdown cell (0: not in a cell)
    code = 0  # <code>/<pre> nesting
    pos = 0
    for m in _TAG.finditer(page):
        if depth and not code and m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
        closing, tag = m.group(1) == "/", m.group(2).lower()
        if tag == "div":
            if depth:
                depth += -1 if closing else 1
            elif not closing and _NB_CELL.match(m.group(0)):
                depth = 1
        elif depth and tag in ("code", "pre"):
            code = max(0, code + (-1 if closing else 1))
    return spans


def find(page: str) -> set[Formula]:
    """Every formula of the HTML ``page``."""
    found = {_arithmatex_formula(m.group(1), m.group(2)) for m in _ARITHMATEX.finditer(page)}
    for start, end in _notebook_text_spans(page):
        for m in _NB_MATH.finditer(page, start, end):
            tex = html.unescape(m.group("display") or m.group("inline"))
            found.add((tex.strip(), m.group("display") is not None))
    return found


def typeset(page: str, rendered: dict[Formula, str]) -> str:
    """``page`` with every formula replaced by its KaTeX HTML from ``rendered``."""

    def arithmatex(m: re.Match) -> str:
        tag = m.group(1)
        out = rendered[_arithmatex_formula(tag, m.group(2))]
        focus = ' tabindex="0"' if tag == "div" else ""  # a wide display box scrolls
        return f'<{tag} class="arithmatex"{focus}>{out}</{tag}>'

    def notebook(m: re.Match) -> str:
        tex = html.unescape(m.group("display") or m.group("inline")).strip()
        return rendered[(tex, m.group("display") is not None)]

    spans = _notebook_text_spans(page)
    if spans:  # replace back to front: earlier offsets stay valid
        for start, end in reversed(spans):
            page = page[:start] + _NB_MATH.sub(notebook, page[start:end]) + page[end:]
    return _ARITHMATEX.sub(arithmatex, page)


# --- rendering, cached ---------------------------------------------------------------------


def _version() -> str:
    manifest = KATEX / "package.json"
    if not manifest.is_file():
        raise PluginError(f"katex: {manifest} is missing; run `npm ci` first")
    return json.loads(manifest.read_text())["version"]


def _cache_path(formula: Formula, salt: str) -> Path:
    tex, display = formula
    key = hashlib.sha256(f"{salt}\0{int(display)}\0{tex}".encode()).hexdigest()
    return CACHE / key[:2] / f"{key}.html"


def render(formulas: Iterable[Formula]) -> dict[Formula, str]:
    """KaTeX HTML of each formula: from the cache, the rest from one Node process.

    A formula KaTeX rejects is logged as a warning and shown as its TeX in a
    ``katex-error`` span (not cached, so it is reported on every build until fixed).
    """
    salt = f"katex {_version()} script {hashlib.sha256(SCRIPT.read_bytes()).hexdigest()}"
    out: dict[Formula, str] = {}
    todo: list[Formula] = []
    for formula in sorted(set(formulas)):
        path = _cache_path(formula, salt)
        if path.is_file():
            out[formula] = path.read_text(encoding="utf-8")
        else:
            todo.append(formula)
    if not todo:
        return out
    node = shutil.which("node")
    if node is None:
        raise PluginError("katex: Node.js is needed to typeset the formulas at build time")
    done = subprocess.run(
        [node, str(SCRIPT), str(KATEX)],
        input=json.dumps([{"tex": tex, "display": display} for tex, display in todo]),
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    if done.returncode != 0:
        raise PluginError(f"katex: typesetting failed:\n{done.stdout}{done.stderr}")
    if done.stderr.strip():
        log.info("katex: %s", done.stderr.strip())
    results = json.loads(done.stdout)
    log.info("katex: typeset %d formulas (%d cached)", len(todo), len(out))
    for formula, result in zip(todo, results, strict=True):
        if "error" in result:
            log.warning("katex: cannot typeset %r: %s", formula[0], result["error"])
            out[formula] = (
                f'<span class="katex-error" title="{html.escape(result["error"])}">'
                f"{html.escape(formula[0])}</span>"
            )
            continue
        path = _cache_path(formula, salt)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # concurrent builds share the cache
        tmp.write_text(result["html"], encoding="utf-8")
        tmp.replace(path)
        out[formula] = result["html"]
    return out


# --- MkDocs events -------------------------------------------------------------------------

_pending: set[Formula] = set()
_rendered: dict[Formula, str] = {}


def on_pre_build(config) -> None:
    _pending.clear()
    _rendered.clear()


def on_page_content(content: str, page, config, files) -> str:
    _pending.update(find(content))
    return content


def on_env(env, config, files):
    _rendered.update(render(_pending))
    return env


def on_post_page(output: str, page, config) -> str:
    formulas = find(output)
    missing = formulas - _rendered.keys()
    if missing:  # only in the page's template, never seen by on_page_content
        _rendered.update(render(missing))
    return typeset(output, _rendered) if formulas else output
