"""Hypothesis profiles: reproducible in ``make test``, exploratory in ``make fuzz``.

- ``ci`` (the default): derandomized, so every run of the suite tries the same examples and a
  red run is red on every clone; no example database is read or written. Every bug Hypothesis
  ever found is kept as an ``@example`` on its test, so it is checked in this profile too.
- ``fuzz`` (``make fuzz``, ``HYPOTHESIS_PROFILE=fuzz``): fresh randomness on every run and
  ``FUZZ_SCALE`` times as many examples per test. What it finds is saved in ``.hypothesis/``
  (replayed first by the next fuzz run) and belongs in an ``@example`` once fixed.

Tests ask for their number of examples with :func:`examples`, which scales it in the fuzz
profile (an explicit ``max_examples`` would override the profile's).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
FUZZ_SCALE = int(os.environ.get("FUZZ_SCALE", "20"))

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True, max_examples=100
)
settings.register_profile(
    "fuzz",
    derandomize=False,
    database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
    deadline=None,
    print_blob=True,
    max_examples=100 * FUZZ_SCALE,
    suppress_health_check=[HealthCheck.too_slow],
)
if PROFILE not in ("ci", "fuzz"):
    raise ValueError(f"HYPOTHESIS_PROFILE must be 'ci' or 'fuzz', got {PROFILE!r}")
settings.load_profile(PROFILE)


def examples(n: int) -> int:
    """``n`` examples under the ``ci`` profile, ``n * FUZZ_SCALE`` under ``fuzz``."""
    return n * FUZZ_SCALE if PROFILE == "fuzz" else n
