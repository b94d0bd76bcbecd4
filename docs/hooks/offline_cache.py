"""MkDocs hook: write the service worker that keeps the course working offline.

After the build, every file of the site is listed with its URL, the first 16 hex digits of
its sha256, its size and its group (``core``: the home page and lessons with what they load;
``runtime``: the Python runtime; ``rest``: notebooks, API reference, downloads), and the list
goes into ``sw.js`` at the site's root (``docs/assets/sw.js`` is the template; see it for the
caching strategy). The build id is a hash of that list: any changed file gives a new
``sw.js``, which makes browsers install the new worker and drop the old cache.

URLs are those the pages request: a file a page loads with ``?h=<hash>`` (the site's own
scripts and stylesheet) is listed with that query, ``lessons/x/index.html`` as
``lessons/x/``. Left out: what no page of this site requests (source maps, the sitemap,
Material's lunr language packs, KaTeX's woff/ttf fonts next to the woff2 that every browser
with service workers uses).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from mkdocs.exceptions import PluginError

TEMPLATE = Path(__file__).resolve().parents[1] / "assets" / "sw.js"
SW = "sw.js"
MARKER = 'var MANIFEST = { build: "unbuilt", files: [] };'

_SKIP = re.compile(
    r"(\.map|\.gz|^objects\.inv|^assets/javascripts/lunr/min/.*"
    r"|^assets/vendor/katex/fonts/.*\.(woff|ttf)|^assets/sw\.js)$"
)
_RUNTIME = re.compile(r"^assets/(runtime|vendor/chart\.js)/")
_CORE = re.compile(
    r"^(index\.html|lessons/.*|figures/.*|search/search_index\.json|assets/[^/]+\.(js|css)"
    r"|sitemap\.xml"  # Material's instant navigation reads it on every page load
    r"|assets/(stylesheets|javascripts|images|vendor/katex)/.*)$"
)
_REF = re.compile(r'(?:src|href)="([^"#]+\?h=[0-9a-f]+)"')


def group(rel: str) -> str:
    if _RUNTIME.match(rel):
        return "runtime"
    return "core" if _CORE.match(rel) else "rest"


def page_url(rel: str) -> str:
    """The URL a reader opens for ``rel``: ``lessons/x/index.html`` -> ``lessons/x/``."""
    return rel[: -len("index.html")] if rel == "index.html" or rel.endswith("/index.html") else rel


def queried(site: Path) -> dict[str, str]:
    """Site-relative path -> the ``?h=...`` query the pages load it with."""
    found: dict[str, str] = {}
    base = "http://site/"
    for html in site.rglob("*.html"):
        here = urljoin(base, page_url(html.relative_to(site).as_posix()))
        for ref in _REF.findall(html.read_text(encoding="utf-8", errors="replace")):
            parts = urlsplit(urljoin(here, ref))
            if parts.netloc != "site":
                continue
            rel = parts.path.lstrip("/")
            old = found.setdefault(rel, parts.query)
            if old != parts.query:
                raise PluginError(f"offline: {rel} is loaded as ?{old} and as ?{parts.query}")
    return found


def manifest(site: Path) -> dict:
    queries = queried(site)
    files = []
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        rel = path.relative_to(site).as_posix()
        if rel == SW or _SKIP.search(rel):
            continue
        data = path.read_bytes()
        url = page_url(rel) + (f"?{queries[rel]}" if rel in queries else "")
        files.append(
            {
                "url": url,
                "hash": hashlib.sha256(data).hexdigest()[:16],
                "size": len(data),
                "group": group(rel),
            }
        )
    build = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    return {"build": build, "files": files}


def write_service_worker(site: Path) -> dict:
    """Write ``site/sw.js`` for the files now in ``site``; returns the manifest."""
    template = TEMPLATE.read_text(encoding="utf-8")
    if MARKER not in template:
        raise PluginError(f"offline: {TEMPLATE} lost its line {MARKER!r}")
    data = manifest(site)
    text = template.replace(MARKER, "var MANIFEST = " + json.dumps(data, indent=0) + ";")
    (site / SW).write_text(text, encoding="utf-8")
    return data


def on_post_build(config) -> None:
    write_service_worker(Path(config["site_dir"]))
