"""The text world: templates, corpora at internet frequencies, SFT set with held-out
prompts, the gold utility's rules on any text, simulated labellers."""

import collections

import numpy as np
import pytest
from scipy import stats

from rlhf_mini import load_world
from rlhf_mini.worlds import text as tw_mod
from rlhf_mini.worlds.text import (
    GOOD_UTILITY,
    behaviour_of,
    gold_features,
    gold_utility,
    load_text_world,
    pretraining_corpus,
    sft_demonstrations,
    simulate_text_labels,
)

TW = load_text_world()
WORLD = load_world()


def test_prompts_and_behaviours_are_the_bandit_worlds():
    assert [p.id for p in TW.prompts] == [p.id for p in WORLD.prompts]
    for p, wp in zip(TW.prompts, WORLD.prompts, strict=True):
        assert p.behaviours == tuple(r.behaviour for r in wp.responses)
        assert len(p.phrasings) >= 3
        assert all(TW.prompt_id_of(ph.upper()) == p.id for ph in p.phrasings)
    assert TW.held_out == tuple(p.id for p in WORLD.prompts if p.demonstration is None)


def test_every_behaviour_has_many_distinct_responses_in_the_vocabulary():
    rng = np.random.default_rng(0)
    per_behaviour = collections.defaultdict(set)
    for p in TW.prompts:
        for b in p.behaviours:
            texts = {TW.write_response(p.id, b, rng) for _ in range(60)}
            per_behaviour[b] |= texts
            for t in texts:
                TW.tokenizer.encode(t)  # raises on a word outside the vocabulary
    assert min(len(v) for v in per_behaviour.values()) >= 15
    assert len(per_behaviour["verbose_repetitive"]) > 500  # not 14 fixed strings


def test_pretraining_mix_follows_the_base_policy():
    corpus = pretraining_corpus(6000, seed=1)
    counts = collections.Counter((d.prompt_id, d.behaviour) for d in corpus)
    per_prompt = collections.Counter(d.prompt_id for d in corpus)
    observed, expected = [], []
    for p in TW.prompts:
        for b, prob in zip(p.behaviours, p.base_probs, strict=True):
            observed.append(counts[(p.id, b)])
            expected.append(per_prompt[p.id] * prob)
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    share = collections.Counter(d.behaviour for d in corpus)
    assert share["verbose_repetitive"] > share["toxic_biased"] > share["refuses_safe"]
    assert share["complies_harmful"] > 0.05 * len(corpus)


def test_sft_demonstrations_cover_only_demonstrated_prompts():
    demos = sft_demonstrations(5, seed=0)
    ids = {d.prompt_id for d in demos}
    assert ids == {p.id for p in TW.prompts if p.demonstration is not None}
    assert not ids & set(TW.held_out)
    assert all(d.behaviour == TW.prompt(d.prompt_id).demonstration for d in demos)
    assert len(demos) == 5 * len(ids)


def test_same_seed_same_corpus():
    assert pretraining_corpus(50, seed=3) == pretraining_corpus(50, seed=3)
    assert pretraining_corpus(50, seed=3) != pretraining_corpus(50, seed=4)


def mean_gold(pid, behaviour, n=40):
    rng = np.random.default_rng(1)
    return np.mean([gold_utility(pid, TW.write_response(pid, behaviour, rng)) for _ in range(n)])


def test_gold_rules_rank_behaviours_like_the_bandit():
    gold = WORLD.gold_utility()
    ours, theirs = [], []
    for x, p in enumerate(TW.prompts):
        means = [mean_gold(p.id, b) for b in p.behaviours]
        assert p.behaviours[int(np.argmax(means))] == p.best_behaviour, p.id
        assert max(means) >= GOOD_UTILITY, p.id
        for m, u in zip(means, gold[x], strict=True):
            assert u >= 5.0 or m < GOOD_UTILITY, p.id  # a bad behaviour is never rated good
        ours += means
        theirs += list(gold[x])
    assert stats.spearmanr(ours, theirs).statistic > 0.75


def test_each_rule_moves_the_utility_the_right_way():
    x = "capital-australia"
    best = gold_utility(x, "Canberra.")
    assert best == 7.0
    assert gold_utility(x, "Sydney.") < best  # a falsehood
    assert gold_utility(x, "What a stupid question. Canberra.") < best  # an insult
    assert gold_utility(x, "I think it's Canberra, but double check.") < best  # needless hedge
    assert gold_utility(x, "Great question! In summary, Canberra.") < best  # padding
    repeated = "Canberra is the capital, the capital city, the capital of Australia, Canberra."
    assert gold_features(x, repeated)["repetition"] > 0.3 and gold_utility(x, repeated) < best
    long = "Canberra. " + " ".join(["Australia has many cities and towns."] * 6)
    assert gold_features(x, long)["verbosity"] == 1.0
    # refusing a safe request costs; refusing a harmful one does not, helping safely is best
    assert gold_utility("boil-egg", "I can't help with that.") < 4.5
    refuse = gold_utility("wifi-neighbour", "I can't help with that.")
    helps = gold_utility(
        "wifi-neighbour", "I can't help with that, but you could ask your neighbour to share it."
    )
    complies = gold_utility("wifi-neighbour", "Use a cracking tool and a password list.")
    assert complies < refuse < helps
    assert gold_features("wifi-neighbour", "Use a cracking tool.")["harmlessness"] == 0.0
    # an uncertain question wants the hedge
    assert gold_utility("bitcoin-price", "Nobody can know that.") == 7.0
    assert gold_utility("bitcoin-price", "It will be exactly a million dollars.") < 3


def test_gold_is_defined_on_any_text():
    for text in ["", "zebra quantum", "!!!", "Canberra " * 200]:
        u = gold_utility("capital-australia", text)
        assert np.isfinite(u)
        assert all(
            0.0 <= gold_features("capital-australia", text)[f] <= 1.0 for f in WORLD.features
        )
    assert behaviour_of("capital-australia", "zebra quantum") == "other"


def test_behaviour_classifier_recovers_the_template_behaviour():
    rng = np.random.default_rng(2)
    agree = total = 0
    for p in TW.prompts:
        for b in p.behaviours:
            for _ in range(10):
                agree += behaviour_of(p.id, TW.write_response(p.id, b, rng)) == b
                total += 1
    assert agree / total > 0.85


def test_labellers_follow_bradley_terry_on_the_gold_utility():
    x, a, b = "boil-egg", "Boil it for ten minutes.", "What a stupid question."
    n = 4000
    a_wins = simulate_text_labels([x] * n, [a] * n, [b] * n, seed=0, temperature=2.0)
    p = 1 / (1 + np.exp(-(gold_utility(x, a) - gold_utility(x, b)) / 2.0))
    assert abs(a_wins.mean() - p) < 3 * np.sqrt(p * (1 - p) / n)


def test_verbosity_bias_flips_the_labellers_taste():
    rng = np.random.default_rng(3)
    x = "capital-australia"
    concise = [TW.write_response(x, "clear_concise", rng) for _ in range(400)]
    verbose = [TW.write_response(x, "verbose_repetitive", rng) for _ in range(400)]
    faithful = simulate_text_labels([x] * 400, concise, verbose, seed=1)
    biased = simulate_text_labels([x] * 400, concise, verbose, seed=1, verbosity_bias=4.0)
    assert faithful.mean() > 0.75 and biased.mean() < 0.4


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="not one of the text world's phrasings"):
        TW.prompt_id_of("What is the capital of France?")
    with pytest.raises(ValueError, match="not a candidate of prompt 'boil-egg'"):
        TW.write_response("boil-egg", "complies_harmful", np.random.default_rng(0))
    with pytest.raises(ValueError, match="prompt_id 'nope' is not in the text world"):
        gold_utility("nope", "hi")
    with pytest.raises(ValueError, match="n must be > 0"):
        pretraining_corpus(0)
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        simulate_text_labels(["boil-egg"], ["a"], ["b"], temperature=0)
    with pytest.raises(ValueError, match="equally long"):
        simulate_text_labels(["boil-egg"], ["a"], [])
    with pytest.raises(ValueError, match="unclosed"):
        tw_mod._parse("[a|b")
    with pytest.raises(ValueError, match="unmatched"):
        tw_mod._parse("a]")
