"""numpy vs torch (CPU) on the same rlhf_mini functions, measured in one run.

The library has one implementation (array-API code); this measures what running it on
torch tensors instead of numpy arrays costs or gains, for the hot functions of a training
step:

    dpo      dpo_loss + dpo_loss_grad on n preference pairs        (4 arrays of n)
    gae      gae on rewards / values of shape (n // 64, 64)          (Python loop over T)
    ppo      ppo_clip_loss + ppo_clip_loss_grad on n tokens         (3 arrays of n)

Each cell is the best of several timed calls (float64, inputs already on the device; the
first call is a warm-up). The ratio is numpy time / torch time: > 1 means torch is faster.
numpy's elementwise kernels use one core; torch may use ``torch.get_num_threads()``.

    python bench/torch_vs_numpy.py                 # n = 1e4, 1e5, 1e6
    python bench/torch_vs_numpy.py --sizes 1e4 1e7
    python bench/torch_vs_numpy.py --threads 1     # torch on one core, like numpy

On a machine whose cores are busy, torch's thread pool can be much slower than one thread
(oversubscription); compare with ``--threads 1``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import rlhf_mini as rm
from rlhf_mini.core.backend import resolve_backend

GAE_T = 64
WORKLOADS = ("dpo", "gae", "ppo")


def make_inputs(name: str, n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Random float64 numpy inputs of ``n`` elements for workload ``name``."""
    rng = np.random.default_rng(seed)
    if name == "dpo":
        pc, pr = -20 + 4 * rng.standard_normal(n), -22 + 4 * rng.standard_normal(n)
        return pc, pr, pc + rng.standard_normal(n), pr + rng.standard_normal(n)
    if name == "gae":
        shape = (max(1, n // GAE_T), GAE_T)
        return rng.standard_normal(shape), rng.standard_normal(shape)
    if name == "ppo":
        old = np.log(rng.uniform(0.05, 0.9, n))
        return old + 0.3 * rng.standard_normal(n), old, rng.standard_normal(n)
    raise ValueError(f"name must be one of {WORKLOADS}, got {name!r}")


def run_workload(name: str, args: tuple[Any, ...]) -> Any:
    """One call of workload ``name``: the library functions a training step would run."""
    if name == "dpo":
        losses, _, _ = rm.dpo_loss(*args, beta=0.1)
        g_c, _ = rm.dpo_loss_grad(*args, beta=0.1)
        return losses, g_c
    if name == "gae":
        return rm.gae(*args, gamma=1.0, lam=0.95)
    if name == "ppo":
        return rm.ppo_clip_loss(*args, clip_eps=0.2), rm.ppo_clip_loss_grad(*args, clip_eps=0.2)
    raise ValueError(f"name must be one of {WORKLOADS}, got {name!r}")


def _timer(column: str) -> Callable[[], None]:
    if column == "torch-cuda":
        import torch

        return torch.cuda.synchronize
    return lambda: None


def time_call(
    name: str, n: int, column: str, *, budget_s: float = 2.0, max_repeat: int = 7
) -> float:
    """Best wall time (seconds) of one call of ``name`` on ``column``.

    ``column`` is "numpy-cpu", "torch-cpu" or "torch-cuda". Inputs are moved to the device
    before timing; CUDA work is synchronised before the clock stops. Repeats stop early
    once ``budget_s`` is spent (at least two timed calls after the warm-up).
    """
    backend, device = {
        "numpy-cpu": ("numpy", None),
        "torch-cpu": ("torch", "cpu"),
        "torch-cuda": ("torch", "cuda"),
    }[column]
    b = resolve_backend(backend, device)
    args = tuple(b.asarray(x) for x in make_inputs(name, n))
    sync = _timer(column)
    run_workload(name, args)  # warm-up (allocator, kernels, lazy imports)
    sync()
    best, spent, count = float("inf"), 0.0, 0
    while count < max_repeat and (count < 2 or spent < budget_s):
        t0 = time.perf_counter()
        run_workload(name, args)
        sync()
        dt = time.perf_counter() - t0
        best, spent, count = min(best, dt), spent + dt, count + 1
    return best


def check_agreement(name: str, n: int, column: str) -> float:
    """Largest |numpy - other| over the workload's outputs (float64): the same numbers."""
    from rlhf_mini.core.backend import to_numpy

    backend, device = ("torch", "cuda") if column == "torch-cuda" else ("torch", "cpu")
    b = resolve_backend(backend, device)
    inputs = make_inputs(name, n)
    ref = run_workload(name, inputs)
    got = run_workload(name, tuple(b.asarray(x) for x in inputs))
    return max(float(np.max(np.abs(to_numpy(g) - r))) for g, r in zip(got, ref, strict=True))


def format_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Rows of {"workload", "n", column: seconds} as a text table with ratios to numpy."""
    head = f"{'workload':<8} {'n':>9} " + " ".join(f"{c + ' ms':>15}" for c in columns)
    ratio_cols = [c for c in columns if c != "numpy-cpu"]
    head += " " + " ".join(f"{'numpy/' + c.split('-')[1]:>12}" for c in ratio_cols)
    lines = [head, "-" * len(head)]
    for row in rows:
        line = f"{row['workload']:<8} {row['n']:>9.0e} "
        line += " ".join(f"{row[c] * 1e3:>15.3f}" for c in columns)
        line += " " + " ".join(f"{row['numpy-cpu'] / row[c]:>11.2f}x" for c in ratio_cols)
        lines.append(line)
    return "\n".join(lines)


def benchmark(sizes: list[int], columns: list[str], budget_s: float = 2.0) -> list[dict]:
    rows = []
    for name in WORKLOADS:
        for n in sizes:
            row: dict[str, Any] = {"workload": name, "n": n}
            for column in columns:
                row[column] = time_call(name, n, column, budget_s=budget_s)
            rows.append(row)
            print(format_table([row], columns).splitlines()[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e4, 1e5, 1e6])
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per cell (about)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes]

    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)

    print(
        f"numpy {np.__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), {os.cpu_count()} CPUs, float64"
    )
    for name in WORKLOADS:
        err = check_agreement(name, 10_000, "torch-cpu")
        print(f"agreement {name}: max |numpy - torch| = {err:.1e}")
        if err > 1e-9:
            raise SystemExit(f"{name}: numpy and torch disagree by {err}")
    columns = ["numpy-cpu", "torch-cpu"]
    print(format_table([], columns))
    benchmark(sizes, columns, budget_s=args.budget)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
