"""``python -m tools.runtime``: build the site's Python runtime (``make runtime``).

    python -m tools.runtime [--out build/runtime] [--cache build/runtime-cache] [--force]

Prints one line: what was built, or that ``--out`` is up to date. Exit status 1, with the
reason, when the runtime cannot be built (e.g. ``npm ci`` not run, a pin that disagrees
with the lock file, numpy's wheel with the wrong hash).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import BuildError
from .build import build

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.runtime", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "runtime")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "runtime-cache")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    try:
        build(ROOT, args.out.resolve(), args.cache.resolve(), force=args.force)
    except BuildError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
