"""Reward overoptimisation (Gao et al. 2022): proxy keeps rising, gold rises then falls."""

import json
from itertools import pairwise

import numpy as np
import pytest

from rlhf_mini import load_world, overoptimization_curve, proxy_reward_model


@pytest.fixture(scope="module")
def curve():
    return overoptimization_curve()


def _column(result, key):
    return [p[key] for p in result.points]


def test_gold_peaks_at_an_interior_kl_while_proxy_keeps_rising(curve):
    kl, proxy, gold = (_column(curve, k) for k in ("kl", "proxy_reward", "gold_reward"))
    assert all(a < b for a, b in pairwise(kl))  # more optimisation pressure, more KL
    assert all(a < b for a, b in pairwise(proxy))
    peak = int(np.argmax(gold))
    assert 0 < peak < len(gold) - 1
    assert gold[peak] > gold[0] + 0.2  # optimising the proxy helps at first ...
    assert gold[-1] < gold[peak] - 0.5  # ... then hurts
    assert gold[-1] < curve.reference_gold  # ending worse than where it started
    assert curve.peak()["gold_reward"] == gold[peak]
    assert max(gold) < curve.best_gold


def test_the_proxy_rewards_verbosity_that_humans_do_not_want(curve):
    world = load_world()
    assert (
        curve.proxy_weights["verbosity"] > 0 > world.gold_weights[world.features.index("verbosity")]
    )
    assert curve.proxy_gold_pair_accuracy < 0.9


def test_a_faithful_well_fed_reward_model_does_not_overoptimise():
    res = overoptimization_curve(n_comparisons=3000, verbosity_bias=0.0)
    gold = _column(res, "gold_reward")
    # gold never falls by more than a rounding of the near-tied best answers ...
    assert all(a < b + 0.01 for a, b in pairwise(gold))
    # ... and ends at (almost) the best the world offers
    assert gold[-1] > res.best_gold - 0.01


def test_ppo_traces_the_same_curve():
    betas = [1.0, 0.25, 0.03]
    exact = overoptimization_curve(betas)
    ppo = overoptimization_curve(betas, method="ppo", steps=300)
    for a, b in zip(exact.points, ppo.points, strict=True):
        assert a["beta"] == b["beta"]
        assert b["gold_reward"] == pytest.approx(a["gold_reward"], abs=0.05)
        assert b["kl"] == pytest.approx(a["kl"], abs=0.05)
    gold = _column(ppo, "gold_reward")
    assert gold[1] > gold[0] and gold[1] > gold[2]


def test_sweeping_optimisation_steps_also_overoptimises():
    res = overoptimization_curve(sweep="steps", steps=200)
    steps, kl, gold = (_column(res, k) for k in ("step", "kl", "gold_reward"))
    assert steps[0] == 0 and steps[-1] == 200
    peak = int(np.argmax(gold))
    assert 0 < peak < len(gold) - 1
    assert gold[-1] < gold[peak] - 0.2
    assert kl[-1] > kl[peak]


def test_json_and_determinism(curve):
    d = json.loads(json.dumps(curve.to_dict()))
    assert len(d["points"]) == 12 and d["peak"] == curve.peak()
    assert overoptimization_curve().to_dict() == curve.to_dict()
    other = overoptimization_curve(seed=1)
    assert other.proxy_weights != curve.proxy_weights


def test_proxy_reward_model_is_trained_on_biased_labels():
    w = proxy_reward_model(500, verbosity_bias=6.0).to_dict()
    assert w["verbosity"] > 1.0


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"sweep": "epochs"}, ValueError, "sweep"),
        ({"method": "bon"}, ValueError, "method"),
        ({"betas": [1.0, 0.0]}, ValueError, "betas"),
        ({"betas": []}, ValueError, "betas"),
        ({"steps": 0}, ValueError, "steps"),
        ({"n_comparisons": 0}, ValueError, "n_comparisons"),
        ({"temperature": -1.0}, ValueError, "temperature"),
    ],
)
def test_bad_arguments_raise_naming_them(kwargs, error, name):
    with pytest.raises(error, match=name):
        overoptimization_curve(**kwargs)
