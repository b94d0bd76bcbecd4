"""The tiny transformer in Pyodide (the reader's browser runtime), next to CPython.

Fetches the pinned wheels the site build uses (numpy 2.0.2 for Pyodide, checked against
npm pyodide's lock; array-api-compat) into ``build/runtime/`` the way ``docs/hooks/runtime.py``
does, runs ``bench/lm_speed.py`` in Pyodide 0.27.7 under Node (``bench/lm_pyodide.mjs``; Node
runs the same V8 WebAssembly engine as Chromium) and in this CPython, and prints both,
CPU time per call, best of ``--repeat``:

- fwd+bwd: forward + next-token loss + backward on 16 x 32 tokens;
- sample: 16 prompts of 10 tokens, 32 new tokens each, with the KV cache;
- ppo-iter: one PPO iteration's model work (sampling, three forwards on the rollouts,
  two epochs of forward + backward + AdamW), for the next step's <= 300 ms target.

    python bench/lm_pyodide.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ensure_wheels() -> None:
    """numpy's Pyodide wheel and array-api-compat in build/runtime/, as the site build has them."""
    spec = importlib.util.spec_from_file_location("runtime", ROOT / "docs" / "hooks" / "runtime.py")
    runtime = importlib.util.module_from_spec(spec)
    sys.modules["runtime"] = runtime  # dataclasses look their module up there
    spec.loader.exec_module(runtime)
    runtime.numpy_wheel()
    for requirement in runtime.PURE_WHEELS:
        runtime._pip_download(requirement, runtime.CACHE / "pip")


def pyodide_rows(repeat: int) -> list[dict]:
    done = subprocess.run(
        ["node", str(ROOT / "bench" / "lm_pyodide.mjs"), "--repeat", str(repeat)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"node bench/lm_pyodide.mjs failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    ensure_wheels()
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
