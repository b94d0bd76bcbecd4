"""How an exercise is specified, and how the reader's code is checked against it.

An :class:`Exercise` holds everything about one exercise: the task (Markdown, rendered into
its lesson at build time by ``docs/hooks/exercises.py``, so it reads without JavaScript),
the starter code the reader edits, hints, a reference solution, plausible wrong solutions
(each with the mistake it makes), and the checks: the function(s) the reader must define
(:class:`Target`, each with the library's own version as the reference), a few fixed
inputs (the lesson's example first, edge cases last) and fresh random inputs in between.

:func:`check` runs the reader's code in a fresh namespace, calls their function on every
input and compares the result with the reference. It never raises and never shows a bare
traceback: the first failing input comes back as a :class:`Report` in words (the input,
the expected value, the value the reader's function returned, and a tip when the kind of
mistake is recognisable: a sign, a sum instead of a mean, an overflow, a shape).

Imports no browser module: the whole check runs in CPython in the test suite
(tests/test_exercises.py: every reference solution passes, every wrong solution fails).
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The file name the reader's code is compiled under (tracebacks are cut to its frames).
FILENAME = "<your code>"
#: Seconds the reader's code may run in one check before it is stopped (a loop that never
#: ends would otherwise freeze the page: Python runs on the page's only thread).
TIME_LIMIT = 5.0


@dataclass(frozen=True)
class Case:
    """One input: argument name -> value (passed positionally, in this order), and what it
    is, in words ("the lesson's worked example", "a random input", "an edge case: ...")."""

    args: dict[str, Any]
    label: str = "a random input"


@dataclass(frozen=True)
class Target:
    """A function the reader defines (``name``) and the library's version of it
    (``reference``, called with the same arguments)."""

    name: str
    reference: Callable[..., Any]


@dataclass(frozen=True)
class Wrong:
    """A plausible wrong solution and the mistake it makes (the tests check it fails)."""

    mistake: str
    code: str


@dataclass(frozen=True)
class Exercise:
    """One exercise of a lesson (see the module docstring)."""

    id: str
    """Stable id: the lesson places it with ``<div class="rlhf-exercise" data-exercise=ID>``
    and the reader's saved code is stored under it."""
    lesson: str
    """The lesson's file name without ``.md`` (``02-human-preferences``)."""
    title: str
    task: str
    """What to write, in Markdown (math as ``$...$``)."""
    starter: str
    """The code the reader starts from, in the page's editable block."""
    solution: str
    hints: tuple[str, ...]
    """Markdown, revealed one at a time."""
    wrong: tuple[Wrong, ...]
    targets: tuple[Target, ...]
    examples: tuple[Case, ...]
    """Fixed inputs checked first (the lesson's own example)."""
    random_case: Callable[[np.random.Generator], Case]
    """Draws one fresh input (the check draws ``n_random``)."""
    edges: tuple[Case, ...] = ()
    """Fixed inputs checked last: the cases a first attempt tends to miss."""
    n_random: int = 8
    outputs: tuple[str, ...] = ()
    """Names of the returned values when the function returns several (a tuple)."""
    forbid: tuple[str, ...] = ()
    """Library names the reader's code must not use (the very functions it is compared with)."""
    rtol: float = 1e-7
    atol: float = 1e-10

    def cases(self, rng: np.random.Generator) -> list[Case]:
        return [*self.examples, *(self.random_case(rng) for _ in range(self.n_random)), *self.edges]


@dataclass
class Report:
    """What a check found, for the reader (``to_dict`` is what the page shows)."""

    ok: bool
    message: str
    passed: int = 0
    total: int = 0
    details: list[tuple[str, str]] = field(default_factory=list)
    tip: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "message": self.message,
            "passed": self.passed,
            "total": self.total,
            "details": [list(d) for d in self.details],
            "tip": self.tip,
        }


# --- showing values ---------------------------------------------------------------------


def show(value: Any, limit: int = 400) -> str:
    """A value as a reader would write it: numbers to 6 significant digits, arrays as lists."""
    if value is None:
        return "None"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, tuple | list) and not _numeric_sequence(value):
        inner = ", ".join(show(v, limit) for v in value)
        text = f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    elif isinstance(value, str):
        text = repr(value)
    else:
        try:
            a = np.asarray(value)
            if a.dtype.kind not in "iub":
                a = a.astype(float)
        except (TypeError, ValueError):
            text = repr(value)
        else:
            if a.ndim == 0:
                text = str(a.item()) if a.dtype.kind in "iub" else f"{float(a):.6g}"
            else:
                text = np.array2string(
                    a,
                    separator=", ",
                    threshold=40,
                    max_line_width=10_000,
                    formatter={"float_kind": lambda x: f"{x:.6g}"},
                )
                text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _numeric_sequence(value: Any) -> bool:
    return all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in value)


def show_outputs(value: Any, names: tuple[str, ...]) -> str:
    """A returned value; a tuple of the expected length with the outputs' names."""
    if names and isinstance(value, tuple | list) and len(value) == len(names):
        return "; ".join(f"{n} = {show(v)}" for n, v in zip(names, value, strict=True))
    return show(value)


def show_args(args: dict[str, Any]) -> str:
    return "; ".join(f"{name} = {show(value)}" for name, value in args.items())


# --- comparing --------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    what: str  # which value differs and how, one sentence
    tip: str = ""


def _as_array(value: Any) -> np.ndarray | None:
    if value is None or isinstance(value, str | dict | set):
        return None
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return a


def compare(expected: Any, got: Any, names: tuple[str, ...], rtol: float, atol: float):
    """None if ``got`` matches ``expected``, else a :class:`Mismatch` saying how."""
    if isinstance(expected, tuple):
        n = len(expected)
        wanted = ", ".join(names) if names else f"{n} values"
        if not isinstance(got, tuple | list) or len(got) != n:
            kind = (
                f"{len(got)} value(s)"
                if isinstance(got, tuple | list)
                else f"one {type(got).__name__}"
            )
            return Mismatch(
                f"Your function should return {n} values ({wanted}); it returned {kind}.",
                f"End it with `return {', '.join(names) if names else '...'}`.",
            )
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            found = compare(e, g, (), rtol, atol)
            if found is not None:
                name = f"`{names[i]}`, " if i < len(names) else ""
                what = found.what[0].lower() + found.what[1:]
                return Mismatch(f"In {name}returned value {i + 1} of {n}: {what}", found.tip)
        return None
    if got is None:
        return Mismatch(
            "Your function returned None.",
            "Is the `return` line missing? A function without `return` gives None.",
        )
    e = np.asarray(expected, dtype=float)
    g = _as_array(got)
    if g is None:
        return Mismatch(f"Your function returned a {type(got).__name__}, not a number or array.")
    if g.shape != e.shape:
        tip = "Check which axis you sum or average over, and whether you dropped or kept one."
        if g.size == 1 and e.size > 1:
            tip = "It returned one number where one value per element is expected: is there a sum or mean too many?"
        elif e.size == 1 and g.size > 1:
            tip = "One number is expected: is a sum or mean missing?"
        return Mismatch(f"Expected shape {e.shape}, got shape {g.shape}.", tip)
    bad_nan = np.isnan(g) & ~np.isnan(e)
    bad_inf = np.isinf(g) & ~np.isinf(e)
    if bad_nan.any() or bad_inf.any():
        word = "nan (not a number)" if bad_nan.any() else "inf (infinity)"
        return Mismatch(
            f"Your result contains {word} where the right answer is a finite number.",
            "An exponential overflowed, a logarithm got 0, or 0 was divided by 0. Write the "
            "formula in a form that stays finite for large inputs (see the hints).",
        )
    same = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True) | (g == e)
    if same.all():
        return None
    what = "The values differ"
    if e.ndim:
        i = tuple(int(k) for k in np.argwhere(~same)[0])
        where = i[0] if len(i) == 1 else i
        what += f" (first at index {where}: expected {show(e[i])}, got {show(g[i])})"
    what += "."
    return Mismatch(what, _guess(e, g, rtol, atol))


def _guess(e: np.ndarray, g: np.ndarray, rtol: float, atol: float) -> str:
    """A tip when the mistake has a recognisable shape."""
    close = lambda a, b: bool(np.allclose(a, b, rtol=max(rtol, 1e-6), atol=atol))  # noqa: E731
    if close(g, -e):
        return "Your values have the right size but the wrong sign."
    if e.size > 1 and close(g, 1 - e):  # one number equal to 1 - e is often chance
        return (
            "Your values are 1 minus the expected ones: is a difference taken the wrong way round?"
        )
    finite = np.isfinite(e) & np.isfinite(g) & (np.abs(e) > 1e-12)
    if finite.any():
        ratio = g[finite] / e[finite]
        r = float(ratio.flat[0])
        if np.allclose(ratio, r, rtol=1e-6) and abs(r - 1) > 1e-6 and abs(r) > 1e-12:
            if abs(r - round(r)) < 1e-6 and round(r) > 1:
                return (
                    f"Your values are exactly {round(r)} times the expected ones: a sum where "
                    "a mean is wanted, or a factor too many?"
                )
            if abs(1 / r - round(1 / r)) < 1e-6 and round(1 / r) > 1:
                return (
                    f"Your values are exactly 1/{round(1 / r)} of the expected ones: a mean "
                    "where a sum is wanted, or a factor missing?"
                )
    return ""


# --- running the reader's code ------------------------------------------------------------


class TooSlow(BaseException):
    """Raised inside the reader's code when it runs past :data:`TIME_LIMIT` (a BaseException,
    so that an ``except Exception`` in their code does not swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Stop code compiled from :data:`FILENAME` once it has run ``seconds``: a trace function
    on its frames only looks at the clock every 256 lines (library code is not traced)."""
    deadline = time.monotonic() + seconds
    previous = sys.gettrace()
    count = 0

    def local(frame, event, arg):
        nonlocal count
        count += 1
        if count % 256 == 0 and time.monotonic() > deadline:
            raise TooSlow
        return local

    def start(frame, event, arg):
        return local if frame.f_code.co_filename == FILENAME else None

    sys.settrace(start)
    try:
        yield
    finally:
        sys.settrace(previous)


@contextlib.contextmanager
def quiet():
    """The reader's prints and numpy's warnings go nowhere while checking."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
    ):
        warnings.simplefilter("ignore")
        yield


def where_in_code(exc: BaseException, source: str) -> str:
    """' on line N: `the line`' for the last frame of the reader's code in the traceback."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == FILENAME:
            line = frame.lineno
    if line is None:
        return ""
    lines = source.splitlines()
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return f" on line {line}: `{text}`" if text else f" on line {line}"


def forbidden_uses(tree: ast.AST, forbid: tuple[str, ...]) -> list[str]:
    """Library names of ``forbid`` the code uses (``rm.name`` or ``from rlhf_mini... import name``)."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in forbid:
            found.append(node.attr)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rlhf_mini"):
            found += [a.name for a in node.names if a.name in forbid]
    return sorted(set(found))


def check(exercise: Exercise, source: str, seed: int | None = None) -> Report:
    """Run ``source`` and check each target function of ``exercise`` on every input.

    ``seed`` fixes the random inputs (the tests); None draws fresh ones (the page).
    """
    source = str(source)
    try:
        tree = ast.parse(source, FILENAME)
    except SyntaxError as exc:
        line = exc.lineno or 0
        lines = source.splitlines()
        text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        return Report(
            False,
            f"Python could not read your code: {exc.msg} (line {line}).",
            details=[("Line", f"`{text}`")] if text else [],
            tip="Look for a missing bracket, colon or quote on that line or the one before, "
            "and for indentation that does not line up.",
        )
    used = forbidden_uses(tree, exercise.forbid)
    if used:
        names = ", ".join(f"`{n}`" for n in used)
        return Report(
            False,
            f"Your code calls {names} from the library: that is the very function the check "
            "compares with.",
            tip="Write the formula yourself with numpy; the library's version is the answer key.",
        )
    namespace: dict[str, Any] = {"__name__": "__exercise__", "__builtins__": __builtins__}
    try:
        with quiet(), time_limit(TIME_LIMIT):
            exec(compile(tree, FILENAME, "exec"), namespace)
    except TooSlow:
        return _too_slow(None)
    except Exception as exc:
        return Report(
            False,
            "Your code stopped with an error before the check could call your function.",
            details=[("Error", f"{type(exc).__name__}: {exc}{where_in_code(exc, source)}")],
            tip="Press Run to see the whole message.",
        )
    functions = []
    for target in exercise.targets:
        fn = namespace.get(target.name)
        if not callable(fn):
            return Report(
                False,
                f"Your code does not define a function called `{target.name}`.",
                tip=f"Keep the line `def {target.name}(...)` from the starting code.",
            )
        functions.append(fn)
    cases = exercise.cases(np.random.default_rng(seed))
    total = len(cases) * len(functions)
    passed = 0
    for target, fn in zip(exercise.targets, functions, strict=True):
        for k, case in enumerate(cases, start=1):
            try:
                with quiet():
                    expected = target.reference(*copy.deepcopy(list(case.args.values())))
            except Exception as exc:  # a bug of the exercise, not of the reader's code
                return Report(
                    False,
                    f"The check itself failed on {case.label} ({type(exc).__name__}: {exc}). "
                    "This is a bug of the exercise, not of your code.",
                    passed,
                    total,
                )
            where = (
                f"`{target.name}` failed check {k} of {len(cases)}"
                if len(functions) > 1
                else f"Check {passed + 1} of {total} failed"
            )
            details = [("Input", f"{case.label}: {show_args(case.args)}")]
            try:
                with quiet(), time_limit(TIME_LIMIT):
                    got = fn(*copy.deepcopy(list(case.args.values())))
            except TooSlow:
                return _too_slow(details, passed, total)
            except Exception as exc:
                return Report(
                    False,
                    f"{where}: your function raised {type(exc).__name__}: {exc}"
                    f"{where_in_code(exc, source)}.",
                    passed,
                    total,
                    [*details, ("Expected", show_outputs(expected, exercise.outputs))],
                )
            found = compare(expected, got, exercise.outputs, exercise.rtol, exercise.atol)
            if found is not None:
                return Report(
                    False,
                    f"{where}. {found.what}",
                    passed,
                    total,
                    [
                        *details,
                        ("Expected", show_outputs(expected, exercise.outputs)),
                        ("Your function returned", show_outputs(got, exercise.outputs)),
                    ],
                    found.tip,
                )
            passed += 1
    kinds = [
        _count(len(exercise.examples), "worked example"),
        _count(exercise.n_random, "random input"),
    ]
    if exercise.edges:
        kinds.append(_count(len(exercise.edges), "edge case"))
    return Report(
        True,
        f"All {total} checks passed ({', '.join(kinds)}): your code agrees with the "
        "library's own version.",
        passed,
        total,
    )


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" + ("" if n == 1 else "s")


def _too_slow(details, passed: int = 0, total: int = 0) -> Report:
    return Report(
        False,
        f"Your code was still running after {TIME_LIMIT:g} seconds, so the check stopped it.",
        passed,
        total,
        details or [],
        "Is there a loop that never ends? A `while` loop needs a condition that becomes false.",
    )
