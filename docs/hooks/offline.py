"""MkDocs hook: remove what mkdocs-jupyter's nbconvert template would load from CDNs.

Notebook pages get, from nbconvert, a ``<script src="">`` placeholder for MathJax plus its
configuration block, and a module script that imports mermaid from cdnjs when a page has
mermaid diagrams. Our notebooks' math is typeset at build time by the site's own KaTeX
(``docs/hooks/katex.py``) and they have no diagrams, so both blocks are dropped;
``tests/test_site.py`` scans the built site for any external load that remains.
"""

from __future__ import annotations

import re

_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
_MERMAID = re.compile(
    r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded", async \(\) => \{'
    r'\s*const diagrams = document\.querySelectorAll\("\.jp-Mermaid.*?</script>',
    re.S,
)


def on_post_page(output: str, page, config) -> str:
    if "jupyter-wrapper" not in output:
        return output
    return _MERMAID.sub("", _MATHJAX.sub("", output))
