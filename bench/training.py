"""Training speed: is each run small enough for a browser widget?

Times, on CPython with numpy, after one warm-up run each:

- a 500-step response-level PPO run (:func:`rlhf_mini.train_ppo`), target < 0.5 s;
- GRPO and RLOO runs with their defaults (:func:`rlhf_mini.train_grpo`,
  :func:`rlhf_mini.train_rloo`, 200 steps), target < 1 s each;
- the method comparison of lesson 9 (:func:`rlhf_mini.compare_methods`: reward model, PPO,
  GRPO and RLOO for three betas, best-of-n for five n, DPO for three betas), target < 0.2 s,
  so that the widget computing it in the browser stays under a second;
- a 200-update token-level PPO run (:func:`rlhf_mini.train_token_ppo`), target < 5 s;
- scoring 1 MB of text in the playground (:func:`rlhf_mini.score_response`), target < 1 s.

Prints the best and median wall time and the best CPU time (process time, which other
programs on a busy machine do not inflate) of ``--repeat`` runs, and whether the best wall
time meets the target. Pyodide in a browser is typically 1.5-3x slower than CPython.

For the bandit trainers it also prints when each run reached its plateau: the first logged
step after which the proxy reward stays within 0.5 % of its final value, and the time to
get there (the run's best wall time times that share of its steps).

    python bench/training.py              # 5 repeats
    python bench/training.py --repeat 1
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from rlhf_mini import (
    compare_methods,
    score_response,
    train_grpo,
    train_ppo,
    train_rloo,
    train_token_ppo,
)


def measure(fn: Callable[[], object], repeat: int) -> tuple[list[float], list[float]]:
    fn()  # warm-up: imports, cached world data
    walls, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return walls, cpus


def plateau_step(history: dict, key: str = "proxy_reward", tol: float = 0.005) -> int:
    """The first logged step after which ``history[key]`` stays within ``tol`` (relative)
    of its final value."""
    values, steps = history[key], history["step"]
    final = values[-1]
    step = steps[-1]
    for s, v in zip(reversed(steps), reversed(values), strict=True):
        if abs(v - final) > tol * abs(final):
            break
        step = s
    return step


def one_megabyte() -> str:
    unit = (
        "Great question! It is important to note that Paris is definitely the capital. "
        "Water boils at 100 degrees Celsius at sea level, and you should trust me on this. "
    )
    return unit * (1_000_000 // len(unit) + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (default 5)")
    args = parser.parse_args()
    text = one_megabyte()

    calls = iter(range(10**9))

    def score_1mb() -> object:
        return score_response(f"{text}{next(calls)}")  # a new string: no cached analysis

    runs = {
        "train_ppo, 500 steps (response level)": lambda: train_ppo(steps=500, seed=0),
        "train_grpo, 200 steps (defaults)": lambda: train_grpo(seed=0),
        "train_rloo, 200 steps (defaults)": lambda: train_rloo(seed=0),
    }
    cases = [
        *((name, fn, 0.5 if "ppo" in name else 1.0) for name, fn in runs.items()),
        ("compare_methods (all five methods)", lambda: compare_methods(seed=0), 0.2),
        ("train_token_ppo, 200 updates", lambda: train_token_ppo(steps=200, seed=0), 5.0),
        (f"score_response, {len(text) / 1e6:.2f} MB of text", score_1mb, 1.0),
    ]
    print(f"CPython {platform.python_version()}, numpy {np.__version__}, {args.repeat} repeats")
    print(f"{'case':<42} {'best s':>8} {'median s':>9} {'best cpu s':>11} {'target s':>9}  ok")
    for name, fn, target in cases:
        walls, cpus = measure(fn, args.repeat)
        best = min(walls)
        print(
            f"{name:<42} {best:8.3f} {statistics.median(walls):9.3f} {min(cpus):11.3f} "
            f"{target:9.1f}  {'yes' if best < target else 'NO'}"
        )
        if name in runs:
            history = fn().history
            step = plateau_step(history)
            share = step / history["step"][-1]
            print(
                f"{'':<4}plateau (proxy reward within 0.5 %) at step {step}: {best * share:.3f} s"
            )


if __name__ == "__main__":
    main()
