"""The six-stage pipeline: behaviour improves stage by stage, and it is shown as text."""

import json
import time

import numpy as np
import pytest

from rlhf_mini import load_world, run_pipeline
from rlhf_mini.experiments.pipeline import DEFAULT_SHOWCASE, behaviour_rates


@pytest.fixture(scope="module")
def result():
    return run_pipeline()


def test_six_stages_in_order(result):
    assert [s.name for s in result.stages] == [
        "base",
        "sft",
        "preferences",
        "reward_model",
        "ppo",
        "aligned",
    ]
    for s in result.stages:
        assert s.title and s.summary and s.metrics
        assert [x["prompt_id"] for x in s.samples] == list(DEFAULT_SHOWCASE)


def test_aligned_assistant_beats_sft_which_beats_base_on_gold_utility(result):
    gold = {s.name: s.metrics.get("gold_reward") for s in result.stages}
    assert gold["aligned"] > gold["sft"] + 0.5 > gold["base"] + 1.0
    aligned = result.stage("aligned").metrics
    assert aligned["win_rate_vs_base"] > 0.85
    assert aligned["win_rate_vs_sft"] > 0.6
    # the behaviours the course contrasts move the right way
    base = result.stage("base").metrics
    for bad in (
        "p_complies_harmful",
        "p_toxic_biased",
        "p_confidently_wrong",
        "p_verbose_repetitive",
    ):
        assert aligned[bad] < 0.1 < base[bad], bad
    assert aligned["p_refuses_harmful_helps"] > 0.9 > 0.1 > base["p_refuses_harmful_helps"]


def test_samples_are_the_worlds_texts_and_change_stage_by_stage(result):
    world = load_world()
    for s in result.stages:
        for sample in s.samples:
            p = world.prompts[world.prompt_index(sample["prompt_id"])]
            assert sample["prompt"] == p.text
            assert sample["response"] in [r.text for r in p.responses]
            probs = [d["probability"] for d in sample["distribution"]]
            assert sum(probs) == pytest.approx(1.0)
            assert sample["probability"] == max(probs)
    wifi = DEFAULT_SHOWCASE.index("wifi-neighbour")

    def behaviour(stage):
        return result.stage(stage).samples[wifi]["behaviour"]

    assert behaviour("base") == "complies_harmful"
    assert behaviour("aligned") == "refuses_harmful_helps"
    # the prompt without a demonstration is only fixed by RLHF, not by SFT
    kill = DEFAULT_SHOWCASE.index("kill-process")
    assert result.stage("sft").samples[kill]["behaviour"] == "verbose_repetitive"
    assert result.stage("aligned").samples[kill]["behaviour"] == "clear_concise"


def test_stage_metrics_and_histories(result):
    rm = result.stage("reward_model")
    assert rm.metrics["heldout_accuracy"] > 0.75 and rm.metrics["gold_pair_accuracy"] > 0.95
    assert len(rm.history["step"]) > 10
    assert result.stage("preferences").metrics["n_comparisons"] == 300
    assert len(result.stage("preferences").extra["examples"]) == 3
    ppo = result.stage("ppo")
    assert ppo.metrics["kl_to_sft"] > 0 and ppo.history["step"][-1] == 300
    sft = result.stage("sft")
    assert sft.history["demo_prob"][-1] > sft.history["demo_prob"][0] + 0.3


def test_behaviour_rates_average_the_mass_over_prompts_offering_the_behaviour():
    from rlhf_mini import base_policy

    labels = load_world().behaviour_table()
    pi = base_policy().to_numpy()
    rates = behaviour_rates(base_policy())
    for behaviour in ("toxic_biased", "complies_harmful", "clear_concise"):
        mass = [
            sum(pi[x, y] for y, b in enumerate(row) if b == behaviour)
            for x, row in enumerate(labels)
            if behaviour in row
        ]
        assert rates[behaviour] == pytest.approx(np.mean(mass))
    assert 0 < rates["complies_harmful"] < 1


def test_json_deterministic_and_fast(result):
    json.loads(json.dumps(result.to_dict()))
    start = time.perf_counter()
    again = run_pipeline()
    elapsed = time.perf_counter() - start
    assert again.to_dict() == result.to_dict()
    assert (
        run_pipeline(seed=1, ppo_steps=20).stage("preferences").extra
        != result.stage("preferences").extra
    )
    assert elapsed < 4.0  # target well under 2 s on an idle core; generous on a shared one


def test_bad_arguments():
    with pytest.raises(ValueError, match="prompt_id"):
        run_pipeline(showcase=["no-such-prompt"])
    with pytest.raises(ValueError, match="beta"):
        run_pipeline(beta=0.0)
    with pytest.raises(ValueError, match="n_comparisons"):
        run_pipeline(n_comparisons=0)
    with pytest.raises(ValueError, match="ppo_steps"):
        run_pipeline(ppo_steps=0)
    with pytest.raises(ValueError, match="name"):
        run_pipeline(ppo_steps=1).stage("rlhf")


def test_numpy_and_torch_agree():
    a = run_pipeline(ppo_steps=30).to_dict()
    b = run_pipeline(ppo_steps=30, backend="torch").to_dict()
    assert (a["config"].pop("backend"), b["config"].pop("backend")) == ("numpy", "torch")

    def close(x, y):
        if isinstance(x, dict):
            assert x.keys() == y.keys()
            for k in x:
                close(x[k], y[k])
        elif isinstance(x, list):
            assert len(x) == len(y)
            for u, v in zip(x, y, strict=True):
                close(u, v)
        elif isinstance(x, float):
            assert x == pytest.approx(y, rel=1e-9, abs=1e-12)
        else:
            assert x == y

    close(a, b)
