"""Shared pytest fixtures and the ``gpu`` marker.

Tests marked ``@pytest.mark.gpu`` need a CUDA device. They are skipped, with the reason
printed, when torch reports no CUDA device; this is the only skip the suite allows. torch
is imported here only if a ``gpu`` test was collected, so a plain ``pytest`` run of the
numpy tests does not pay for importing it.
"""

from __future__ import annotations

import sys

import hypothesis_profiles  # noqa: F401  (registers and loads the Hypothesis profile)
import numpy as np
import pytest


def _cuda_available() -> bool:
    try:
        import torch  # the torch extra is part of the test environment (`make test`)
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items or _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA: torch.cuda.is_available() is False")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _torch_single_thread():
    """Run torch on one CPU thread when a test module imported it.

    The suite runs on a few cores shared with other processes; torch's default thread pool
    then oversubscribes them (measured here: a token-PPO run 8x slower with 2 threads than
    with 1). One thread also matches numpy's single-threaded elementwise kernels.
    """
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    yield


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator: every test that draws random numbers is reproducible."""
    return np.random.default_rng(20240611)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium under Playwright, one per test session.

    Shared by ``tests/test_site.py`` (axe) and ``tests/browser/``: Playwright's sync API
    refuses to start a second instance while one is running in the same thread.
    """
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "browser"))
    try:
        from sitebuild import CHROMIUM, CHROMIUM_ARGS
    finally:
        sys.path.pop(0)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
