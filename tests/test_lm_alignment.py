"""The alignment record the lesson, its figures and the widget show: its claims, checked on
the shipped runs (300 PPO iterations each: too long to repeat in the suite), and the record
tied to the code by re-running the first iterations of its runs at the same seed."""

import numpy as np
import pytest

import rlhf_mini as rm
from rlhf_mini.experiments.lm_alignment import (
    HACKING,
    HACKING_DROP,
    KL_BETAS,
    STEPS,
    load_alignment_record,
    samples_at,
    smooth,
)
from rlhf_mini.worlds.text import gold_features

RECORD = load_alignment_record()


def _end(run, window=10):
    return smooth(run["history"], window)[-1]


@pytest.mark.parametrize("reward_model", ["verbose", "faithful"])
def test_a_small_kl_weight_drifts_at_least_twice_as_far(reward_model):
    loose, tight = (_end(RECORD["ppo"][reward_model][f"{b:g}"]) for b in KL_BETAS)
    assert loose["kl"] >= 2 * tight["kl"]
    assert RECORD["ppo"][reward_model]["0.01"]["config"]["steps"] == STEPS == 300


def test_against_the_verbose_reward_model_the_small_weight_buys_more_proxy_and_less_gold():
    loose, tight = (_end(RECORD["ppo"]["verbose"][f"{b:g}"]) for b in KL_BETAS)
    assert loose["proxy_reward"] > tight["proxy_reward"] + 0.3
    assert loose["gold_utility"] < tight["gold_utility"] - 1.0
    assert loose["response_length"] > tight["response_length"]


def test_the_faithful_reward_model_pays_a_loose_leash_in_drift_not_reward():
    # with little to exploit, beta = 0.01 drifts further for no more proxy reward
    loose, tight = (_end(RECORD["ppo"]["faithful"][f"{b:g}"]) for b in KL_BETAS)
    assert abs(loose["proxy_reward"] - tight["proxy_reward"]) < 0.2
    assert tight["gold_utility"] > loose["gold_utility"]


def test_reward_hacking_gold_peaks_and_falls_while_the_proxy_rises():
    run = RECORD["ppo"][HACKING["reward_model"]][f"{HACKING['beta']:g}"]
    points = smooth(run["history"])
    peak = rm.gold_peak(points, HACKING_DROP, gold="gold_utility")
    assert peak["overoptimised"]  # the criterion of overoptimization_curve
    golds = [p["gold_utility"] for p in points]
    assert 0 < golds.index(max(golds)) < len(golds) - 1  # a peak, not the start
    assert peak["peak"]["gold_utility"] - peak["end"]["gold_utility"] > 1.5
    assert points[-1]["proxy_reward"] > points[0]["proxy_reward"] + 0.8
    shown = RECORD["hacking"]["peak"]  # what the lesson reads
    assert shown["peak"]["step"] == peak["peak"]["step"] and shown["overoptimised"]
    assert shown["end"]["gold_utility"] == pytest.approx(peak["end"]["gold_utility"], rel=1e-5)


def test_the_samples_after_the_peak_show_why():
    samples = RECORD["hacking"]["samples"]
    assert [samples[k]["step"] for k in ("before", "at", "after")] == [
        0,
        samples["at"]["step"],
        HACKING["steps"],
    ]
    assert 0 < samples["at"]["step"] < HACKING["steps"]

    def rules(snapshot):
        features = [gold_features(r["prompt_id"], r["text"]) for r in snapshot["responses"]]
        return {k: np.mean([f[k] for f in features]) for k in ("verbosity", "padding", "words")}

    before, after = rules(samples["before"]), rules(samples["after"])
    assert after["padding"] > before["padding"] and after["verbosity"] > before["verbosity"]
    assert after["words"] > before["words"]  # longer
    gold = [np.mean([r["gold_utility"] for r in samples[k]["responses"]]) for k in ("at", "after")]
    proxy = [np.mean([r["proxy_reward"] for r in samples[k]["responses"]]) for k in ("at", "after")]
    assert gold[1] < gold[0] - 1.0 and proxy[1] > proxy[0]
    assert samples_at(RECORD["ppo"]["verbose"]["0.01"], 52)["step"] == 50


def test_dpo_on_the_same_comparisons_widens_the_implicit_reward_margin():
    for name in ("faithful", "verbose"):
        h = RECORD["dpo"][name]["history"]
        assert h["reward_margin"][0] == pytest.approx(0.0, abs=1e-6)
        assert np.all(np.diff(h["reward_margin"]) > 0)
        assert h["heldout_reward_margin"][-1] > 0.1 and h["heldout_accuracy"][-1] > 0.6
        assert h["kl"][-1] < 5  # DPO stays near its reference


@pytest.mark.parametrize(("reward_model", "beta"), [("verbose", 0.01), ("faithful", 0.2)])
def test_the_record_is_what_the_code_makes(reward_model, beta):
    recorded = RECORD["ppo"][reward_model][f"{beta:g}"]
    config = dict(recorded["config"], steps=4)
    again = rm.train_lm_ppo(**config).history
    for key, values in again.items():
        np.testing.assert_allclose(values, recorded["history"][key][:4], rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("at", [0, 7, 299])
def test_matching_iterations_finds_where_two_records_part(at):
    import copy

    from rlhf_mini.experiments.lm_alignment import matching_iterations

    other = copy.deepcopy(RECORD)
    history = other["ppo"]["faithful"]["0.2"]["history"]
    history["kl"][at] = history["kl"][at] * 1.01 + 1.0
    assert matching_iterations(RECORD, other) == at
    assert matching_iterations(RECORD, RECORD) == len(history["step"]) == 300
    del other["ppo"]["verbose"]
    assert matching_iterations(RECORD, other) == 0  # a run the other record lacks
