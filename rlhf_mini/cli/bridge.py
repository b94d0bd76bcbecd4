"""Subcommands for the modern methods and the bridge to TRL.

    rlhf-mini best-of-n          exact best-of-n on the bandit: KL to the policy vs the bound
    rlhf-mini export-trl OUT_DIR preference data, prompts, reward and scripts for TRL

:func:`register` adds them to the command line's subparsers. Like every subcommand, each
``run`` returns ``(result, text, plot)``: the JSON-able result, the readable table and a
function saving a figure. Option values are checked by the library, whose errors name them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["register"]

Plot = Callable[[str], None]

BEST_OF_N = (1, 2, 4, 8, 16, 32, 64, 128)


def register(subparsers: Any) -> None:
    """Add ``best-of-n`` and ``export-trl`` to ``subparsers`` (of ``argparse``)."""
    p = subparsers.add_parser(
        "best-of-n",
        help="Exact best-of-n on the bandit: KL to the policy against log n - (n-1)/n.",
        description="Best-of-n sampling on the bandit, computed exactly (no sampling): its "
        "KL to the policy, the usual bound log n - (n - 1)/n, and the gold reward it reaches.",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON only")
    p.add_argument("--plot", metavar="FILE.png", help="save a figure (needs matplotlib)")
    p.add_argument(
        "--n", type=int, nargs="+", default=list(BEST_OF_N), help="sample counts (default 1..128)"
    )
    p.add_argument(
        "--policy", choices=("sft", "base"), default="sft", help="the sampling policy (sft)"
    )
    p.set_defaults(run=_cmd_best_of_n)

    p = subparsers.add_parser(
        "export-trl",
        help="Write preference data, prompts, a reward function and TRL training scripts.",
        description="Export the course's world for TRL: data/preferences.jsonl (prompt, "
        "chosen, rejected), data/prompts.jsonl, reward.py (the gold utility), train_dpo.py, "
        "train_grpo.py, accelerate configs (one GPU, several GPUs, DeepSpeed ZeRO-2), README.md.",
    )
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder to write (created; must be empty)")
    p.add_argument("--json", action="store_true", help="print the results as JSON only")
    p.add_argument(
        "--picks",
        metavar="FILE",
        default=None,
        help="the preference game's 'Download my picks' file (default: simulated labellers)",
    )
    p.add_argument("--n", type=int, default=1000, help="simulated comparisons (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--temperature", type=float, default=1.0, help="label noise")
    p.add_argument("--verbosity-bias", type=float, default=0.0, help="labellers' taste for length")
    p.add_argument(
        "--model",
        default=None,
        help="model the scripts train by default (default Qwen/Qwen2.5-0.5B-Instruct)",
    )
    p.add_argument(
        "--model-dir",
        default=None,
        metavar="DIR",
        help="a local transformers checkpoint to copy into OUT_DIR/model as the default model",
    )
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty OUT_DIR")
    p.set_defaults(run=_cmd_export_trl, plot=None)


def _cmd_best_of_n(args: argparse.Namespace) -> tuple[Any, str, Plot]:
    import numpy as np

    from rlhf_mini import base_policy, best_of_n_kl_bound, best_of_n_policy, load_world, sft_policy

    world = load_world()
    policy = (sft_policy if args.policy == "sft" else base_policy)(world)
    pi = np.asarray(policy.to_numpy())  # (P, K)
    gold = world.gold_utility()  # (P, K)
    tied = [p.id for p, u in zip(world.prompts, gold, strict=True) if len(set(u)) < len(u)]
    rows = []
    for n in args.n:
        probs, kl = best_of_n_policy(pi, gold, n)
        rows.append(
            {
                "n": n,
                "kl_bound": best_of_n_kl_bound(n),
                "kl_mean": float(np.mean(kl)),
                "kl_max": float(np.max(kl)),
                "gold_reward": float(np.mean(np.sum(probs * gold, axis=1))),
                "kl_per_prompt": kl.tolist(),
            }
        )
    result = {
        "policy": args.policy,
        "prompts": [p.id for p in world.prompts],
        "prompts_with_tied_rewards": tied,
        "best_gold_reward": float(np.mean(gold.max(axis=1))),
        "rows": rows,
    }
    from rlhf_mini.cli.output import table as _table

    table = _table(
        ["n", "KL bound", "exact KL (mean)", "exact KL (max)", "gold reward"],
        [[r["n"], r["kl_bound"], r["kl_mean"], r["kl_max"], r["gold_reward"]] for r in rows],
        f"Best-of-n from the {args.policy} policy, selected by gold utility "
        f"({world.n_prompts} prompts x {world.n_candidates} responses)",
    )
    text = "\n".join(
        [
            table,
            "",
            "log n - (n - 1)/n is exact only for continuous rewards; on a finite set of "
            "responses the exact KL is below it, and further below where rewards tie "
            f"({len(tied)} prompts here have tied responses). "
            f"Best possible gold reward: {result['best_gold_reward']:.4f}.",
        ]
    )

    def plot(path: str) -> None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10.0, 3.8), layout="constrained")
        ax_kl, ax_gold = fig.subplots(1, 2)
        ns = [r["n"] for r in rows]
        ax_kl.plot(ns, [r["kl_bound"] for r in rows], "o--", label="log n - (n-1)/n")
        ax_kl.plot(ns, [r["kl_mean"] for r in rows], "o-", label="exact KL (mean)")
        ax_kl.set_xscale("log", base=2)
        ax_kl.set_xlabel("n")
        ax_kl.set_ylabel("KL(best-of-n || policy)")
        ax_kl.legend()
        ax_gold.plot([r["kl_mean"] for r in rows], [r["gold_reward"] for r in rows], "o-")
        ax_gold.set_xlabel("exact KL (mean)")
        ax_gold.set_ylabel("gold reward")
        fig.savefig(path)

    return result, text, plot


def _cmd_export_trl(args: argparse.Namespace) -> tuple[Any, str, Plot | None]:
    from rlhf_mini.bridge.trl_export import DEFAULT_MODEL, export_trl

    res = export_trl(
        args.out_dir,
        picks=args.picks,
        n=args.n,
        seed=args.seed,
        temperature=args.temperature,
        verbosity_bias=args.verbosity_bias,
        model=DEFAULT_MODEL if args.model is None else args.model,
        model_dir=args.model_dir,
        overwrite=args.overwrite,
    )
    lines = [
        f"Wrote {len(res.files)} files to {res.out_dir}:",
        f"  data/preferences.jsonl  {res.n_pairs} pairs ({res.source})",
        f"  data/prompts.jsonl      {res.n_prompts} prompts",
        "  reward.py               the gold utility as a TRL reward function",
        f"  train_dpo.py, train_grpo.py  (default model: {res.model})",
        "  accelerate/             single_gpu.yaml, multi_gpu.yaml, zero2.yaml",
        "",
        f"Next: cd {res.out_dir} && accelerate launch --config_file "
        "accelerate/single_gpu.yaml train_dpo.py   (README.md has the rest)",
    ]
    return res.to_dict(), "\n".join(lines), None
