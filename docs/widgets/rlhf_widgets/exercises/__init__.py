"""The course's exercises: the reader writes what a lesson taught, the page checks it.

One module per lesson holds that lesson's :class:`~rlhf_widgets.exercises.framework.Exercise`
specs (``EXERCISES``, in the order the lesson shows them); ``framework`` says how an exercise
is specified and checked. ``docs/hooks/exercises.py`` renders each spec into its lesson at
build time (task, starter code, hints, solution: all readable without JavaScript);
``docs/assets/exercises.js`` adds the Check button, which calls :func:`check_json` in the
page's Python.
"""

from __future__ import annotations

import json
from typing import Any

from rlhf_widgets.exercises import (
    beyond_ppo,
    dpo,
    language_model,
    pipeline,
    playground,
    ppo,
    preferences,
    reward_model,
    takeaways,
    why_rlhf,
)
from rlhf_widgets.exercises.framework import Exercise, Report, check

#: Every exercise by id, in course order.
EXERCISES: dict[str, Exercise] = {
    ex.id: ex
    for module in (
        why_rlhf,
        preferences,
        reward_model,
        ppo,
        pipeline,
        dpo,
        playground,
        takeaways,
        beyond_ppo,
        language_model,
    )
    for ex in module.EXERCISES
}


def number(exercise_id: str) -> str:
    """ "2.1": the lesson's number, then the exercise's place among the lesson's exercises."""
    lesson = EXERCISES[exercise_id].lesson
    same = [e.id for e in EXERCISES.values() if e.lesson == lesson]
    return f"{int(lesson.split('-', 1)[0])}.{same.index(exercise_id) + 1}"


def run_check(exercise_id: str, source: str, seed: int | None = None) -> Report:
    """:func:`~rlhf_widgets.exercises.framework.check` by exercise id."""
    exercise = EXERCISES.get(str(exercise_id))
    if exercise is None:
        return Report(False, f"This page asked for an unknown exercise {exercise_id!r}.")
    return check(exercise, source, seed)


def check_json(exercise_id: Any, source: Any) -> str:
    """:func:`run_check` for the page's JavaScript, fresh random inputs, as JSON."""
    return json.dumps(run_check(str(exercise_id), str(source)).to_dict())


__all__ = ["EXERCISES", "Exercise", "Report", "check", "check_json", "number", "run_check"]
