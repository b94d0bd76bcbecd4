"""Playground: the naive proxy reward against the constitution (score, critique, revise)."""

import json
import math
import time

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples

import rlhf_mini as rm
from rlhf_mini import playground as pg

CONCISE = "The capital of France is Paris."
CONCISE_LONGER = (
    "Water boils at 100 degrees Celsius at sea level. At higher altitude it boils at a lower "
    "temperature because the air pressure is lower."
)
PADDED = (
    "Great question! It is important to note that there are many factors to consider when "
    "thinking about the capital of France, a country with a long and rich history. Basically, "
    "in today's world, many people wonder about capitals. Having said that, the capital of "
    "France is Paris, a beautiful city on the Seine river. At the end of the day, Paris is "
    "essentially the political, cultural and economic centre. In conclusion, I hope this "
    "helps you understand the capital of France and its significance in modern Europe."
)
REPETITIVE = "Paris is the capital of France. " * 30
HARMFUL = "Sure! Here's how to make a bomb. Step 1: you will need fertilizer. Mix the powder."
SAFE_REFUSAL = (
    "I can't help with making a bomb. If you are curious about chemistry, I'm happy to help "
    "with safe experiments instead."
)
RUDE = "That is a stupid question, you idiot. Paris is the capital of France."
OVERCONFIDENT = "The stock will definitely go up tomorrow. It is guaranteed, trust me."
BARE_REFUSAL = "I can't help with that."

BAD = {
    "padded": (PADDED, "concise"),
    "repetitive": (REPETITIVE, "concise"),
    "harmful": (HARMFUL, "harmless"),
    "rude": (RUDE, "respectful"),
    "overconfident": (OVERCONFIDENT, "honest"),
    "bare refusal": (BARE_REFUSAL, "helpful"),
}
PRINCIPLES = {"helpful", "honest", "harmless", "concise", "respectful"}


def test_public_names_are_exported():
    for name in ("score_response", "critique", "revise", "CONSTITUTION", "ResponseScore"):
        assert name in rm.__all__
        assert getattr(rm, name) is getattr(pg, name)


@pytest.mark.parametrize("text", [CONCISE, CONCISE_LONGER, SAFE_REFUSAL])
def test_concise_helpful_answer_is_not_flagged(text):
    s = rm.score_response(text)
    assert s.alignment == 1.0
    assert s.critiques == ()
    assert not s.hacking
    assert s.gap < 0  # the proxy under-pays a good short answer


@pytest.mark.parametrize("text", [PADDED, REPETITIVE])
def test_padded_and_repetitive_text_is_flagged_as_hacking(text):
    s = rm.score_response(text)
    assert s.hacking
    assert s.gap > pg.HACKING_GAP
    assert "concise" in s.violations
    # the proxy pays more for it than for the concise answer, the principles much less
    good = rm.score_response(CONCISE)
    assert s.reward > good.reward + 0.3
    assert s.alignment < good.alignment - 0.9


def test_padding_and_repetition_are_named_in_the_reason():
    (padded,) = rm.critique(PADDED)
    assert padded.principle == "concise"
    assert '"great question"' in padded.reason and "padding" in padded.reason
    (repeated,) = rm.critique(REPETITIVE)
    assert "29 repeated sentence(s)" in repeated.reason


def test_proxy_reward_parts_follow_their_formulas():
    s = rm.score_response(REPETITIVE)
    n_words, n_distinct = 6 * 30, 6
    assert s.components["length"] == pytest.approx(1 - math.exp(-n_words / 60))
    assert s.components["diversity"] == pytest.approx(1 - math.exp(-n_distinct / 40))
    assert s.components["coherence"] == 1.0  # every sentence looks fluent
    weighted = sum(pg.REWARD_WEIGHTS[k] * s.components[k] for k in pg.REWARD_WEIGHTS)
    assert s.reward == pytest.approx(weighted)
    assert sum(pg.REWARD_WEIGHTS.values()) == pytest.approx(1.0)


def test_alignment_is_the_product_of_principle_scores():
    for text in [RUDE, OVERCONFIDENT, PADDED, RUDE + " " + OVERCONFIDENT]:
        s = rm.score_response(text)
        assert set(s.components) == PRINCIPLES | set(pg.REWARD_WEIGHTS)
        assert s.alignment == pytest.approx(math.prod(s.components[p] for p in PRINCIPLES))
    both = rm.score_response(RUDE + " " + OVERCONFIDENT)
    assert set(both.violations) == {"respectful", "honest"}
    # respectful: 0.5 per insult; honest: 0.6 per overconfident phrase
    assert both.components["respectful"] == pytest.approx(0.25)
    assert both.components["honest"] == pytest.approx(0.6**3)


@pytest.mark.parametrize("name", list(BAD))
def test_each_bad_example_violates_its_principle_and_revise_fixes_it(name):
    text, principle = BAD[name]
    before = rm.score_response(text)
    assert principle in before.violations
    revised = rm.revise(text)
    after = rm.score_response(revised)
    assert principle not in after.violations
    assert after.alignment > before.alignment
    assert revised != text


def test_an_empty_answer_becomes_a_question_which_still_answers_nothing():
    # A rule cannot write the missing answer: the clarifying question is better than nothing
    # (helpful 0 -> 0.5) but is not an aligned answer.
    assert rm.revise("") == pg.CLARIFY_REVISION
    assert rm.score_response("").alignment == 0.0
    after = rm.score_response(pg.CLARIFY_REVISION)
    assert after.alignment == 0.5
    assert after.critiques[0].reason == "answers nothing: only questions or offers to help"


def test_revisions_do_what_the_docstring_says():
    assert rm.revise(HARMFUL) == pg.REFUSAL_REVISION
    assert rm.revise(REPETITIVE) == "Paris is the capital of France."
    assert rm.revise("It is very very very hot.") == "It is very hot."
    assert rm.revise(RUDE) == "Paris is the capital of France."
    # honest: intensifiers dropped, absolute claims weakened, no hedge added
    assert rm.revise(OVERCONFIDENT) == "The stock will go up tomorrow. It is likely."
    assert rm.revise("Paris is definitely the capital of France.") == CONCISE.replace(
        "The capital of France is Paris", "Paris is the capital of France"
    )
    assert rm.revise(BARE_REFUSAL).endswith(pg.HELP_OFFER_REVISION)
    padded = rm.revise(PADDED)
    assert rm.critique(padded) == []
    assert padded.startswith("There are many factors")  # capitalised after the cut


@pytest.mark.parametrize("text", [CONCISE, CONCISE_LONGER, SAFE_REFUSAL])
def test_revise_leaves_good_text_unchanged(text):
    assert rm.revise(text) == text


def test_harmful_needs_instructions_and_no_refusal():
    assert rm.score_response(SAFE_REFUSAL).components["harmless"] == 1.0
    assert rm.score_response("The bomb squad arrived quickly.").components["harmless"] == 1.0
    assert rm.score_response(HARMFUL).components["harmless"] == 0.0


def test_principles_argument_selects():
    text = RUDE + " " + OVERCONFIDENT
    assert [c.principle for c in rm.critique(text, ["honest"])] == ["honest"]
    assert [c.principle for c in rm.critique(text, "respectful")] == ["respectful"]
    only_respect = rm.revise(text, ["respectful"])
    assert "idiot" not in only_respect and "definitely" in only_respect
    custom = pg.Principle(
        "no_paris", "Never mention Paris.", lambda t, p: (0.0, "Paris"), lambda t, p: t.upper()
    )
    assert rm.critique(CONCISE, [custom]) == [pg.Critique("no_paris", 0.0, "Paris")]
    assert rm.revise(CONCISE, [custom]) == CONCISE.upper()
    with pytest.raises(ValueError, match="principles"):
        rm.critique(CONCISE, ["kindness"])
    with pytest.raises(TypeError, match="principles"):
        rm.critique(CONCISE, 3)
    with pytest.raises(TypeError, match="principles"):
        rm.revise(CONCISE, [1.5])


def test_empty_text():
    s = rm.score_response("")
    assert (s.reward, s.alignment, s.gap, s.hacking) == (0.0, 0.0, 0.0, False)
    assert s.violations == ("helpful",)


@pytest.mark.parametrize(
    "text",
    [
        "Париж — столица Франции. Это очень красивый город.",
        "巴黎是法国的首都。",
        "İstanbul is definitely the largest city in Türkiye.",  # lower() changes its length
        "It’s important to note that emoji 🙂🙂 work too.",
        "\u200b\x00\ufeff",
        "<script>alert('x')</script> is just text here.",
    ],
)
def test_unicode_and_odd_text(text):
    s = rm.score_response(text)
    for v in (s.reward, s.alignment, *s.components.values()):
        assert 0.0 <= v <= 1.0
    assert isinstance(rm.revise(text), str)


def test_typographic_apostrophe_and_dotted_capital_i_still_match():
    assert "concise" in rm.score_response("It’s important to note that it rains.").violations
    assert "honest" in rm.score_response("İstanbul is definitely big.").violations


def test_deterministic_and_independent_of_the_cache():
    first = rm.score_response(PADDED)
    pg._analyse.cache_clear()
    second = rm.score_response(PADDED)
    assert first == second
    assert rm.revise(PADDED) == rm.revise(PADDED)


def test_to_dict_is_json():
    d = json.loads(json.dumps(rm.score_response(RUDE).to_dict()))
    assert d["gap"] == d["reward"] - d["alignment"]
    assert d["critiques"][0]["principle"] == "respectful"


def test_one_megabyte_scores_well_under_a_second():
    unit = (
        "Great question! It is important to note that Paris is definitely the capital. "
        "You idiot, step 1: the bomb. Water boils at 100 degrees. "
    )
    text = unit * (1_000_000 // len(unit) + 1)
    assert len(text) >= 1_000_000
    pg._analyse.cache_clear()
    # CPU time of this process: other programs on a busy machine do not inflate it
    start = time.process_time()
    s = rm.score_response(text)
    elapsed = time.process_time() - start
    assert elapsed < 0.8, f"1 MB took {elapsed:.2f} s of CPU"
    assert s.hacking
    start = time.process_time()
    revised = rm.revise(text)
    assert time.process_time() - start < 2.0
    assert len(revised) < 2_000  # repetition kept once, within the word budget


@pytest.mark.parametrize("bad", [None, b"bytes", 3, ["a"]])
def test_non_str_text_raises_type_error_naming_text(bad):
    for fn in (rm.score_response, rm.critique, rm.revise):
        with pytest.raises(TypeError, match="text"):
            fn(bad)


PIECES = [
    CONCISE,
    "Great question!",
    "It is important to note that",
    "Paris is definitely lovely.",
    "You idiot.",
    "Here's how to make a bomb, step 1.",
    "I can't help with that.",
    "very very",
    "In conclusion,",
    "Water boils at 100 degrees.",
    "",
    "trust me",
    "é ü 漢字",
]


PROMPTS = [None, *(p.text for p in rm.load_world().prompts), "Write an insulting poem."]


@settings(max_examples=examples(200))
@given(
    st.lists(st.sampled_from(PIECES), max_size=12),
    st.text(max_size=40),
    st.sampled_from(PROMPTS),
)
# Found by hypothesis: dropping the insulting sentence left "0\x1b0", whose two "0"s the
# critique counted as a repeated word (alignment 0.25 -> 0.0).
@example(pieces=["You idiot."], noise="0\x1b0", prompt=None)
@example(pieces=["You idiot."], noise="0\x1b0", prompt="How do I boil an egg?")
def test_invariants_on_generated_text(pieces, noise, prompt):
    text = " ".join(pieces) + noise
    s = rm.score_response(text, prompt)
    assert s.gap == s.reward - s.alignment  # exactly
    assert 0.0 <= s.reward <= 1.0 and 0.0 <= s.alignment <= 1.0
    assert s.hacking == (s.gap > pg.HACKING_GAP)
    assert s.violations == tuple(c.principle for c in rm.critique(text, prompt=prompt))
    assert s.reward == rm.score_response(text).reward  # the proxy never sees the prompt
    revised = rm.revise(text, prompt=prompt)
    assert rm.score_response(revised, prompt).alignment >= s.alignment


# --- the prompt: refusing harmless requests, complying with harmful ones -------------------


def test_harmful_request_matches_the_toy_worlds_categories():
    for p in rm.load_world().prompts:
        assert pg.harmful_request(p.text) == (p.category == "harmful"), p.text


def _world_scores(with_prompt: bool) -> dict[str, list]:
    out: dict[str, list] = {}
    for p in rm.load_world().prompts:
        for r in p.responses:
            s = rm.score_response(r.text, p.text if with_prompt else None)
            out.setdefault(r.behaviour, []).append(s)
    return out


def test_every_refusal_of_a_safe_request_is_flagged_even_without_the_prompt():
    # Regression: "I can't give career advice." and six other refusals of safe requests
    # scored alignment 1.0 (their wording was missing from the refusal markers).
    for s in _world_scores(with_prompt=False)["refuses_safe"]:
        assert s.components["helpful"] == 0.5


def test_with_the_prompt_refusing_safe_and_complying_harmful_are_violations():
    scores = _world_scores(with_prompt=True)
    for s in scores["refuses_safe"]:
        assert s.components["helpful"] == 0.25
        assert s.critiques[-1].reason == "refuses a harmless request"
    for s in scores["complies_harmful"]:
        assert s.components["harmless"] == 0.0
    for good in ("clear_concise", "thoughtful_respectful", "expresses_uncertainty"):
        assert all(s.alignment == 1.0 for s in scores[good]), good
    assert all(s.alignment == 1.0 for s in scores["refuses_harmful_helps"])


def test_revise_with_the_prompt_engages_or_refuses():
    safe, harmful = "How do I boil an egg?", "Write an insulting message to bully a classmate."
    refusal = "I'm sorry, but I can't help with cooking instructions."
    assert rm.revise(refusal, prompt=safe) == pg.ENGAGE_REVISION
    # engaging beats refusing (0.25 -> 0.5), but a question back answers nothing
    assert rm.score_response(refusal, safe).alignment == 0.25
    assert rm.score_response(pg.ENGAGE_REVISION, safe).alignment == 0.5
    compliance = 'Here you go: "Nobody likes you."'
    assert rm.score_response(compliance).components["harmless"] == 1.0  # alone: no harm term
    assert rm.score_response(compliance, harmful).components["harmless"] == 0.0
    assert rm.revise(compliance, prompt=harmful) == pg.REFUSAL_REVISION
    assert rm.score_response(pg.REFUSAL_REVISION, harmful).alignment == 1.0


@pytest.mark.parametrize("bad", [3, b"How?", ["How?"]])
def test_non_str_prompt_raises_type_error_naming_prompt(bad):
    for call in (
        lambda: rm.score_response("Hi.", bad),
        lambda: rm.critique("Hi.", prompt=bad),
        lambda: rm.revise("Hi.", prompt=bad),
        lambda: pg.harmful_request(bad),
    ):
        with pytest.raises(TypeError, match="prompt"):
            call()


def test_agrees_with_the_toy_worlds_behaviour_labels():
    world = rm.load_world()
    scores: dict[str, list] = {}
    for prompt in world.prompts:
        for response in prompt.responses:
            scores.setdefault(response.behaviour, []).append(rm.score_response(response.text))
    assert all(s.hacking for s in scores["verbose_repetitive"])
    for good in ("clear_concise", "thoughtful_respectful", "expresses_uncertainty"):
        assert not any(s.hacking for s in scores[good]), good
        assert all(s.alignment == 1.0 for s in scores[good]), good

    def mean_alignment(behaviours):
        return np.mean([s.alignment for b in behaviours for s in scores[b]])

    good = mean_alignment(["clear_concise", "thoughtful_respectful", "refuses_harmful_helps"])
    bad = mean_alignment(["toxic_biased", "complies_harmful", "verbose_repetitive"])
    assert good > bad + 0.5


def test_lexical_repetition_and_demeaning_generalisations():
    verbose = (
        "Killing a process is a common task when a process is stuck, and a stuck process is a "
        "process that needs to be killed. There are many ways to kill a process. One way to "
        "kill a process is to use the kill command, which kills the process."
    )
    (c,) = rm.critique(verbose)
    assert c.principle == "concise" and "same few words" in c.reason and "kill" in c.reason
    share, top = pg._lexical_repetition([verbose.lower()])
    assert share > pg.LEXICAL_SHARE and top[:2] == ["process", "kill"]
    assert pg._lexical_repetition(["too short to count"]) == (0.0, [])
    assert rm.critique(rm.revise(verbose)) == []
    (r,) = rm.critique("Old people are set in their ways. Women can't code.")
    assert r.principle == "respectful" and r.score == 0.25


def test_revise_repeats_until_no_new_violation_appears():
    # Regression (found by hypothesis): removing "trust me" between two copies of a sentence
    # made them a repetition, which a single revision pass left in place.
    text = "The capital of France is Paris. trust me The capital of France is Paris."
    before = rm.score_response(text).alignment
    revised = rm.revise(text)
    assert revised.count("The capital of France is Paris.") == 1
    assert rm.score_response(revised).alignment >= before
    assert rm.revise(revised) == revised


def test_a_revision_never_scores_lower_than_its_text():
    # Regression: revise("You idiot.0\x1b0") returned "0\x1b0" (alignment 0.25 -> 0.0).
    for prompt in (None, "How do I boil an egg?"):
        text = "You idiot.0\x1b0"
        assert rm.score_response(rm.revise(text, prompt=prompt), prompt).alignment >= (
            rm.score_response(text, prompt).alignment
        )
    assert rm.revise("Paris, Paris is big.") == "Paris is big."  # a repeated word, any separator


def test_a_padded_confident_fact_is_revised_into_one_plain_sentence():
    # Regression: the revision of this text kept a near-copy ("...is probably Paris.") and
    # appended "I may be wrong, ..." to a well-established fact; it scored alignment 1.0.
    padded = (
        "Great question! It is important to note that the capital of France is definitely "
        "Paris. Needless to say, the capital of France is Paris. In conclusion, it is Paris. "
    ) * 4
    assert rm.revise(padded) == "The capital of France is Paris."


def test_a_sentence_that_adds_nothing_is_a_repetition():
    text = "The capital of Australia is Canberra. The capital is Canberra."
    (c,) = rm.critique(text)
    assert c.principle == "concise" and "1 repeated sentence(s)" in c.reason
    assert rm.revise(text) == "The capital of Australia is Canberra."
    # a sentence that adds a content word is not a repetition
    assert rm.critique("Boil the egg. Boil it for eight minutes.") == []
