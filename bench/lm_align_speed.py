"""Speed of aligning the tiny language model (PPO and DPO), in CPython and in Pyodide.

Runs unchanged in both (``python bench/lm_pyodide.py --align`` runs it in Pyodide 0.27.7 under
Node, next to this CPython), so the columns come from the same code. It times, with the
shipped models (float32, as the widget and the lesson's runs use):

- ``import``: ``import rlhf_mini`` in a fresh interpreter (the first thing this script does),
  and then importing the language-model modules the package leaves for later (PEP 562 lazy
  names; their cost is what every page with Python would pay if they were eager);
- ``ppo-iter``: one PPO iteration, ``LMPPORun.step()``: 16 sampled responses, the policy's,
  the reference's and the reward model's forward passes, GAE, 2 epochs of forward + backward +
  AdamW (the first reusing the rollout's forward), the median and best of ``--iters``;
- ``ppo-50``: 50 iterations, the whole wall time (``--long`` only: ~13 s in Pyodide);
- ``slice``: the longest single slice of ``LMPPORun.slices()`` and ``LMDPORun.slices()`` over
  those iterations (how long a page cannot answer a click);
- ``dpo-step``: one DPO step (8 pairs: 16 sequences forward + backward + AdamW), median.

CPU time under Node comes from ``process.cpuUsage`` (other programs do not inflate it); in
CPython, set ``OPENBLAS_NUM_THREADS=1`` (two BLAS threads tripled the CPU time here).

    OPENBLAS_NUM_THREADS=1 python bench/lm_align_speed.py [--iters 10] [--long] [--json]
"""

from __future__ import annotations

import time

T_START = time.perf_counter()
import rlhf_mini  # noqa: E402  (the first import: what a page pays)

T_IMPORT = time.perf_counter() - T_START

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402

LAZY = (
    "rlhf_mini.models.transformer",
    "rlhf_mini.models.language_model",
    "rlhf_mini.worlds.text",
    "rlhf_mini.trainers.lm_pretrain",
    "rlhf_mini.trainers.lm_reward_model",
    "rlhf_mini.trainers.lm_ppo",
    "rlhf_mini.trainers.lm_dpo",
    "rlhf_mini.experiments.lm_alignment",
)


def _clock():
    if sys.platform == "emscripten":
        import js

        def cpu() -> float:
            usage = js.process.cpuUsage()
            return (usage.user + usage.system) * 1e-6

        return cpu
    return time.process_time


cpu = _clock()


def timed_slices(gen, until, limit: int) -> tuple[float, int]:
    """Run ``gen`` until ``until(event)`` has been true ``limit`` times; the longest slice (ms)
    and the number of slices."""
    longest, n, hits = 0.0, 0, 0
    while hits < limit:
        t0 = time.perf_counter()
        event = next(gen, None)
        longest = max(longest, 1000 * (time.perf_counter() - t0))
        n += 1
        if event is None:
            break
        hits += bool(until(event))
    return longest, n


def rows(iters: int, long: bool) -> dict:
    out: dict = {"platform": sys.platform, "import_ms": 1000 * T_IMPORT}
    t0 = time.perf_counter()
    already = [m for m in LAZY if m in sys.modules]
    for name in LAZY:
        importlib.import_module(name)
    out["import_lm_ms"] = 1000 * (time.perf_counter() - t0)
    out["lm_modules_imported_by_import_rlhf_mini"] = already

    from rlhf_mini import LMDPORun, LMPPORun, TextComparisons, load_language_model

    models = {s: load_language_model(s, dtype="float32") for s in ("sft", "reward_verbose")}
    common = {
        "policy": models["sft"],
        "reference": models["sft"],
        "reward_model": models["reward_verbose"],
    }

    run = LMPPORun(beta=0.01, steps=iters + 1, seed=0, **common)
    run.step()  # warm-up
    walls, cpus = [], []
    for _ in range(iters):
        w0, c0 = time.perf_counter(), cpu()
        run.step()
        walls.append(1000 * (time.perf_counter() - w0))
        cpus.append(1000 * (cpu() - c0))
    out["ppo_iter_ms"] = {
        "median_wall": statistics.median(walls),
        "best_wall": min(walls),
        "median_cpu": statistics.median(cpus),
        "tokens": run.history["response_length"][1:],
    }
    run = LMPPORun(beta=0.01, steps=iters, seed=1, **common)
    out["ppo_slice_max_ms"], out["ppo_slices"] = timed_slices(
        run.slices(), lambda e: e == "iteration", iters
    )
    if long:
        run = LMPPORun(beta=0.01, steps=50, seed=2, **common)
        w0 = time.perf_counter()
        for _ in run.slices():
            pass
        out["ppo_50_s"] = time.perf_counter() - w0

    record = rlhf_mini.load_alignment_record()["pairs"]["verbose"]
    pairs = TextComparisons(
        record["prompt_ids"], record["prompts"], record["chosen"], record["rejected"]
    )
    run = LMDPORun(pairs, steps=iters + 2, eval_every=1000, seed=0, **common)
    run.step()  # the reference's log-probs, the first measurement and a step
    walls = []
    for _ in range(iters):
        w0 = time.perf_counter()
        run.step()
        walls.append(1000 * (time.perf_counter() - w0))
    out["dpo_step_ms"] = statistics.median(walls)
    run = LMDPORun(pairs, steps=iters, eval_every=5, seed=1, **common)
    out["dpo_slice_max_ms"], out["dpo_slices"] = timed_slices(
        run.slices(), lambda e: e == "step", iters + 1
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--long", action="store_true", help="also time 50 PPO iterations")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result = rows(args.iters, args.long)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
