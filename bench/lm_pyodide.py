"""The tiny transformer in Pyodide (the reader's browser runtime), next to CPython.

Has the runtime build step (``python -m tools.runtime``) fetch the pinned wheels the site uses
(numpy 2.0.2 for Pyodide, checked against npm pyodide's lock; array-api-compat), runs ``bench/lm_speed.py`` in Pyodide 0.27.7 under Node (``bench/lm_pyodide.mjs``; Node
runs the same V8 WebAssembly engine as Chromium) and in this CPython, and prints both,
CPU time per call, best of ``--repeat``:

- fwd+bwd: forward + next-token loss + backward on 16 x 32 tokens;
- sample: 16 prompts of 10 tokens, 32 new tokens each, with the KV cache;
- ppo-iter: one PPO iteration's model work (sampling, three forwards on the rollouts,
  two epochs of forward + backward + AdamW), for the next step's <= 300 ms target.

    python bench/lm_pyodide.py [--repeat 5]
    python bench/lm_pyodide.py --align [--iters 10] [--long]   # PPO and DPO on the model
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ensure_wheels() -> None:
    """numpy's Pyodide wheel and array-api-compat in build/runtime-cache/: the runtime build
    step (``python -m tools.runtime``, quick when nothing changed) puts them there."""
    subprocess.run([sys.executable, "-m", "tools.runtime"], cwd=ROOT, check=True)


def pyodide_rows(repeat: int, script: list[str] | None = None) -> list[dict]:
    args = ["--repeat", str(repeat)] if script is None else ["--", *script]
    done = subprocess.run(
        ["node", str(ROOT / "bench" / "lm_pyodide.mjs"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"node bench/lm_pyodide.mjs failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def align(iters: int, long: bool) -> None:
    """bench/lm_align_speed.py in Pyodide and in this CPython, side by side."""
    sys.path.insert(0, str(ROOT / "bench"))
    script = ["bench/lm_align_speed.py", "--iters", str(iters), *(["--long"] if long else [])]
    wasm = pyodide_rows(0, script)
    native = json.loads(
        subprocess.run(
            [sys.executable, *script, "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    print(
        f"\nAligning the language model (Pyodide 0.27.7 under Node | CPython), {iters} iterations"
    )
    for key in ("import_ms", "import_lm_ms", "ppo_slice_max_ms", "dpo_step_ms", "dpo_slice_max_ms"):
        print(f"{key:<22} {wasm[key]:9.1f} | {native[key]:8.1f}")
    for key in ("median_wall", "best_wall", "median_cpu"):
        print(
            f"ppo_iter_ms {key:<10} {wasm['ppo_iter_ms'][key]:9.1f} | {native['ppo_iter_ms'][key]:8.1f}"
        )
    if long:
        print(f"{'ppo_50_s':<22} {wasm['ppo_50_s']:9.2f} | {native['ppo_50_s']:8.2f}")
    print(
        "LM modules imported by `import rlhf_mini`:",
        wasm["lm_modules_imported_by_import_rlhf_mini"],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--align", action="store_true", help="time PPO and DPO on the model instead")
    ap.add_argument("--iters", type=int, default=10, help="with --align: iterations timed")
    ap.add_argument("--long", action="store_true", help="with --align: also 50 iterations")
    args = ap.parse_args()
    ensure_wheels()
    if args.align:
        align(args.iters, args.long)
        return
    sys.path.insert(0, str(ROOT / "bench"))
    import lm_speed

    native = lm_speed.rows(args.repeat)
    wasm = pyodide_rows(args.repeat)
    print(f"\nCPU ms per call, best of {args.repeat} (Pyodide 0.27.7 under Node | CPython)")
    print(f"{'size':<8} {'dtype':<8} {'params':>7} {'fwd+bwd':>17} {'sample':>17} {'ppo-iter':>17}")
    for w, c in zip(wasm, native, strict=True):
        cells = [f"{w[k]:7.1f} | {c[k]:6.1f}" for k in ("fwd_bwd_ms", "sample_ms", "ppo_iter_ms")]
        print(
            f"{w['size']:<8} {w['dtype']:<8} {w['params']:>7} "
            + " ".join(f"{x:>17}" for x in cells)
        )
    print(
        f"matmul (1024x64)@(64x256): Pyodide {wasm[0]['matmul_gflops']:.1f} / "
        f"{wasm[-1]['matmul_gflops']:.1f} GFLOP/s (float32 / float64, numpy's @)"
    )


if __name__ == "__main__":
    main()
