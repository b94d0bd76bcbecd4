"""Speed of the tiny transformer (rlhf_mini.models.transformer) at candidate sizes.

Runs unchanged in CPython and in Pyodide (``bench/lm_pyodide.mjs`` runs it under Node), so
the two columns come from the same code. For each size and dtype, the best of ``repeat``
calls (after one warm-up) of:

Times are CPU times (other programs on a busy machine do not inflate them; under Node
they come from ``process.cpuUsage``), in ms:

- ``fwd+bwd``: forward + next-token loss + backward on 16 sequences x 32 tokens;
- ``sample``: 16 prompts of 10 tokens, 32 new tokens each with the KV cache (no early EOS);
- ``ppo-iter``: what one PPO iteration of the next step costs: the sampling pass, three
  forwards on the 16 x 42 rollouts (policy with values, frozen reference, reward model
  without logits), then 2 epochs of forward + backward + AdamW on the policy.

    python bench/lm_speed.py [--repeat 5] [--json]
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from rlhf_mini.core.optim import AdamW
from rlhf_mini.models import transformer as tr

#: (name, vocab_size, n_embd, n_layer, n_head); n_positions = 64 for all. The first is the
#: shipped model (the text world's 595 tokens).
SIZES = (
    ("d32-L2", 595, 32, 2, 4),
    ("d48-L2", 595, 48, 2, 4),
    ("d64-L1", 595, 64, 1, 4),
    ("d64-L2", 595, 64, 2, 4),
)


def _cpu_clock():
    """Seconds of CPU time of this process: what other programs on a busy machine do not
    inflate. Under Node (Pyodide) ``time.process_time`` is wall time, so ask Node."""
    if sys.platform == "emscripten":
        import js

        def clock() -> float:
            usage = js.process.cpuUsage()
            return (usage.user + usage.system) * 1e-6

        return clock
    return time.process_time


cpu_clock = _cpu_clock()


def best_of(fn, repeat: int) -> float:
    """The best CPU time of ``repeat`` calls after a warm-up, in ms."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = cpu_clock()
        fn()
        times.append(cpu_clock() - t0)
    return min(times) * 1e3


def measure(size: tuple, dtype: str, repeat: int) -> dict:
    name, V, d, L, H = size
    cfg = tr.GPTConfig(vocab_size=V, n_positions=64, n_embd=d, n_layer=L, n_head=H)
    rng = np.random.default_rng(0)
    policy = tr.init_params(cfg, 0, heads=("value",), dtype=dtype)
    ref = tr.init_params(cfg, 1, dtype=dtype)
    rm = tr.init_params(cfg, 2, heads=("reward",), dtype=dtype)
    tokens = rng.integers(4, V, size=(16, 32))

    def fwd_bwd() -> None:
        out = tr.forward(policy, cfg, tokens)
        _, dlogits = tr.next_token_loss(out.logits, tokens)
        tr.backward(policy, cfg, out.cache, dlogits)

    prompts = [list(rng.integers(4, V, size=10)) for _ in range(16)]

    def sampling() -> tr.Batch:
        return tr.sample(
            policy, cfg, prompts, np.random.default_rng(0), max_new_tokens=32, eos_id=V, pad_id=0
        )

    opt = AdamW(lr=1e-4)

    def ppo_iteration() -> None:
        nonlocal policy
        s = sampling()
        tr.forward(policy, cfg, s.tokens, s.attention_mask)
        tr.forward(ref, cfg, s.tokens, s.attention_mask)
        tr.forward(rm, cfg, s.tokens, s.attention_mask, logits=False)
        for _ in range(2):
            out = tr.forward(policy, cfg, s.tokens, s.attention_mask)
            _, dlogits = tr.next_token_loss(out.logits, s.tokens, s.response_mask)
            grads = tr.backward(policy, cfg, out.cache, dlogits, out.values * 0.01)
            policy = opt.step(policy, grads)

    return {
        "size": name,
        "dtype": dtype,
        "params": tr.n_params(cfg),
        "fwd_bwd_ms": best_of(fwd_bwd, repeat),
        "sample_ms": best_of(sampling, repeat),
        "ppo_iter_ms": best_of(ppo_iteration, max(1, repeat // 2)),
    }


def matmul_gflops(dtype: str) -> float:
    """The (1024x64)@(64x256) matmul of the design notes, in GFLOP/s."""
    a = np.ones((1024, 64), dtype=dtype)
    b = np.ones((64, 256), dtype=dtype)
    ms = best_of(lambda: a @ b, 5)
    return 2 * 1024 * 64 * 256 / (ms * 1e-3) / 1e9


def rows(repeat: int) -> list[dict]:
    """One row per dtype and size."""
    out = []
    for dtype in ("float32", "float64"):
        gf = matmul_gflops(dtype)
        for size in SIZES:
            row = measure(size, dtype, repeat)
            row["matmul_gflops"] = gf
            out.append(row)
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    argv = sys.argv[1:] if argv is None else argv
    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 5
    table = rows(repeat)
    if "--json" in argv:
        print(json.dumps(table))
    else:
        print(
            f"{'size':<8} {'dtype':<8} {'params':>7} {'fwd+bwd ms':>11} {'sample ms':>10} "
            f"{'ppo-iter ms':>12} {'GFLOP/s':>8}"
        )
        for r in table:
            print(
                f"{r['size']:<8} {r['dtype']:<8} {r['params']:>7} {r['fwd_bwd_ms']:>11.1f} "
                f"{r['sample_ms']:>10.1f} {r['ppo_iter_ms']:>12.1f} {r['matmul_gflops']:>8.1f}"
            )
    return table


if __name__ == "__main__":
    main()
