"""Build the course site once per test session, serve it on 127.0.0.1, launch Chromium.

Shared by ``tests/test_site.py`` and ``tests/browser/``. ``RLHF_TEST_SITE=/path/to/site``
reuses an already built site instead of building (handy while developing).
"""

from __future__ import annotations

import functools
import http.server
import os
import socketserver
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

_built: dict[str, object] = {}


class BuildResult:
    def __init__(self, site: Path, returncode: int, log: str):
        self.site, self.returncode, self.log = site, returncode, log


def build_site(tmp_root: Path) -> BuildResult:
    """The runtime build step (``python -m tools.runtime``, quick when it is up to date),
    then ``mkdocs build --strict`` into ``tmp_root/site``; once per process."""
    if "result" in _built:
        return _built["result"]  # type: ignore[return-value]
    prebuilt = os.environ.get("RLHF_TEST_SITE")
    if prebuilt:
        result = BuildResult(Path(prebuilt), 0, "(prebuilt: RLHF_TEST_SITE)")
    else:
        site = tmp_root / "site"
        env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
        log = ""
        for command in (
            [sys.executable, "-m", "tools.runtime"],
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        ):
            proc = subprocess.run(
                command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
            )
            log += proc.stdout + proc.stderr
            if proc.returncode != 0:
                break
        result = BuildResult(site, proc.returncode, log)
    _built["result"] = result
    return result


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".json": "application/json",
        ".whl": "application/zip",
    }

    def log_message(self, *args):
        pass


class _Threads(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    # socketserver listens with a backlog of 5; a page, its Python runtime and the service
    # worker's parallel downloads open more connections at once, and on a busy machine a
    # full backlog drops them (the browser retries a second later, or a fetch fails).
    request_queue_size = 64

    def handle_error(self, request, client_address):
        # A browser closed mid-download (a page left, a benchmark's browser closed while the
        # service worker still fetched): not an error of the server.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Server:
    """A static file server for ``site`` on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, site: Path):
        handler = functools.partial(_Quiet, directory=str(site))
        self.httpd = _Threads(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "") -> str:
        return f"{self.origin}/{path.lstrip('/')}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def pages(site: Path) -> list[str]:
    """Site-relative URLs of every HTML page (``lessons/01-why-rlhf/``, ``404.html`` ...)."""
    out = []
    for html in sorted(site.rglob("*.html")):
        rel = html.relative_to(site).as_posix()
        out.append(rel[: -len("index.html")] if rel.endswith("index.html") else rel)
    return out


def pages_with(site: Path, needle: str) -> list[str]:
    """Pages whose HTML contains ``needle``."""
    hits = []
    for url in pages(site):
        path = site / (url + "index.html" if url.endswith("/") or url == "" else url)
        if needle in path.read_text(encoding="utf-8"):
            hits.append(url)
    return hits
