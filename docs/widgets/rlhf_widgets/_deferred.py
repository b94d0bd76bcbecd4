"""Package files served apart from the library's wheel (the language model's weights).

The page lists them (``spec.deferred``, from the runtime's manifest) and ``boot.js`` fetches
them once the page has been painted; :func:`install` puts each, once its sha256 is checked,
where the package expects it inside the installed ``rlhf_mini`` (Pyodide's file system is in
memory), so ``rlhf_mini.load_language_model`` works in the page as anywhere else.
:func:`installed` is what a widget awaits before it needs them.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

_task: Any = None


def start() -> Any:
    """Begin installing the page's deferred files (once); the task, or None if it has none."""
    global _task
    import js

    if _task is None and js.rlhfRuntime.deferredFiles() is not None:
        _task = asyncio.ensure_future(install())
    return _task


async def install() -> None:
    """Await the fetched files, check each sha256, write them into the package."""
    import js

    import rlhf_mini

    site = Path(rlhf_mini.__file__).resolve().parents[1]  # site-packages
    for entry in await js.rlhfRuntime.deferredFiles():
        data = entry.data.to_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.sha256:
            raise ValueError(f"{entry.path} arrived corrupted (sha256 {digest[:12]}...)")
        target = site / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    js.rlhfRuntime.mark("deferred installed")


async def installed() -> None:
    """Return once the page's deferred files are in place (at once if it has none)."""
    task = start()
    if task is not None:
        await asyncio.shield(task)
