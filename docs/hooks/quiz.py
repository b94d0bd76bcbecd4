"""MkDocs hook: put each quiz's options in an order fixed by the quiz, not by the writer.

Writers tend to put the right answer in the same place (second, say) and to make it the most
careful, longest option; readers learn to guess from that. The lessons keep the options in
the order that reads best in Markdown; this hook reorders them in the built page by the
sha256 of ``"quiz:<data-quiz id>:<index as written>"``, so the order is the same on every
build, differs from quiz to quiz, and moves only if the quiz's id or number of options (or the
position of the right answer in the Markdown) changes. ``tests/test_site.py`` checks where the
right answers end up across the course: if a new quiz piles them up in one place, change its
id or the order its options are written in.

Markup (see ``docs/assets/quiz.js``): the ``<button>`` elements directly inside
``<div class="rlhf-quiz-options">`` of a ``<div class="rlhf-quiz" data-quiz="ID">``.
"""

from __future__ import annotations

import hashlib
import re

from mkdocs.exceptions import PluginError

_QUIZ = re.compile(
    r'(<div class="rlhf-quiz" data-quiz="(?P<id>[^"]+)">.*?<div class="rlhf-quiz-options">)'
    r"(?P<options>.*?)(?=</div>)",
    re.S,
)
_BUTTON = re.compile(r"<button\b.*?</button>", re.S)


def order(quiz_id: str, n: int) -> list[int]:
    """The written indices of a quiz's ``n`` options, in the order the page shows them."""
    return sorted(range(n), key=lambda i: hashlib.sha256(f"quiz:{quiz_id}:{i}".encode()).digest())


def shuffle(html: str) -> str:
    """``html`` with the options of every quiz in it reordered by :func:`order`."""

    def reorder(m: re.Match) -> str:
        options = m.group("options")
        buttons = _BUTTON.findall(options)
        if _BUTTON.sub("", options).strip():
            raise PluginError(f"quiz {m.group('id')}: only <button>s may be in its options")
        shown = [buttons[i] for i in order(m.group("id"), len(buttons))]
        indent = re.match(r"\s*", options).group(0)
        return m.group(1) + indent + indent.join(shown) + options[len(options.rstrip()) :]

    return _QUIZ.sub(reorder, html)


def on_page_content(content: str, page, config, files) -> str:
    return shuffle(content) if 'class="rlhf-quiz"' in content else content
