"""Aligning the tiny language model: the KL weight, reward hacking, and DPO on the same labels.

Public names
------------
kl_weight_comparison(...)    one PPO run per KL weight beta, against one reward model
reward_hacking_run(...)      PPO on a weak leash against the verbosity-loving reward model:
                             where the gold utility peaked, and the samples before, at and
                             after the peak
smooth(history, window)      block means of a history (what the peak is read on)
samples_at(result, step)     the shown samples nearest a step
alignment_record(...)        every run the lesson, its figures and the widget show, as JSON
load_alignment_record()      that record as shipped (``experiments/data/lm_alignment.json``)
matching_iterations(a, b)    for how many first iterations two records' PPO runs agree

The claims, checked by the tests on the shipped record and re-derivable by
``python -m rlhf_mini lm-alignment``:

- The KL is summed over a response's tokens, so practice's KL weights matter: after the
  same number of iterations, beta = 0.01 drifts at least twice as far from the SFT model as
  beta = 0.2 and collects more proxy reward (:func:`kl_weight_comparison`).
- Against the verbosity-loving reward model, a weakly held run (beta = 0.01, many
  iterations) raises the proxy reward throughout while the gold utility first rises, then
  falls - reward hacking, read with :func:`rlhf_mini.gold_peak` (the criterion of
  :func:`rlhf_mini.overoptimization_curve`) on the history smoothed over blocks of
  iterations (a rollout of 16 responses is a noisy measurement). Its samples show why.
- DPO on that reward model's own comparisons (:func:`rlhf_mini.trainers.lm_dpo.train_lm_dpo`)
  learns the same labels without a reward model and without sampling during training.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import numpy as np

from rlhf_mini.core.checks import check_int, check_positive
from rlhf_mini.experiments.overoptimization import gold_peak
from rlhf_mini.trainers.lm_ppo import LMPPOResult, train_lm_ppo

__all__ = [
    "HACKING",
    "KL_BETAS",
    "alignment_record",
    "kl_weight_comparison",
    "load_alignment_record",
    "matching_iterations",
    "reward_hacking_run",
    "samples_at",
    "smooth",
]

#: The KL weights the lesson compares: the ends of the range used in practice.
KL_BETAS = (0.01, 0.2)
#: The reward models the record runs PPO against.
REWARD_MODELS = ("verbose", "faithful")
#: Iterations of each recorded PPO run.
STEPS = 300
#: The reward-hacking run: a weak leash, many iterations, the verbosity-loving reward model.
HACKING_BETA, HACKING_REWARD_MODEL = 0.01, "verbose"
HACKING: dict[str, Any] = {
    "beta": HACKING_BETA,
    "steps": STEPS,
    "reward_model": HACKING_REWARD_MODEL,
}
#: Iterations per block when a history is smoothed.
WINDOW = 10
#: A fall of the smoothed gold utility by more than this below its peak is overoptimisation
#: (the noise of a 10-iteration mean of 16-response rollouts is about 0.1).
HACKING_DROP = 0.5
#: Significant digits of the numbers in the record.
DIGITS = 6


def smooth(history: dict[str, list[float]], window: int = WINDOW) -> list[dict[str, float]]:
    """Block means of a history: one point per ``window`` iterations (a last, shorter block
    included), each the mean of every entry over its block; ``step`` is the block's last
    iteration.

    Examples
    --------
    >>> h = {"step": [0, 1, 2, 3, 4], "gold_utility": [1.0, 3.0, 5.0, 7.0, 9.0]}
    >>> smooth(h, 2)
    [{'step': 1, 'gold_utility': 2.0}, {'step': 3, 'gold_utility': 6.0}, {'step': 4, 'gold_utility': 9.0}]
    """
    window = check_int(window, "window")
    n = len(history["step"])
    points = []
    for start in range(0, n, window):
        block = slice(start, min(start + window, n))
        point = {k: float(np.mean(v[block])) for k, v in history.items() if k != "step"}
        points.append({"step": history["step"][block.stop - 1], **point})
    return points


def kl_weight_comparison(
    betas: Any = KL_BETAS,
    *,
    steps: int = STEPS,
    reward_model: str = "verbose",
    seed: int = 0,
    **options: Any,
) -> dict[float, LMPPOResult]:
    """One :func:`rlhf_mini.trainers.lm_ppo.train_lm_ppo` run per beta, same seed and reward
    model: beta -> result. Compare the final smoothed KL and proxy reward (:func:`smooth`).

    Examples
    --------
    >>> runs = kl_weight_comparison(steps=2, batch_size=4, max_new_tokens=8)
    >>> sorted(runs), runs[0.01].config["beta"]
    ([0.01, 0.2], 0.01)
    """
    return {
        float(check_positive(b, "betas")): train_lm_ppo(
            beta=float(b), steps=steps, reward_model=reward_model, seed=seed, **options
        )
        for b in betas
    }


def samples_at(result: Any, step: int) -> dict[str, Any]:
    """The snapshot of shown samples (``result.samples``, or a recorded run's) taken nearest
    to ``step``."""
    samples = result["samples"] if isinstance(result, dict) else result.samples
    if not samples:
        raise ValueError("the run recorded no samples")
    return min(samples, key=lambda s: (abs(s["step"] - step), s["step"]))


def reward_hacking_run(
    *,
    beta: float = HACKING_BETA,
    steps: int = STEPS,
    reward_model: str = HACKING_REWARD_MODEL,
    seed: int = 0,
    window: int = WINDOW,
    **options: Any,
) -> dict[str, Any]:
    """PPO against the verbosity-loving reward model on a weak leash, and what happened.

    Returns a dict: ``result`` (the :class:`LMPPOResult`), ``points`` (:func:`smooth`),
    ``peak`` (:func:`rlhf_mini.gold_peak` on the points, with ``tol`` =
    :data:`HACKING_DROP`), and ``samples``: the shown samples before training, at the peak
    and at the end (:func:`samples_at`).

    Examples
    --------
    >>> out = reward_hacking_run(steps=3, batch_size=4, max_new_tokens=8, window=2)
    >>> [p["step"] for p in out["points"]], sorted(out["samples"])
    ([1, 2], ['after', 'at', 'before'])
    """
    result = train_lm_ppo(beta=beta, steps=steps, reward_model=reward_model, seed=seed, **options)
    return _hacking_summary(result.to_dict(), window) | {"result": result}


def _hacking_summary(run: dict[str, Any], window: int = WINDOW) -> dict[str, Any]:
    points = smooth(run["history"], window)
    peak = gold_peak(points, HACKING_DROP, gold="gold_utility")
    last = run["history"]["step"][-1] + 1  # the final samples are taken after the last update
    return {
        "points": points,
        "peak": peak,
        "samples": {
            "before": samples_at(run, 0),
            "at": samples_at(run, peak["peak"]["step"]),
            "after": samples_at(run, last),
        },
    }


# ---------------------------------------------------------------------------------------
# the shipped record


def alignment_record(
    *, seed: int = 0, steps: int = STEPS, dpo_steps: int = 300, callback: Any = None
) -> dict[str, Any]:
    """Every run the lesson, its figures and the widget show, JSON-ready (numbers to
    :data:`DIGITS` significant digits):

    - ``ppo[reward_model][beta]``: :func:`kl_weight_comparison` against each reward model
      (the runs' ``to_dict()``: config, final values, history, samples);
    - ``hacking``: the verbose beta = 0.01 run read as :func:`reward_hacking_run` does
      (``points``, ``peak``, ``samples`` before, at and after the peak);
    - ``dpo[reward_model]``: :func:`rlhf_mini.trainers.lm_dpo.train_lm_dpo` on that reward
      model's comparisons (held-out ones measured), measured on 64 samples;
    - ``pairs[reward_model]``: the first 256 of those training comparisons (the widget's DPO
      data; both labellings of the same sampled responses).

    Takes about five minutes on one core; ``callback(name)`` is called as each run starts.
    ``python -m rlhf_mini lm-alignment --out FILE`` writes it.
    """
    from rlhf_mini.trainers.lm_dpo import reward_model_pairs, train_lm_dpo

    def started(name: str) -> None:
        if callback is not None:
            callback(name)

    record: dict[str, Any] = {"seed": seed, "ppo": {}, "dpo": {}, "pairs": {}}
    for name in REWARD_MODELS:
        record["ppo"][name] = {}
        for beta in KL_BETAS:
            started(f"ppo {name} beta={beta:g}")
            (res,) = kl_weight_comparison(
                (beta,), steps=steps, reward_model=name, seed=seed
            ).values()
            record["ppo"][name][f"{beta:g}"] = res.to_dict()
    hacking = record["ppo"][HACKING["reward_model"]][f"{HACKING['beta']:g}"]
    record["hacking"] = _hacking_summary(hacking)
    for name in REWARD_MODELS:
        started(f"dpo {name}")
        train, heldout = reward_model_pairs(name)
        dpo = train_lm_dpo(
            train, heldout=heldout, reward_model=name, steps=dpo_steps, eval_size=64, seed=seed
        )
        record["dpo"][name] = dpo.to_dict()
        first = train.subset(range(min(256, len(train))))
        record["pairs"][name] = {
            "prompt_ids": first.prompt_ids,
            "prompts": first.prompts,
            "chosen": first.chosen,
            "rejected": first.rejected,
        }
    return _rounded(record)


def _rounded(value: Any) -> Any:
    """``value`` with every float rounded to :data:`DIGITS` significant digits (and numpy
    scalars and arrays made plain), for a compact, stable JSON file."""
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_rounded(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(f"{float(value):.{DIGITS}g}")
    return value


def load_alignment_record() -> dict[str, Any]:
    """The shipped record of :func:`alignment_record` (default arguments).

    Examples
    --------
    >>> record = load_alignment_record()
    >>> sorted(record["ppo"]["verbose"]), record["hacking"]["peak"]["overoptimised"]
    (['0.01', '0.2'], True)
    """
    path = resources.files("rlhf_mini.experiments").joinpath("data", "lm_alignment.json")
    return json.loads(path.read_text("utf-8"))


def matching_iterations(
    record: dict[str, Any], other: dict[str, Any], *, rtol: float = 2e-4, atol: float = 2e-5
) -> int:
    """For how many first iterations every PPO run of ``record`` agrees with ``other``'s
    (every logged quantity within ``rtol``/``atol``, as ``numpy.isclose``).

    A float32 run is chaotic: a different rounding (another CPU's BLAS kernels, a library
    version that sums in another order) changes a sample after a while, and from then on
    the two runs differ. The agreement of their first iterations is what can be checked.

    Examples
    --------
    >>> record = load_alignment_record()
    >>> matching_iterations(record, record)
    300
    """
    counts = []
    for name, by_beta in record["ppo"].items():
        for beta, run in by_beta.items():
            mine = run["history"]
            theirs = other.get("ppo", {}).get(name, {}).get(beta, {}).get("history", {})
            n = min([len(mine["step"])] + [len(v) for v in theirs.values()])
            agree = n
            for key, values in mine.items():
                if key not in theirs:
                    agree = 0
                    break
                close = np.isclose(values[:n], theirs[key][:n], rtol=rtol, atol=atol)
                agree = min(agree, int(np.argmin(close)) if not close.all() else n)
            counts.append(agree)
    return min(counts) if counts else 0
