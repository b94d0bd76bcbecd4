"""Build steps the Makefile runs (not part of the library, not installed).

``tools/runtime``: assembles the self-hosted Python runtime of the course site
(``python -m tools.runtime``, ``make runtime``).
"""
