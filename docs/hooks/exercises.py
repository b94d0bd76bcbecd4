"""MkDocs hook: render each lesson's exercises into its page, at build time.

A lesson places an exercise with one line of its own,

    <div class="rlhf-exercise" data-exercise="ID"></div>

and this hook replaces it with the exercise's spec (``rlhf_widgets.exercises``, one module
per lesson) rendered as Markdown: a heading ("Exercise 2.1: ..."), the task, the starter code
as a Python block (made editable and runnable in the browser, like every lesson block), each
hint and the solution in a ``<details>`` element. So the task, the hints and the solution read
without JavaScript or Python; ``docs/assets/exercises.js`` adds the Check button, hints one at
a time, the solution after a first try, and the reader's saved code.

``data-starter-hash`` (sha256 of the starter code) lets the page tell whether a copy of the
reader's code was saved against the starter shown now or against an older one.
The build fails if an exercise is placed twice, in the wrong lesson, or not at all.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

WIDGETS = Path(__file__).resolve().parents[1] / "widgets"
if str(WIDGETS) not in sys.path:
    sys.path.insert(0, str(WIDGETS))

from rlhf_widgets.exercises import EXERCISES, number  # noqa: E402
from rlhf_widgets.exercises.framework import Exercise  # noqa: E402

PLACEHOLDER = re.compile(
    r'^<div class="rlhf-exercise" data-exercise="(?P<id>[^"]*)"></div>[ \t]*$', re.M
)

_placed: dict[str, str] = {}


def starter_hash(exercise: Exercise) -> str:
    return hashlib.sha256(exercise.starter.encode()).hexdigest()[:16]


def _code(source: str) -> str:
    return f"```python\n{source.strip()}\n```"


def render(exercise: Exercise) -> str:
    """The exercise as Markdown (md_in_html), as the lesson shows it."""
    n = len(exercise.hints)
    hints = "\n".join(
        f'<details class="rlhf-exercise-hint" markdown>\n<summary>Hint {i} of {n}</summary>\n\n'
        f"{hint.strip()}\n\n</details>\n"
        for i, hint in enumerate(exercise.hints, start=1)
    )
    return (
        f"### Exercise {number(exercise.id)}: {exercise.title} {{ #exercise-{exercise.id} }}\n\n"
        f'<div class="rlhf-exercise" data-exercise="{exercise.id}" '
        f'data-starter-hash="{starter_hash(exercise)}" markdown>\n\n'
        f"{exercise.task.strip()}\n\n{_code(exercise.starter)}\n\n{hints}\n"
        '<details class="rlhf-exercise-solution" markdown>\n<summary>Solution</summary>\n\n'
        f"{_code(exercise.solution)}\n\n</details>\n\n</div>\n"
    )


def on_config(config):
    _placed.clear()
    return config


def on_page_markdown(markdown: str, page, config, files) -> str:
    lesson = Path(page.file.src_uri).stem

    def replace(m: re.Match) -> str:
        exercise = EXERCISES.get(m.group("id"))
        where = page.file.src_uri
        if exercise is None:
            raise PluginError(f"exercises: {where} places an unknown exercise {m.group('id')!r}")
        if exercise.lesson != lesson:
            raise PluginError(f"exercises: {exercise.id} belongs to {exercise.lesson}, not {where}")
        if exercise.id in _placed:
            raise PluginError(f"exercises: {exercise.id} is placed twice")
        _placed[exercise.id] = where
        return render(exercise)

    return PLACEHOLDER.sub(replace, markdown)


def on_env(env, config, files):
    """After every page's Markdown was read: each exercise must have been placed."""
    missing = [i for i in EXERCISES if i not in _placed]
    if missing:
        raise PluginError(f"exercises: not placed in their lessons: {', '.join(missing)}")
    return env
