"""MkDocs hook: small accessibility fixes to Material's HTML, at build time (no JS).

- Material's search overlay is ``role="dialog"`` without an accessible name (axe-core:
  aria-dialog-name, serious); give it ``aria-label="Search"``.
- Notebook code cells (mkdocs-jupyter) scroll sideways but cannot be focused, so keyboard
  users cannot scroll them (scrollable-region-focusable); make them focusable, as Material
  does for its own code blocks.
"""

from __future__ import annotations

import re

_SEARCH_DIALOG = re.compile(r'(<div class="md-search"[^>]*?role="dialog")(?![^>]*aria-label)')


_NOTEBOOK_CODE = re.compile(r'<div class="highlight-ipynb( [^"]*)?"(?![^>]*tabindex)')


def on_post_page(output: str, page, config) -> str:
    output = _SEARCH_DIALOG.sub(r'\1 aria-label="Search"', output, count=1)
    return _NOTEBOOK_CODE.sub(lambda m: m.group(0) + ' tabindex="0"', output)


def on_post_template(output: str, template_name: str, config) -> str:
    return on_post_page(output, None, config)  # 404.html is a template, not a page
