"""Verifiable rewards: the checker, the world, and GRPO learning it (and hacking a sloppy one)."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples

from rlhf_mini import base_policy, load_verifiable_world, train_grpo, verify_answer
from rlhf_mini.worlds.verifiable import KINDS


@pytest.mark.parametrize(
    ("response", "answer", "strict", "lenient"),
    [
        ("Answer: 42", "42", 1.0, 1.0),
        ("6 x 7 = 42.\nAnswer: 42", "42", 1.0, 1.0),
        ("Answer: 42  \n", "42", 1.0, 1.0),  # trailing space and newline
        ("Answer: 9.90", "9.9", 1.0, 1.0),  # equal as numbers
        ("Answer: -3", "-3", 1.0, 1.0),
        ("Answer: 41", "42", 0.0, 0.0),
        ("Answer: 42 or 41", "42", 0.0, 1.0),  # several guesses
        ("Answer: 41, 42, 43", "42", 0.0, 1.0),
        ("That's 42.", "42", 0.0, 1.0),  # no answer line
        ("Answer: 42\nActually, 41.", "42", 0.0, 1.0),  # the last line decides
        ("answer: 42", "42", 0.0, 1.0),  # the format is exact
        ("Answer: 420", "42", 0.0, 0.0),  # a number, not a substring
        ("", "42", 0.0, 0.0),
    ],
)
def test_verify_answer(response, answer, strict, lenient):
    assert verify_answer(response, answer) == strict
    assert verify_answer(response, answer, lenient=True) == lenient


def test_verify_answer_checks_its_input():
    with pytest.raises(TypeError, match="strings"):
        verify_answer(42, "42")
    with pytest.raises(ValueError, match="answer must be a number"):
        verify_answer("Answer: 42", "forty-two")


@settings(max_examples=examples(100))
@given(st.integers(-10_000, 10_000), st.integers(-10_000, 10_000))
@example(0, 0)
def test_one_final_answer_is_checked_and_a_hedge_never_is(a, b):
    assert verify_answer(f"Answer: {a}", str(a)) == 1.0
    assert verify_answer(f"Answer: {b}", str(a)) == float(a == b)
    hedge = f"Answer: {a} or {b}"
    assert verify_answer(hedge, str(a)) == 0.0  # strict: one number only
    assert verify_answer(hedge, str(a), lenient=True) == 1.0  # the sloppy checker pays


def test_the_world():
    world = load_verifiable_world()
    strict, lenient = world.rewards(), world.rewards(lenient=True)
    assert strict.shape == lenient.shape == (12, len(KINDS))
    # right answers in the format are the only ones the strict checker pays
    expected = np.array([[k in ("answer", "worked") for k in KINDS]] * 12, dtype=float)
    np.testing.assert_array_equal(strict, expected)
    np.testing.assert_array_equal(world.correct(), strict)
    assert np.all(lenient >= strict)  # the sloppy checker pays everything the strict one does
    assert lenient[:, KINDS.index("hedged")].all() and lenient[:, KINDS.index("unformatted")].all()
    base = base_policy(world)
    accuracy = float(np.mean(base.expected(strict)))
    assert 0.15 < accuracy < 0.35  # the base model is often wrong, or off format
    mass = world.kind_mass(base)
    assert sum(mass.values()) == pytest.approx(1.0)
    assert mass["unformatted"] == max(mass.values())
    for p in world.prompts:
        assert p.answer in p.responses[0] and len(p.responses) == len(KINDS)


@pytest.fixture(scope="module")
def world():
    return load_verifiable_world()


def _grpo(world, rewards, **kw):
    return train_grpo(
        rewards,
        reference=base_policy(world),
        gold=world.correct(),
        reward_scale="raw",
        beta=0.01,
        steps=100,
        seed=0,
        **kw,
    )


def test_grpo_learns_to_answer_right_in_the_format(world):
    res = _grpo(world, world.rewards())
    h = res.history
    assert h["gold_reward"][0] < 0.3 and h["gold_reward"][-1] > 0.97
    assert h["proxy_reward"] == h["gold_reward"]  # the checker is the goal: no gap to hack
    mass = world.kind_mass(res.policy)
    assert mass["answer"] + mass["worked"] > 0.97
    # a solved prompt's group is all 1s: zero advantage, nothing more to learn from it
    assert h["frac_reward_zero_std"][1] < 0.5 < h["frac_reward_zero_std"][-1]


def test_grpo_hacks_the_lenient_checker(world):
    """Rewarding 'the right number appears' pays for hedges and missing answer lines: the
    checker reports near-perfect scores while the strict accuracy does not improve."""
    res = _grpo(world, world.rewards(lenient=True))
    h = res.history
    assert h["proxy_reward"][-1] > 0.99
    assert h["gold_reward"][-1] < h["gold_reward"][0] + 0.02
    mass = world.kind_mass(res.policy)
    assert mass["hedged"] + mass["unformatted"] > 0.5
