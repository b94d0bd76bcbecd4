"""MkDocs hook: serve the self-hosted Python runtime and put its tags into the pages.

The runtime (PyScript, Pyodide, numpy, the ``rlhf_mini`` and ``rlhf_widgets`` wheels, KaTeX's
stylesheet and fonts, Chart.js) is assembled by a build step, ``python -m tools.runtime``
(``make runtime``; ``make build``, ``make serve`` and ``make test`` run it first), into
``build/runtime/``: the files at their site paths, and ``manifest.json`` describing them and
what a page with Python loads (see ``tools/runtime/__init__.py``). This hook:

1. reads the manifest, refusing it when the library, the widgets or the pins changed since it
   was built, or when a file no longer has its hash (``on_config``);
2. adds every file to the site at its path (``on_files``; MkDocs copies them, ``mkdocs
   serve`` serves them);
3. adds to each page's ``<head>`` the site's stylesheet, ``navigation.js`` (pages swapped
   in without reloading, so one interpreter serves the whole visit) and the quiz script, and
   on pages with a widget or runnable lesson code: preloads, a small JSON description of the runtime with
   URLs relative to the page, and ``boot.js``, which turns them into absolute URLs (the site
   may live under any path, e.g. GitHub Pages' ``/<repo>/``) and starts PyScript at once, in
   parallel with the page rendering (``on_post_page``). Pages with the ``lm-align`` widget
   also get the list of the package files served apart from the wheel (the language model's
   weights), which ``boot.js`` fetches once the page is painted.

The site's own assets (``docs/assets/boot.js``, ``quiz.js``, ``rlhf.css``) are pages' files
like any other; their URLs carry a hash of their content (``?h=...``), computed here from
the files themselves, so a browser never runs a stale copy against new pages.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "build" / "runtime"
ASSETS = ROOT / "docs" / "assets"
OWN_ASSETS = ("boot.js", "navigation.js", "quiz.js", "rlhf.css")

if str(ROOT) not in sys.path:  # the build step's package (tools/ is not installed)
    sys.path.insert(0, str(ROOT))
from tools.runtime import BuildError  # noqa: E402
from tools.runtime.manifest import Manifest, load  # noqa: E402

_manifest: Manifest | None = None
_asset_hashes: dict[str, str] = {}

_WIDGET = re.compile(r'class="rlhf-widget"')
#: Pages that use the language model get its weights (package data served apart from the
#: wheel, see tools/runtime/wheels.py DEFERRED), fetched after the page is first painted.
_USES_DEFERRED = re.compile(r'data-widget="lm-align"')
_PY_BLOCK = re.compile(r'class="language-python highlight"')


def on_config(config):
    global _manifest
    try:
        _manifest = load(RUNTIME, ROOT)
    except BuildError as err:
        raise PluginError(str(err)) from err
    _asset_hashes.clear()
    for name in OWN_ASSETS:
        _asset_hashes[name] = hashlib.sha256((ASSETS / name).read_bytes()).hexdigest()[:12]
    return config


def on_files(files, config):
    from mkdocs.structure.files import File

    assert _manifest is not None
    for rel in _manifest.files:
        files.append(File.generated(config, rel, abs_src_path=str(_manifest.path(rel))))
    return files


def _page_root(page) -> str:
    """Relative URL from the page to the site root ('' or '../' ...)."""
    return "../" * page.url.count("/")  # page.url: "" (home), "lessons/01-why-rlhf/", ...


def _asset(root: str, name: str) -> str:
    return f"{root}assets/{name}?h={_asset_hashes[name]}"


def _head_tags(page, output: str) -> str:
    assert _manifest is not None
    root = _page_root(page)
    tags = [
        f'<link rel="stylesheet" href="{_asset(root, "rlhf.css")}">',
        # first of the site's scripts: the others register their per-page setup with it
        f'<script src="{_asset(root, "navigation.js")}"></script>',
        f'<script defer src="{_asset(root, "quiz.js")}"></script>',
    ]
    has_widget = bool(_WIDGET.search(output))
    runnable = page.file.src_uri.startswith("lessons/") and bool(_PY_BLOCK.search(output))
    if not (has_widget or runnable):
        return "\n".join(tags)
    rt = _manifest.page
    config = {
        "pyscript": root + rt.pyscript,
        "pyscript_css": root + rt.pyscript_css,
        "interpreter": root + rt.interpreter,
        "packages": rt.packages,
        "wheels": [root + w for w in rt.wheels],
        "runnable": runnable,
        "download_mb": round(rt.download_bytes / 1e6),
    }
    if _USES_DEFERRED.search(output):
        config["deferred"] = [
            {"path": d["path"], "href": root + d["href"], "sha256": d["sha256"]}
            for d in rt.deferred
        ]
    for link in rt.preload:
        if "as" in link:
            integrity = f' integrity="{link["integrity"]}"' if "integrity" in link else ""
            tags.append(
                f'<link rel="{link["rel"]}" href="{root}{link["href"]}" as="{link["as"]}" '
                f"crossorigin{integrity}>"
            )
        else:
            tags.append(f'<link rel="{link["rel"]}" href="{root}{link["href"]}">')
    if has_widget:
        tags.append(f'<script defer src="{root}{rt.chart_js}"></script>')
    # JSON inside <script>: "</" cannot occur in these URLs, but escape it anyway.
    payload = json.dumps(config).replace("</", "<\\/")
    tags.append(f'<script type="application/json" id="rlhf-runtime">{payload}</script>')
    tags.append(f'<script src="{_asset(root, "boot.js")}"></script>')
    return "\n".join(tags)


def on_post_page(output: str, page, config) -> str:
    head_end = output.find("</head>")
    if head_end < 0:
        return output
    return output[:head_end] + _head_tags(page, output) + "\n" + output[head_end:]


def on_post_template(output: str, template_name: str, config) -> str:
    """404.html (a template, not a page): the site's stylesheet, with Material's own root."""
    if template_name != "404.html" or not _asset_hashes:
        return output
    base = re.search(r'href="([^"]*)assets/stylesheets/main', output)
    root = base.group(1) if base else ""
    tag = f'<link rel="stylesheet" href="{_asset(root, "rlhf.css")}">'
    return output.replace("</head>", tag + "\n</head>", 1)
