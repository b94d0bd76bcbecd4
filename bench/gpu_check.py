"""GPU check (``make gpu-check``): the ``gpu`` tests, then numpy-CPU vs torch-CPU vs torch-CUDA.

Meant for a machine with a CUDA device; runs anywhere (without CUDA the ``gpu`` tests are
reported as skipped and the CUDA column is left out, with a note). Under 5 minutes:

1. ``pytest -m gpu tests``: every contract function on CUDA tensors (device and dtype kept,
   parity with numpy, gradients vs autograd) and the trainers with ``device="cuda"``.
2. Throughput of the hot functions of a training step at n = 1e4 .. 1e7 (see
   ``bench/torch_vs_numpy.py`` for the workloads), float64, best of a few calls, CUDA
   synchronised; plus the max |numpy - CUDA| difference on each workload.

    python bench/gpu_check.py                  # everything
    python bench/gpu_check.py --no-tests       # benchmark only

On a CUDA machine without network access whose python3 has PyTorch with CUDA, numpy, pytest
and hypothesis but not this project's other dependencies: run ``make gpu-kit`` on a machine
with network access, copy the checkout with ``build/gpukit/`` to the CUDA machine and run
``bash bench/gpu_device.sh`` there (see that script).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from torch_vs_numpy import WORKLOADS, benchmark, check_agreement, format_table  # noqa: E402

SIZES = [10_000, 100_000, 1_000_000, 10_000_000]


def describe_machine() -> bool:
    """Print versions and devices; return whether CUDA is usable."""
    import numpy as np
    import torch

    cuda = torch.cuda.is_available()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, torch {torch.__version__}")
    print(f"CPU: {os.cpu_count()} cores, torch uses {torch.get_num_threads()} threads")
    if cuda:
        props = torch.cuda.get_device_properties(0)
        print(
            f"CUDA {torch.version.cuda}: {torch.cuda.get_device_name(0)}, "
            f"{props.total_memory / 2**30:.0f} GiB"
        )
    else:
        print(
            "CUDA: not available (torch.cuda.is_available() is False"
            + (", CPU-only torch build" if torch.version.cuda is None else "")
            + ")"
        )
    return cuda


def gpu_test_files() -> list[str]:
    """The test files that hold ``gpu`` tests. Naming them (rather than ``tests``) keeps the
    run free of what they do not need (Chromium, Playwright, choix, the site build), which
    a GPU machine set up for PyTorch does not have."""
    tests = os.path.join(ROOT, "tests")
    return sorted(
        os.path.join("tests", name)
        for name in os.listdir(tests)
        if name.startswith("test_")
        and name.endswith(".py")
        and "mark.gpu" in open(os.path.join(tests, name), encoding="utf-8").read()
    )


def run_gpu_tests(timeout_s: float) -> int:
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-rs", *gpu_test_files()]
    print("$ " + " ".join(cmd[2:]), flush=True)
    try:
        return subprocess.run(cmd, cwd=ROOT, timeout=timeout_s).returncode
    except subprocess.TimeoutExpired:
        print(f"gpu tests: timed out after {timeout_s:.0f} s")
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-tests", action="store_true", help="skip the pytest -m gpu run")
    parser.add_argument("--sizes", nargs="+", type=float, default=SIZES)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per cell (about)")
    args = parser.parse_args(argv)
    t_start = time.perf_counter()

    print("== machine")
    cuda = describe_machine()

    status = 0
    if not args.no_tests:
        print("\n== gpu tests")
        status = run_gpu_tests(timeout_s=150)
        print(f"gpu tests: exit status {status}" + ("" if cuda else " (all skipped: no CUDA)"))

    print("\n== throughput (float64, ms per call, best of a few; ratio = numpy time / time)")
    columns = ["numpy-cpu", "torch-cpu"] + (["torch-cuda"] if cuda else [])
    if not cuda:
        print("note: no CUDA device, the torch-cuda column is omitted")
    else:
        for name in WORKLOADS:
            err = check_agreement(name, 100_000, "torch-cuda")
            print(f"agreement {name}: max |numpy - cuda| = {err:.1e}")
            if err > 1e-9:
                status = status or 1
    print(format_table([], columns))
    benchmark([int(s) for s in args.sizes], columns, budget_s=args.budget)
    print(f"\ngpu-check done in {time.perf_counter() - t_start:.0f} s, status {status}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
