"""DPO against reward model + PPO on the same comparisons: same target, compared by KL."""

import json
from itertools import pairwise

import numpy as np
import pytest

import rlhf_mini as rm


@pytest.fixture(scope="module")
def result():
    return rm.compare_dpo_ppo()


def test_both_methods_improve_on_the_reference_and_a_stronger_leash_moves_less(result):
    for method in ("dpo", "ppo"):
        pts = result.points[method]
        assert [p["beta"] for p in pts] == list(rm.experiments.dpo_vs_ppo.DEFAULT_BETAS)
        assert all(p["gold_reward"] > result.reference_gold for p in pts)
        kls = [p["kl"] for p in pts]
        assert all(a > b for a, b in pairwise(kls))  # beta up, KL down


def test_kl_matched_comparison_interpolates_the_ppo_frontier(result):
    rows = result.kl_matched()
    ppo = sorted(result.points["ppo"], key=lambda p: p["kl"])
    for row in rows:
        expected = np.interp(row["kl"], [p["kl"] for p in ppo], [p["gold_reward"] for p in ppo])
        assert row["ppo_gold"] == pytest.approx(expected)
    # on this world the reward model's generalisation gives PPO more utility per nat
    assert all(row["ppo_gold"] > row["dpo_gold"] for row in rows)
    assert np.isnan(result.gold_at_kl("ppo", 50.0))


def test_same_beta_means_the_same_target():
    """With PPO on raw scores, both methods aim at pi_ref exp(r / beta): DPO's implicit reward
    is a Bradley-Terry score, as the reward model's raw scores are."""
    data = rm.DPOvsPPO.simulate(300, seed=1, dpo_steps=50, ppo_steps=30, rm_epochs=50)
    _, ppo = data.run(1.0)
    assert ppo.config["reward_scale"] == "raw" and ppo.config["beta"] == 1.0


def test_to_dict_is_json_and_bad_betas(result):
    d = json.loads(json.dumps(result.to_dict()))
    assert len(d["kl_matched"]) == len(result.betas)
    with pytest.raises(ValueError, match="betas"):
        rm.compare_dpo_ppo(betas=())
