"""Verifiable rewards: prompts whose answers a program checks, and no reward model to hack.

Public names
------------
verify_answer(response, answer)   1.0 if the response's one final answer is right, else 0.0
VerifiableWorld                   the prompts, their candidate responses, the base policy
load_verifiable_world()           the packaged world (built once, cached)

RL from verifiable rewards (RLVR: Lambert et al. 2024, "Tülu 3", arXiv 2411.15124; GRPO on
maths in Shao et al. 2024, "DeepSeekMath", arXiv 2402.03300; DeepSeek-R1, arXiv 2501.12948)
replaces the learned reward model by a checker: the reward is 1 when the final answer is
correct and 0 otherwise. There is no learned model whose blind spots the policy can find;
what is left to exploit is the checker itself, so it must be strict.

The checker here reads the last line of a response and accepts only ``Answer: X`` with one
number X (R1's "accuracy reward" with a required answer format); the response is right when
X equals the true answer. ``lenient=True`` is the sloppy checker a hurried implementation
might write, "does the right number appear in the response?", and it can be hacked: listing
several guesses, or restating the question, earns full reward.

Every prompt (small arithmetic, and "which is larger" with decimals, where 9.11 > 9.9 is the
classic slip) has the same five kinds of candidate response (:data:`KINDS`):

    answer       "Answer: 42"                                  right, in the format
    worked       "17 + 25 = 17 + 20 + 5 = 42.\\nAnswer: 42"     right, with working
    slip         "17 + 25 = 17 + 20 - 5 = 32.\\nAnswer: 32"     a mistake in the working
    hedged       "It is 42 or 32.\\nAnswer: 42 or 32"           several guesses
    unformatted  "That's 42."                                  right, but no answer line

The base ("pretrained") policy has logits ``BASE_LOGITS[kind]`` plus, for the slip, the
prompt's ``difficulty``: it often skips the format, hedges, and slips on the hard prompts.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["KINDS", "VerifiableWorld", "load_verifiable_world", "verify_answer"]

KINDS = ("answer", "worked", "slip", "hedged", "unformatted")

#: The base policy's taste for each kind (the slip also gets the prompt's difficulty).
BASE_LOGITS = {"answer": 0.0, "worked": 0.3, "slip": 0.0, "hedged": 0.6, "unformatted": 1.2}

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_FINAL = re.compile(r"Answer:\s*(-?\d+(?:\.\d+)?)\s*")


def verify_answer(response: str, answer: str, *, lenient: bool = False) -> float:
    """The verifiable reward: 1.0 if ``response`` answers ``answer``, else 0.0.

    Strict (default): the last line must be exactly ``Answer: X`` with a single number X,
    and X must equal ``answer`` as a number. Lenient: ``answer`` is among the numbers
    anywhere in the response (the hackable checker).

    Examples
    --------
    >>> verify_answer("6 x 7 = 42.\\nAnswer: 42", "42")
    1.0
    >>> verify_answer("Answer: 42 or 41", "42"), verify_answer("It's 42.", "42")
    (0.0, 0.0)
    >>> verify_answer("Answer: 42 or 41", "42", lenient=True)
    1.0
    """
    if not isinstance(response, str) or not isinstance(answer, str):
        raise TypeError("response and answer must be strings")
    try:
        target = float(answer)
    except ValueError:
        raise ValueError(f"answer must be a number, got {answer!r}") from None
    if lenient:
        return float(any(float(n) == target for n in _NUMBER.findall(response)))
    lines = response.strip().splitlines()
    match = _FINAL.fullmatch(lines[-1]) if lines else None
    return float(match is not None and float(match.group(1)) == target)


@dataclass(frozen=True)
class VerifiablePrompt:
    """A question with a checkable answer and its candidate responses, one per kind."""

    text: str
    answer: str
    responses: tuple[str, ...]  # in the order of KINDS
    difficulty: float  # extra base logit of the slip


def _arithmetic(a: int, op: str, b: int, working: str, wrong: int, slip: str, d: float):
    value = {"+": a + b, "-": a - b, "x": a * b}[op]
    text = f"What is {a} {op} {b}?"
    right, bad = str(value), str(wrong)
    return VerifiablePrompt(
        text,
        right,
        (
            f"Answer: {right}",
            f"{a} {op} {b} = {working} = {right}.\nAnswer: {right}",
            f"{a} {op} {b} = {slip} = {bad}.\nAnswer: {bad}",
            f"It is {right} or {bad}.\nAnswer: {right} or {bad}",
            f"That's {right}.",
        ),
        d,
    )


def _larger(a: str, b: str, d: float) -> VerifiablePrompt:
    right, wrong = (a, b) if float(a) > float(b) else (b, a)
    return VerifiablePrompt(
        f"Which is larger, {a} or {b}?",
        right,
        (
            f"Answer: {right}",
            f"Compare digit by digit after the point: {right} is larger.\nAnswer: {right}",
            f"{wrong} has more digits after the point than {right}, so it is larger."
            f"\nAnswer: {wrong}",
            f"Either {right} or {wrong}.\nAnswer: {right} or {wrong}",
            f"{right} is larger than {wrong}.",
        ),
        d,
    )


def _prompts() -> tuple[VerifiablePrompt, ...]:
    return (
        _arithmetic(17, "+", 25, "17 + 20 + 5", 32, "17 + 20 - 5", 0.0),
        _arithmetic(48, "+", 36, "48 + 30 + 6", 74, "48 + 30 - 4", 0.3),
        _arithmetic(91, "-", 47, "91 - 40 - 7", 54, "91 - 40 + 3", 0.6),
        _arithmetic(63, "-", 28, "63 - 20 - 8", 45, "63 - 20 + 2", 0.6),
        _arithmetic(6, "x", 7, "6 x 5 + 6 x 2", 36, "6 x 5 + 6", 0.2),
        _arithmetic(12, "x", 13, "12 x 10 + 12 x 3", 146, "12 x 10 + 26", 0.8),
        _arithmetic(25, "x", 16, "25 x 4 x 4", 300, "25 x 4 x 3", 0.8),
        _arithmetic(99, "+", 99, "100 + 100 - 2", 196, "100 + 100 - 4", 0.4),
        _larger("9.11", "9.9", 1.5),
        _larger("0.5", "0.45", 1.2),
        _larger("3.8", "3.75", 1.0),
        _larger("12.3", "12.25", 1.0),
    )


@dataclass(frozen=True)
class VerifiableWorld:
    """Prompts with checkable answers; K = len(KINDS) candidates each."""

    prompts: tuple[VerifiablePrompt, ...]

    @property
    def n_prompts(self) -> int:
        return len(self.prompts)

    @property
    def n_candidates(self) -> int:
        return len(KINDS)

    def rewards(self, *, lenient: bool = False) -> np.ndarray:
        """The checker's reward for every candidate, shape (P, K), 0.0 or 1.0."""
        return np.array(
            [
                [verify_answer(r, p.answer, lenient=lenient) for r in p.responses]
                for p in self.prompts
            ]
        )

    def correct(self) -> np.ndarray:
        """What we want: the strict checker's verdict, shape (P, K) (the "gold" reward)."""
        return self.rewards()

    def base_logits(self) -> np.ndarray:
        """The base policy's logits, shape (P, K)."""
        logits = np.array([[BASE_LOGITS[k] for k in KINDS]] * self.n_prompts)
        logits[:, KINDS.index("slip")] += [p.difficulty for p in self.prompts]
        return logits

    def kind_mass(self, policy: Any) -> dict[str, float]:
        """Mean probability (over prompts) of each kind of response under ``policy``."""
        probs = policy.to_numpy() if hasattr(policy, "to_numpy") else np.asarray(policy)
        return {kind: float(probs[:, k].mean()) for k, kind in enumerate(KINDS)}


@functools.cache
def load_verifiable_world() -> VerifiableWorld:
    """The packaged world of checkable questions.

    Examples
    --------
    >>> world = load_verifiable_world()
    >>> world.n_prompts, world.n_candidates
    (12, 5)
    >>> world.prompts[8].text, world.prompts[8].answer
    ('Which is larger, 9.11 or 9.9?', '9.9')
    >>> world.rewards()[8], world.rewards(lenient=True)[8]
    (array([1., 1., 0., 0., 0.]), array([1., 1., 1., 1., 1.]))
    """
    return VerifiableWorld(_prompts())
