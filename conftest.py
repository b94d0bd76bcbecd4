"""Sybil: every Python block in the course and every docstring example is a test.

- ``docs/**/*.md`` and ``README.md``: each fenced ``python`` block runs. A block that starts
  with ``>>>`` is a doctest (its shown outputs are checked); any other ``python`` block is run
  as a script. The blocks of one page share one namespace, top to bottom, like a reader
  running them in order.
- ``rlhf_mini/*.py`` and ``rlhf_mini/*/*.py``: the ``Examples`` sections of the docstrings
  are doctests, run in the namespace of their module.

``tests/test_docs.py`` checks that every fenced Python block was collected.
"""

from __future__ import annotations

import doctest

from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser
from sybil.parsers.rest import DocTestParser

OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

#: The course pages and the README.
markdown_sybil = Sybil(
    parsers=[PythonCodeBlockParser(doctest_optionflags=OPTIONFLAGS)],
    # PurePath.match has no recursive "**" before Python 3.13: list the depths.
    patterns=["README.md", *("docs/" + "*/" * depth + "*.md" for depth in range(5))],
    name="markdown",
)

#: Docstring examples of the library.
docstring_sybil = Sybil(
    parsers=[DocTestParser(optionflags=OPTIONFLAGS)],
    patterns=["rlhf_mini/*.py", "rlhf_mini/*/*.py"],
    name="docstrings",
)

pytest_collect_file = (markdown_sybil + docstring_sybil).pytest()
