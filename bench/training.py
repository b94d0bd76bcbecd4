"""Training speed: is each run small enough for a browser widget?

Times, on CPython with numpy, after one warm-up run each:

- a 500-step response-level PPO run (:func:`rlhf_mini.train_ppo`), target < 0.5 s;
- GRPO and RLOO runs with their defaults (:func:`rlhf_mini.train_grpo`,
  :func:`rlhf_mini.train_rloo`, 200 steps), target < 1 s each;
- the method comparison of lesson 9 (:func:`rlhf_mini.compare_methods`: reward model, PPO,
  GRPO and RLOO for three betas, best-of-n for five n, DPO for three betas), target < 0.2 s,
  so that the widget computing it in the browser stays under a second;
- a 200-update token-level PPO run (:func:`rlhf_mini.train_token_ppo`), target < 5 s;
- scoring 1 MB of text in the playground (:func:`rlhf_mini.score_response`), target < 1 s;
- the tiny transformer (the shipped size, float64): forward + backward of the next-token
  loss on 16 sequences x 32 tokens with the hand-written backward on numpy, and the same
  step with torch CPU autograd through the same model code (one thread, as the suite runs
  torch), with their ratio (goal: numpy no slower than torch); and sampling 32 tokens for
  16 prompts with the KV cache. Pyodide's numbers: ``node bench/lm_pyodide.mjs``;
- one PPO iteration on the language model (:class:`rlhf_mini.LMPPORun`: 16 sampled
  responses, scoring, 2 epochs), float32 and float64, target < 60 ms (set
  ``OPENBLAS_NUM_THREADS=1``: two BLAS threads tripled the CPU time on a 2-core machine).
  In Pyodide: ``python bench/lm_pyodide.py --align``.

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
    lm_cases, ratio = transformer_cases()
    cases += lm_cases
    print(f"CPython {platform.python_version()}, numpy {np.__version__}, {args.repeat} repeats")
    print(f"{'case':<42} {'best s':>8} {'median s':>9} {'best cpu s':>11} {'target s':>9}  ok")
    for name, fn, target in cases:
        walls, cpus = measure(fn, args.repeat)
        best = min(walls)
        print(
            f"{name:<42} {best:8.3f} {statistics.median(walls):9.3f} {min(cpus):11.3f} "
            f"{target:9.2f}  {'yes' if best < target else 'NO'}"
        )
        if name in runs:
            history = fn().history
            step = plateau_step(history)
            share = step / history["step"][-1]
            print(
                f"{'':<4}plateau (proxy reward within 0.5 %) at step {step}: {best * share:.3f} s"
            )
    print(ratio())


def transformer_cases() -> tuple[list, Callable[[], str]]:
    """The tiny transformer's training step on numpy and with torch autograd, and sampling."""
    import torch

    from rlhf_mini.models import transformer as tr

    torch.set_num_threads(1)
    cfg = tr.GPTConfig(vocab_size=595, n_positions=64, n_embd=32, n_layer=2, n_head=4)
    params = tr.init_params(cfg, 0)
    t_params = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    tokens = np.random.default_rng(0).integers(5, 595, size=(16, 32))
    prompts = [list(range(5, 15))] * 16

    def numpy_step() -> object:
        out = tr.forward(params, cfg, tokens)
        _, dlogits = tr.next_token_loss(out.logits, tokens)
        return tr.backward(params, cfg, out.cache, dlogits)

    def torch_step() -> object:
        loss, _ = tr.next_token_loss(tr.forward(t_params, cfg, tokens).logits, tokens)
        return torch.autograd.grad(loss, list(t_params.values()))

    def sampling() -> object:
        return tr.sample(
            params, cfg, prompts, np.random.default_rng(0), max_new_tokens=32, eos_id=-1, pad_id=0
        )

    times: dict[str, float] = {}

    def timed(key: str, fn: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            c0 = time.process_time()
            out = fn()
            times[key] = min(times.get(key, 1e9), time.process_time() - c0)
            return out

        return run

    def ratio() -> str:
        r = times["numpy"] / times["torch"]
        return (
            f"tiny transformer fwd+bwd, numpy / torch-autograd CPU time: {r:.2f} "
            f"({'no slower than torch' if r <= 1 else 'slower than torch'})"
        )

    cases = [
        ("tiny GPT fwd+bwd 16x32, numpy", timed("numpy", numpy_step), 0.05),
        ("tiny GPT fwd+bwd 16x32, torch autograd", timed("torch", torch_step), 0.05),
        ("tiny GPT sample 16 x 32 tokens, KV cache", sampling, 0.1),
        *ppo_iteration_cases(),
    ]
    return cases, ratio


def ppo_iteration_cases() -> list:
    """One PPO iteration on the language model (``LMPPORun.step()``: 16 sampled responses,
    scoring, 2 epochs), in float32 (the default) and float64: target 60 ms. Each call is the
    next iteration of one run (against the verbosity-loving reward model, beta 0.01)."""
    from rlhf_mini import LMPPORun, load_language_model

    cases = []
    for dtype in ("float32", "float64"):
        sft = load_language_model("sft", dtype=dtype)
        rm = load_language_model("reward_verbose", dtype=dtype)
        run = LMPPORun(
            beta=0.01, steps=10**6, dtype=dtype, policy=sft, reference=sft, reward_model=rm
        )
        cases.append((f"LM PPO iteration (16 responses, {dtype})", run.step, 0.06))
    return cases


if __name__ == "__main__":
    main()
