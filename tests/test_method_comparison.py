"""The method comparison: every method on one world, against the exact ceiling."""

import numpy as np
import pytest

from rlhf_mini import (
    best_of_n_kl_bound,
    compare_methods,
    load_world,
    optimal_kl_policy,
    sft_policy,
)
from rlhf_mini.experiments.method_comparison import METHODS


@pytest.fixture(scope="module")
def faithful():
    return compare_methods()


@pytest.fixture(scope="module")
def biased():
    return compare_methods(verbosity_bias=3.0)


def _exact_ceiling(kl):
    """The most gold reward any policy gets at mean KL ``kl``: pi ∝ pi_ref exp(u / lam),
    with lam found by bisection (the KL falls as lam grows)."""
    world = load_world()
    ref, gold = sft_policy(world), world.gold_utility()
    lo, hi = np.log(1e-3), np.log(1e3)
    for _ in range(60):
        mid = (lo + hi) / 2
        policy = optimal_kl_policy(ref, gold, float(np.exp(mid)))
        if np.mean(policy.kl(ref)) > kl:
            lo = mid
        else:
            hi = mid
    return float(np.mean(optimal_kl_policy(ref, gold, float(np.exp(hi))).expected(gold)))


def test_every_method_improves_on_sft_and_none_beats_the_ceiling(faithful):
    res = faithful
    assert list(res.points) == list(METHODS)
    for method, points in res.points.items():
        for p in points:
            assert p["gold_reward"] > res.reference_gold + 0.2, (method, p)
            assert p["gold_reward"] <= _exact_ceiling(p["kl"]) + 1e-9, (method, p)
    assert res.reference_gold < res.ceiling[-1]["gold_reward"] <= res.best_gold + 1e-12
    kls = [c["kl"] for c in res.ceiling]
    golds = [c["gold_reward"] for c in res.ceiling]
    assert kls == sorted(kls) and golds == sorted(golds)


def test_each_knob_trades_kl_for_reward(faithful):
    for method, points in faithful.points.items():
        kls = [p["kl"] for p in points]  # knobs are given from strong to weak pressure
        assert kls == sorted(kls), method
        assert [p["proxy_reward"] for p in points] == sorted(p["proxy_reward"] for p in points)
    for p in faithful.points["best_of_n"]:
        assert p["kl"] <= best_of_n_kl_bound(int(p["knob"]))


def test_rloo_and_ppo_reach_the_same_optimum_grpo_drifts_further(faithful):
    """Same objective E[r] - beta KL(pi || pi_ref), so the same points; GRPO's group std
    scaling makes each beta a weaker leash."""
    for ppo, rloo, grpo in zip(*(faithful.points[m] for m in ("ppo", "rloo", "grpo")), strict=True):
        assert rloo["kl"] == pytest.approx(ppo["kl"], abs=0.03)
        assert rloo["gold_reward"] == pytest.approx(ppo["gold_reward"], abs=0.03)
        assert grpo["kl"] > ppo["kl"]


def test_biased_labels_make_more_pressure_hurt(biased, faithful):
    """Labellers who like long answers: the reward model (and DPO's labels) reward
    verbosity, and pushing harder on them lowers the gold reward (lesson 7)."""
    for method in ("grpo", "best_of_n"):
        gold = [p["gold_reward"] for p in biased.points[method]]
        assert gold[-1] < max(gold) - 0.1, method
        assert max(gold) < max(p["gold_reward"] for p in faithful.points[method])


def test_comparison_is_deterministic_and_checks_its_input():
    a = compare_methods(methods=("rloo", "dpo"), betas=(0.3,), dpo_betas=(1.0,), steps=10)
    b = compare_methods(methods=("rloo", "dpo"), betas=(0.3,), dpo_betas=(1.0,), steps=10)
    assert a.to_dict() == b.to_dict()
    assert a.config["steps"] == 10 and list(a.points) == ["rloo", "dpo"]
    assert np.isnan(a.gold_at_kl("rloo", 10.0))
    assert a.gold_at_kl("ceiling", 0.5) == pytest.approx(_exact_ceiling(0.5), abs=0.01)
    with pytest.raises(ValueError, match="methods"):
        compare_methods(methods=("ppo", "trpo"))
    with pytest.raises(ValueError, match="betas"):
        compare_methods(betas=(0.0,))
    with pytest.raises(TypeError, match="ns"):
        compare_methods(ns=(2.5,))
