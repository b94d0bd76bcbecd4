"""Bradley–Terry fitting: rlhf_mini.fit_bradley_terry vs choix, same data, one run.

Prints wall time of each solver, the ratio (choix / ours, > 1 means we are faster) and the
max abs difference of the mean-centred scores (must be <= 1e-4).

    python bench/bt_fit.py            # 1,000 items / 100,000 and 10,000 items / 1,000,000
    python bench/bt_fit.py --quick    # 1,000 items / 100,000 only
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import choix
import numpy as np

from rlhf_mini import fit_bradley_terry


def make_data(n_items: int, n_comparisons: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, 1.0, n_items)
    a = rng.integers(0, n_items, n_comparisons)
    b = (a + rng.integers(1, n_items, n_comparisons)) % n_items
    a_wins = rng.random(n_comparisons) < 1 / (1 + np.exp(-(strength[a] - strength[b])))
    return np.stack([np.where(a_wins, a, b), np.where(a_wins, b, a)], axis=1)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def centred(s: np.ndarray) -> np.ndarray:
    return s - s.mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smallest size only")
    args = parser.parse_args()
    sizes = [(1_000, 100_000)] if args.quick else [(1_000, 100_000), (10_000, 1_000_000)]
    print(
        f"{'items':>7} {'comparisons':>12} {'l2':>5} {'peer':<22} {'ours s':>8} {'peer s':>8} {'ratio':>7} {'max|diff|':>10}"
    )
    for n_items, m in sizes:
        data = make_data(n_items, m)
        peers = [
            (0.0, "choix.ilsr_pairwise", partial(choix.ilsr_pairwise, tol=1e-10, max_iter=10_000)),
            # choix minimises alpha ||s||^2 + NLL; ours (l2 / 2) ||s||^2 + NLL
            (1.0, "choix.opt_pairwise", partial(choix.opt_pairwise, alpha=0.5, tol=1e-10)),
        ]
        for l2, peer_name, peer in peers:
            ours, t_ours = timed(partial(fit_bradley_terry, data, n_items, l2=l2))
            theirs, t_peer = timed(partial(peer, n_items, data))
            diff = float(np.max(np.abs(centred(ours) - centred(theirs))))
            flag = "" if diff <= 1e-4 else "  <-- exceeds 1e-4"
            print(
                f"{n_items:>7} {m:>12} {l2:>5} {peer_name:<22} {t_ours:>8.3f} {t_peer:>8.3f} "
                f"{t_peer / t_ours:>7.1f} {diff:>10.2e}{flag}",
                flush=True,
            )


if __name__ == "__main__":
    main()
