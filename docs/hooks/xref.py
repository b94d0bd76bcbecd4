"""MkDocs hook: Sphinx cross-reference roles in docstrings become links.

The library's docstrings follow numpydoc and cite each other as ``:func:`dpo_loss```, which
help() and IDEs show as they are. mkdocstrings renders them as literal text
(``:func:<code>dpo_loss</code>``); this hook turns each one into a link to the object's entry
on the same page (``<a href="#rlhf_mini.dpo.dpo_loss"><code>dpo_loss</code></a>``) when
exactly one entry matches, and into plain code otherwise.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:func|class|meth|attr|data|mod|obj):<code>(~?)([\w.]+)</code>")
_ID = re.compile(r'\bid="(rlhf_mini(?:\.\w+)+)"')


def resolve(target: str, ids: set[str]) -> str | None:
    """The one documented object ``target`` names (``rlhf_mini.`` optional), or None."""
    if target in ids:
        return target
    short = target.removeprefix("rlhf_mini.")
    hits = [i for i in ids if i.endswith("." + short)]
    return hits[0] if len(hits) == 1 else None


def link_roles(html: str) -> str:
    ids = set(_ID.findall(html))

    def replace(m: re.Match) -> str:
        tilde, target = m.groups()
        text = target.rsplit(".", 1)[-1] if tilde else target
        anchor = resolve(target, ids)
        code = f"<code>{text}</code>"
        return f'<a href="#{anchor}">{code}</a>' if anchor else code

    return _ROLE.sub(replace, html)


def on_page_content(html: str, page, config, files) -> str:
    return link_roles(html)
