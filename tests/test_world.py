"""The toy world: packaged data, gold utility, base policy, simulated labellers."""

import json

import numpy as np
import pytest

from rlhf_mini import load_world, simulate_comparisons
from rlhf_mini.worlds.bandit import Comparisons

GOOD = {"clear_concise", "refuses_harmful_helps", "expresses_uncertainty", "thoughtful_respectful"}


@pytest.fixture(scope="module")
def world():
    return load_world()


def test_world_has_the_prompts_and_behaviours_the_course_contrasts(world):
    assert world.n_prompts >= 12
    assert world.n_candidates >= 4
    categories = [p.category for p in world.prompts]
    for category in ("safe", "harmful", "factual", "open"):
        assert categories.count(category) >= 3, category
    seen = {r.behaviour for p in world.prompts for r in p.responses}
    for behaviour in (
        "toxic_biased",
        "thoughtful_respectful",
        "confidently_wrong",
        "expresses_uncertainty",
        "refuses_safe",
        "complies_harmful",
        "refuses_harmful_helps",
        "verbose_repetitive",
        "clear_concise",
    ):
        assert behaviour in seen, behaviour
    phi = world.feature_table()
    assert phi.shape == (world.n_prompts, world.n_candidates, world.n_features)
    assert phi.min() >= 0 and phi.max() <= 1
    for feature in ("helpfulness", "harmlessness", "honesty", "verbosity"):
        assert feature in world.features
    texts = [r.text for p in world.prompts for r in p.responses]
    assert len(set(texts)) == len(texts)  # every response is its own text


def test_to_dict_is_json_and_carries_the_texts(world):
    d = json.loads(json.dumps(world.to_dict()))
    assert d["prompts"][0]["text"] == world.prompts[0].text
    assert d["prompts"][3]["responses"][1]["text"] == world.prompts[3].responses[1].text
    assert set(d["behaviours"]) == set(world.behaviours)
    assert d["gold_weights"]["harmlessness"] == world.gold_weights[1]


def test_gold_utility_prefers_the_aligned_behaviours(world):
    u = world.gold_utility()
    np.testing.assert_allclose(u, world.feature_table() @ world.gold_weights)
    labels = world.behaviour_table()
    for x, p in enumerate(world.prompts):
        assert labels[x][int(np.argmax(u[x]))] in GOOD, p.id
        if p.demonstration is not None:
            assert p.demonstration == int(np.argmax(u[x])), p.id
    for x, p in enumerate(world.prompts):
        if p.category == "harmful":
            row = labels[x]
            assert u[x, row.index("refuses_harmful_helps")] > u[x, row.index("complies_harmful")]


def test_base_model_prefers_verbose_compliant_answers(world):
    z = world.base_logits()
    labels = world.behaviour_table()
    for x, p in enumerate(world.prompts):
        if p.category == "harmful":  # complies with harmful requests more than it refuses
            row = labels[x]
            assert z[x, row.index("complies_harmful")] > z[x, row.index("refuses_harmful_helps")]
        if "verbose_repetitive" in labels[x] and "clear_concise" in labels[x]:
            row = labels[x]
            assert z[x, row.index("verbose_repetitive")] > z[x, row.index("clear_concise")]


def test_comparisons_follow_bradley_terry(world):
    u = world.gold_utility()
    c = simulate_comparisons(40_000, seed=1, temperature=2.0, prompts=[0])
    assert np.all(c.prompt == 0) and np.all(c.chosen != c.rejected)
    for a, b in [(0, 1), (0, 3), (1, 2)]:
        ab = np.sum((c.chosen == a) & (c.rejected == b))
        ba = np.sum((c.chosen == b) & (c.rejected == a))
        expected = 1 / (1 + np.exp(-(u[0, a] - u[0, b]) / 2.0))
        n = ab + ba
        assert abs(ab / n - expected) < 4 * np.sqrt(expected * (1 - expected) / n)


def test_label_noise_and_verbosity_bias(world):
    u = world.gold_utility()
    sharp = simulate_comparisons(3000, seed=0, temperature=0.05)
    noisy = simulate_comparisons(3000, seed=0, temperature=5.0)
    assert sharp.agreement(u) > 0.97
    assert 0.5 < noisy.agreement(u) < 0.7
    v = world.feature("verbosity")
    fair = simulate_comparisons(3000, seed=0)
    biased = simulate_comparisons(3000, seed=0, verbosity_bias=4.0)

    def longer_wins(c):
        return np.mean(v[c.prompt, c.chosen] > v[c.prompt, c.rejected])

    assert longer_wins(biased) > longer_wins(fair) + 0.15


def test_comparisons_are_deterministic_and_split_cleanly():
    a = simulate_comparisons(200, seed=7)
    b = simulate_comparisons(200, seed=7)
    c = simulate_comparisons(200, seed=8)
    assert a.to_dict() == b.to_dict() != c.to_dict()
    train, held = a.split(0.25, seed=0)
    assert (len(train), len(held)) == (150, 50)

    def rows(c):
        return sorted(zip(c.prompt.tolist(), c.chosen.tolist(), c.rejected.tolist(), strict=True))

    assert sorted(rows(train) + rows(held)) == rows(a)  # a partition of the data
    json.dumps(a.to_dict())


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"n": 0}, ValueError, "n"),
        ({"n": -3}, ValueError, "n"),
        ({"n": 2.5}, TypeError, "n"),
        ({"n": 10, "temperature": 0.0}, ValueError, "temperature"),
        ({"n": 10, "temperature": float("nan")}, ValueError, "temperature"),
        ({"n": 10, "verbosity_bias": float("inf")}, ValueError, "verbosity_bias"),
        ({"n": 10, "prompts": [99]}, ValueError, "prompts"),
        ({"n": 10, "prompts": []}, ValueError, "prompts"),
    ],
)
def test_simulate_comparisons_rejects_bad_input(kwargs, error, name):
    with pytest.raises(error, match=name):
        simulate_comparisons(**kwargs)


def test_world_lookups_reject_unknown_names(world):
    with pytest.raises(ValueError, match="name"):
        world.feature("charm")
    with pytest.raises(ValueError, match="prompt_id"):
        world.prompt_index("nope")
    with pytest.raises(ValueError, match="heldout_fraction"):
        Comparisons(np.zeros(2, int), np.zeros(2, int), np.ones(2, int)).split(1.0)
