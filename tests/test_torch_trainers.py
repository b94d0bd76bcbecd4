"""Every trainer gives the same history on numpy and on torch for the same seed.

Randomness comes from one ``numpy.random.Generator`` on the CPU whatever the backend, so a
numpy run and a torch run (CPU here; CUDA under the ``gpu`` marker) of one seed see the same
samples and must log the same numbers up to float64 round-off. float32 torch runs must
stay finite and close to the float64 run.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from rlhf_mini.experiments.overoptimization import overoptimization_curve
from rlhf_mini.experiments.pipeline import run_pipeline
from rlhf_mini.models.softmax_policy import base_policy
from rlhf_mini.trainers.dpo import train_dpo
from rlhf_mini.trainers.grpo import train_grpo, train_rloo
from rlhf_mini.trainers.ppo import train_ppo
from rlhf_mini.trainers.reward_model import train_reward_model
from rlhf_mini.trainers.sft import sft_policy, supervised_finetune
from rlhf_mini.trainers.token_ppo import train_token_ppo
from rlhf_mini.worlds.bandit import load_world, simulate_comparisons

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


class Run(NamedTuple):
    history: dict[str, list[float]]
    state: np.ndarray  # the trained parameters, as numpy
    backend: str | None  # what the result says it ran on, where it says


def _comparisons():
    return simulate_comparisons(300, seed=1)


def _policy_run(res):
    return Run(res.history, res.policy.to_numpy(), res.config["backend"])


def _token_run(res):
    state = np.concatenate([res.theta.ravel(), res.value.ravel()])
    return Run(res.history, state, res.config["backend"])


def _sft(**kw):
    world = load_world()
    run = supervised_finetune(base_policy(world, **kw), world.demonstrations())
    policy, history = run.policy, run.history
    return Run(history, policy.to_numpy(), policy.backend)


def _pipeline(**kw):
    res = run_pipeline(ppo_steps=20, rm_steps=20, seed=2, **kw)
    aligned = res.stage("aligned").metrics
    state = np.array([aligned[k] for k in sorted(aligned) if isinstance(aligned[k], float)])
    return Run(_pipeline_history(res), state, res.config["backend"])


def _pipeline_history(res):
    """The pipeline's scalar stage metrics and stage histories, as one flat history."""
    history = {}
    for stage in res.stages:
        for key, value in stage.metrics.items():
            if isinstance(value, (int, float)):
                history[f"{stage.name}.{key}"] = [float(value)]
        for key, values in stage.history.items():
            history[f"{stage.name}.history.{key}"] = [float(v) for v in values]
    return history


def _overoptimization(**kw):
    res = overoptimization_curve(**kw)
    history = {k: [float(p[k]) for p in res.points] for k in res.points[0]}
    return Run(history, np.array([res.peak()["gold_reward"]]), None)


# name -> a run taking backend= / device=; numpy and torch must agree on each
RUNS = {
    "ppo": lambda **kw: _policy_run(train_ppo(steps=20, seed=3, log_every=1, **kw)),
    "ppo-adaptive-kl": lambda **kw: _policy_run(
        train_ppo(steps=20, seed=4, kl_target=0.5, update_epochs=3, **kw)
    ),
    # a reference policy built on numpy, handed to a run on another backend
    "ppo-numpy-reference": lambda **kw: _policy_run(
        train_ppo(steps=10, seed=5, reference=sft_policy(), anneal_lr=False, **kw)
    ),
    "dpo-sigmoid": lambda **kw: _policy_run(
        train_dpo(_comparisons(), steps=20, seed=3, log_every=1, **kw)
    ),
    "dpo-ipo": lambda **kw: _policy_run(
        train_dpo(_comparisons(), steps=20, seed=3, loss_type="ipo", **kw)
    ),
    "dpo-hinge": lambda **kw: _policy_run(
        train_dpo(_comparisons(), steps=20, seed=3, loss_type="hinge", **kw)
    ),
    "dpo-robust": lambda **kw: _policy_run(
        train_dpo(_comparisons(), steps=20, seed=3, loss_type="robust", label_smoothing=0.1, **kw)
    ),
    "dpo-kto": lambda **kw: _policy_run(
        train_dpo(_comparisons(), steps=20, seed=3, loss_type="kto", **kw)
    ),
    "dpo-simpo": lambda **kw: _policy_run(
        train_dpo(_comparisons(), steps=20, seed=3, loss_type="simpo", label_smoothing=0.1, **kw)
    ),
    "dpo-orpo": lambda **kw: _policy_run(
        train_dpo(_comparisons(), steps=20, seed=3, loss_type="orpo", **kw)
    ),
    "grpo": lambda **kw: _policy_run(train_grpo(steps=20, seed=3, log_every=1, **kw)),
    "grpo-epochs-none": lambda **kw: _policy_run(
        train_grpo(steps=15, seed=5, update_epochs=3, scale_rewards="none", lr=3.0, **kw)
    ),
    "rloo": lambda **kw: _policy_run(train_rloo(steps=20, seed=3, log_every=1, **kw)),
    "reward-model": lambda **kw: (
        lambda res: Run(res.history, res.model.weights, res.config["backend"])
    )(train_reward_model(_comparisons(), steps=30, seed=3, **kw)),
    "reward-model-mlp": lambda **kw: (
        lambda res: Run(
            res.history,
            np.concatenate([res.model.w.ravel(), res.model.c, res.model.v]),
            res.config["backend"],
        )
    )(train_reward_model(_comparisons(), hidden=6, steps=30, seed=3, **kw)),
    "token-ppo": lambda **kw: _token_run(train_token_ppo(steps=3, seed=3, **kw)),
    "token-ppo-options": lambda **kw: _token_run(
        train_token_ppo(steps=2, seed=6, ent_coef=0.01, normalize_advantages=False, lam=0.0, **kw)
    ),
    "sft": _sft,
    "pipeline": _pipeline,
    "overoptimization-ppo": lambda **kw: _overoptimization(
        betas=[5.0, 0.5], method="ppo", steps=20, **kw
    ),
    "overoptimization-steps": lambda **kw: _overoptimization(sweep="steps", steps=20, **kw),
}


def _assert_same_history(h_np, h_t, rtol, atol):
    assert list(h_t) == list(h_np)
    for key in h_np:
        a, b = np.asarray(h_np[key], dtype=float), np.asarray(h_t[key], dtype=float)
        assert a.shape == b.shape, key
        assert a.size > 0, key
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=key)


@pytest.fixture(scope="module")
def numpy_runs():
    """Each trainer's numpy run, computed once for all devices."""
    return {}


def _numpy_run(cache, name):
    if name not in cache:
        cache[name] = RUNS[name]()
    return cache[name]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(RUNS))
def test_history_is_the_same_on_numpy_and_torch(name, device, numpy_runs):
    res_np = _numpy_run(numpy_runs, name)
    res_t = RUNS[name](backend="torch", device=device)
    if res_np.backend is not None:
        assert (res_np.backend, res_t.backend) == ("numpy", "torch")
    _assert_same_history(res_np.history, res_t.history, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(res_t.state, res_np.state, rtol=1e-9, atol=1e-11)
    # the run did something: the logged values are not all constant
    assert any(len(set(v)) > 1 for v in res_np.history.values())


@pytest.mark.parametrize("name", ["ppo", "dpo-sigmoid", "token-ppo"])
def test_torch_runs_are_reproducible_and_depend_on_the_seed(name):
    a, b = RUNS[name](backend="torch"), RUNS[name](backend="torch")
    for key in a.history:
        assert a.history[key] == b.history[key], key


def test_another_seed_gives_another_history():
    a = train_ppo(steps=5, seed=0, backend="torch").history
    b = train_ppo(steps=5, seed=1, backend="torch").history
    assert a["clip_fraction"] != b["clip_fraction"] or a["kl"] != b["kl"]


# Shares of samples / comparisons on one side of a threshold: step functions of the
# state, so float32 round-off may move a few items across (exactly tied DPO margins).
FRACTION_KEYS = {"accuracy", "train_accuracy", "heldout_accuracy", "clip_fraction"}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(RUNS))
def test_float32_torch_runs_stay_finite_and_close(name, device, numpy_runs):
    res_np = _numpy_run(numpy_runs, name)
    res_32 = RUNS[name](backend="torch", device=device, dtype="float32")
    for key, values in res_32.history.items():
        assert np.all(np.isfinite(np.asarray(values, dtype=float))), key
    assert np.all(np.isfinite(res_32.state))
    # it did compute in float32: round-off differs from the float64 run somewhere
    assert any(res_32.history[k] != res_np.history[k] for k in res_np.history)
    # float32 follows the float64 trajectory (short runs): continuous quantities closely,
    # fractions up to a few items
    fractions = {k for k in res_np.history if k.rsplit(".", 1)[-1] in FRACTION_KEYS}
    continuous = {k: v for k, v in res_np.history.items() if k not in fractions}
    _assert_same_history(
        continuous, {k: res_32.history[k] for k in continuous}, rtol=2e-3, atol=2e-3
    )
    for key in fractions:
        np.testing.assert_allclose(res_32.history[key], res_np.history[key], atol=0.15)


# --- dtype= ------------------------------------------------------------------------------

DTYPE_RUNS = {
    "ppo": lambda **kw: train_ppo(steps=40, seed=0, **kw),
    "dpo": lambda **kw: train_dpo(_comparisons(), steps=40, seed=0, **kw),
    "dpo-orpo": lambda **kw: train_dpo(_comparisons(), steps=40, seed=0, loss_type="orpo", **kw),
    "grpo": lambda **kw: train_grpo(steps=40, seed=0, **kw),
    "rloo": lambda **kw: train_rloo(steps=40, seed=0, **kw),
    "reward_model": lambda **kw: train_reward_model(_comparisons(), steps=20, seed=0, **kw),
    "token_ppo": lambda **kw: train_token_ppo(steps=5, seed=0, **kw),
    "pipeline": lambda **kw: _pipeline_result(**kw),
    "overoptimization": lambda **kw: _overoptimization_result(**kw),
}


def _pipeline_result(**kw):
    """run_pipeline with a ``history`` of its scalar stage metrics, like the trainers'."""
    res = run_pipeline(ppo_steps=20, rm_steps=20, seed=2, **kw)
    res.history = _pipeline_history(res)
    return res


def _overoptimization_result(**kw):
    res = overoptimization_curve(betas=[5.0, 0.5], method="ppo", steps=20, **kw)
    res.history = {k: [float(p[k]) for p in res.points] for k in res.points[0]}
    return res


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", DTYPE_RUNS)
def test_dtype_float32_computes_in_float32_and_follows_float64(name, device):
    import torch

    f32 = DTYPE_RUNS[name](backend="torch", device=device, dtype="float32")
    f64 = DTYPE_RUNS[name](backend="torch", device=device)
    assert f32.config["dtype"] == "float32" and f64.config["dtype"] == "float64"
    if name in ("ppo", "dpo", "dpo-orpo", "grpo", "rloo"):  # the others: numpy copies
        assert f32.policy.logits.dtype is torch.float32
    if name == "pipeline":  # every stage ran in float32: round-off differs from float64
        assert f32.history != f64.history
    for key, values in f32.history.items():
        assert np.all(np.isfinite(values)), key
        # the first logged values agree to float32 precision (accuracies and fractions of
        # later steps may flip on exact ties; the float32 fixture test above bounds those)
        np.testing.assert_allclose(values[0], f64.history[key][0], rtol=1e-5, atol=1e-5)


def test_dtype_float32_on_numpy_too():
    res = train_ppo(steps=20, seed=0, dtype="float32")
    assert res.policy.logits.dtype == np.float32 and res.config["dtype"] == "float32"


@pytest.mark.parametrize("run", DTYPE_RUNS.values(), ids=list(DTYPE_RUNS))
def test_bad_dtype_is_refused(run):
    with pytest.raises(ValueError, match="dtype must be"):
        run(dtype="float16")
