"""Run a lesson's code block the way a reader at a Python prompt would.

A block in doctest style (``>>>`` / ``...`` prompts followed by the expected output) runs
example by example in "single" mode, so each expression prints its repr exactly as the
interactive prompt (and the doctest shown on the page) does; the expected output in the
block is ignored. Any other block runs as a script, and the repr of its last expression,
if any and not None, is printed. All blocks of a page share one namespace, top to bottom,
as in the tests (Sybil). Errors come back as a traceback of the reader's code only.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import traceback
from typing import Any

FILENAME = "<code block>"


def new_namespace() -> dict[str, Any]:
    return {"__name__": "__main__", "__builtins__": __builtins__}


def doctest_sources(block: str) -> list[str] | None:
    """The sources of the ``>>>`` examples in ``block``, or None if it has no prompts."""
    import doctest  # on first use: it imports pdb, unittest... (~0.3 s in Pyodide)

    examples = doctest.DocTestParser().get_examples(block)
    return [ex.source for ex in examples] if examples else None


def _traceback(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return "".join(traceback.format_exception_only(type(exc), exc))
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != FILENAME:
        tb = tb.tb_next  # drop the runner's own frames
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _run_script(source: str, namespace: dict[str, Any]) -> None:
    tree = ast.parse(source, FILENAME)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, FILENAME, "exec"), namespace)
    if last is not None:
        value = eval(compile(ast.Expression(last.value), FILENAME, "eval"), namespace)
        if value is not None:
            print(repr(value))


def run(block: str, namespace: dict[str, Any]) -> tuple[bool, str]:
    """Run ``block`` in ``namespace``; return (ok, what a prompt would have shown)."""
    out = io.StringIO()
    ok = True
    with contextlib.redirect_stdout(out):
        try:
            sources = doctest_sources(block)
            if sources is None:
                _run_script(block, namespace)
            else:
                for source in sources:
                    exec(compile(source, FILENAME, "single"), namespace)
        except Exception as exc:
            ok = False
            print(_traceback(exc), end="")
    return ok, out.getvalue()


def run_json(block: str, namespace: dict[str, Any]) -> str:
    """:func:`run` for the page's JS: ``{"ok": bool, "output": str}`` as JSON."""
    ok, output = run(str(block), namespace)
    return json.dumps({"ok": ok, "output": output})
