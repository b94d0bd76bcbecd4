"""MkDocs hook: the reader's progress and the offline copy, wired into every page.

- The course's outline (each lesson's URL, title, quick checks, exercises and widgets, read
  from the lessons' Markdown) goes into the home page and the lessons as
  ``<script type="application/json" id="rlhf-course">``: ``docs/assets/progress.js`` shows
  the reader's progress under each lesson's title and as a table on the home page.
- ``progress.js`` goes into every page's ``<head>`` (a plain script, so it runs before the
  deferred quiz script and the widgets' Python, which keep their state through it);
  ``offline.js`` (the service worker's registration, the "available offline" panel) into
  every page; ``exercises.js`` into pages with exercises. Each URL carries the file's
  content hash (``?h=``), as the runtime's own assets do, so a changed script is never
  served stale.

The service worker itself is written after the build by ``docs/hooks/offline_cache.py``.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"
WIDGETS = Path(__file__).resolve().parents[1] / "widgets"
if str(WIDGETS) not in sys.path:
    sys.path.insert(0, str(WIDGETS))

from rlhf_widgets.exercises import EXERCISES, number  # noqa: E402

#: The learner's scripts, with how each is loaded.
SCRIPTS = {"progress.js": "", "offline.js": " defer", "exercises.js": " defer"}

_QUIZ = re.compile(r'data-quiz="([^"]+)"')
_WIDGET = re.compile(r'data-widget="([^"]+)"')
_EXERCISE = re.compile(r'data-exercise="([^"]+)"')

_outline: dict = {"lessons": []}


def asset_hash(name: str) -> str:
    return hashlib.sha256((ASSETS / name).read_bytes()).hexdigest()[:12]


def outline_of(pages) -> dict:
    """The course's outline from its lesson pages (in nav order)."""
    lessons = []
    for page in pages:
        if not page.file.src_uri.startswith("lessons/"):
            continue
        text = Path(page.file.abs_src_path).read_text(encoding="utf-8")
        lessons.append(
            {
                "url": page.url,
                "title": page.title or page.file.name,
                "quizzes": _QUIZ.findall(text),
                "widgets": _WIDGET.findall(text),
                "exercises": [
                    {"id": i, "title": EXERCISES[i].title, "number": number(i)}
                    for i in _EXERCISE.findall(text)
                    if i in EXERCISES
                ],
            }
        )
    return {"lessons": lessons}


def on_nav(nav, config, files):
    global _outline
    _outline = outline_of(nav.pages)
    return nav


def head_tags(page, output: str) -> str:
    root = "../" * page.url.count("/")
    tags = []
    for name, mode in SCRIPTS.items():
        if name == "exercises.js" and 'class="rlhf-exercise"' not in output:
            continue
        tags.append(f'<script{mode} src="{root}assets/{name}?h={asset_hash(name)}"></script>')
    if page.is_homepage or page.file.src_uri.startswith("lessons/"):
        payload = json.dumps(_outline, ensure_ascii=False).replace("</", "<\\/")
        tags.append(f'<script type="application/json" id="rlhf-course">{payload}</script>')
    return "\n".join(tags)


def on_post_page(output: str, page, config) -> str:
    head_end = output.find("</head>")
    if head_end < 0:
        return output
    return output[:head_end] + head_tags(page, output) + "\n" + output[head_end:]
