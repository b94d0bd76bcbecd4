"""Scoring a response: the naive proxy reward against the constitution, critique and revise."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rlhf_mini.experiments.playground.constitution import CONSTITUTION, _select
from rlhf_mini.experiments.playground.text import (
    _SENTENCE_END,
    _analyse,
    _Analysis,
    _check_prompt,
    _check_text,
)

#: Weights of the proxy reward's parts (they sum to 1, so the reward is in [0, 1]).
REWARD_WEIGHTS = {"length": 0.5, "coherence": 0.25, "diversity": 0.25}
LENGTH_SCALE = 60.0  # words at which the length part reaches 1 - 1/e
DIVERSITY_SCALE = 40.0  # distinct words at which the diversity part reaches 1 - 1/e
#: ``hacking`` is flagged when the proxy reward exceeds the alignment score by more than this.
HACKING_GAP = 0.25
#: Critique-revise passes of :func:`revise` at most (it stops early once a pass changes nothing).
REVISION_PASSES = 3


@dataclass(frozen=True)
class Critique:
    """One principle's verdict on a text: ``score`` in [0, 1] (1 = satisfied) and why."""

    principle: str
    score: float
    reason: str

    @property
    def violated(self) -> bool:
        return self.score < 1.0


@dataclass(frozen=True)
class ResponseScore:
    """What :func:`score_response` measures.

    Attributes
    ----------
    reward : float in [0, 1]
        The naive proxy reward (length, coherence, diversity).
    alignment : float in [0, 1]
        Product of the constitution's principle scores.
    gap : float
        ``reward - alignment`` (computed exactly so).
    components : dict[str, float]
        The proxy's parts (``length``, ``coherence``, ``diversity``) and each principle's
        score (``helpful``, ``honest``, ``harmless``, ``concise``, ``respectful``).
    hacking : bool
        ``gap > HACKING_GAP``: the proxy pays for something the principles reject.
    critiques : tuple of Critique
        The violated principles and why.
    """

    reward: float
    alignment: float
    gap: float
    components: dict[str, float]
    hacking: bool
    critiques: tuple[Critique, ...] = field(default=())

    @property
    def violations(self) -> tuple[str, ...]:
        return tuple(c.principle for c in self.critiques)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return {
            "reward": self.reward,
            "alignment": self.alignment,
            "gap": self.gap,
            "hacking": self.hacking,
            "components": dict(self.components),
            "critiques": [
                {"principle": c.principle, "score": c.score, "reason": c.reason}
                for c in self.critiques
            ],
        }


def _proxy_parts(a: _Analysis) -> dict[str, float]:
    length = 1.0 - math.exp(-len(a.words) / LENGTH_SCALE)
    fluent = 0
    for s in a.sentences:  # "fluent-looking": capitalised, terminated, 4-40 words
        first = next((c for c in s if c.isalpha()), "")
        if first and not first.islower() and s[-1] in _SENTENCE_END and 4 <= len(s.split()) <= 40:
            fluent += 1
    coherence = fluent / len(a.sentences) if a.sentences else 0.0
    diversity = 1.0 - math.exp(-len(set(a.words)) / DIVERSITY_SCALE)
    return {"length": length, "coherence": coherence, "diversity": diversity}


def critique(text: str, principles: Any = None, *, prompt: str | None = None) -> list[Critique]:
    """Which principles ``text`` violates, and why (the critique step of Constitutional AI).

    Parameters
    ----------
    text : str
    principles : None, a name, or an iterable of names or Principle objects
        Defaults to the whole :data:`CONSTITUTION`.
    prompt : str, optional
        The request ``text`` answers; without it a response is judged on its own.

    Returns
    -------
    list of Critique, one per violated principle (score < 1), in constitution order.

    Examples
    --------
    >>> [c.principle for c in critique("Trust me, this always works, you idiot.")]
    ['respectful', 'honest']
    """
    text, prompt = _check_text(text), _check_prompt(prompt)
    out = []
    for p in _select(principles):
        score, reason = p.critique(text, prompt)
        if score < 1.0:
            out.append(Critique(p.name, float(score), reason))
    return out


def revise(text: str, principles: Any = None, *, prompt: str | None = None) -> str:
    """Rewrite ``text`` to satisfy the principles (the revision step of Constitutional AI).

    Applied in constitution order, each only if its critique finds a violation:

    - harmless: instructions for serious harm are replaced by a refusal plus safe help;
    - respectful: sentences with insults are dropped;
    - concise: padding phrases removed, repeated words collapsed, repeated sentences kept
      once, whole sentences kept up to the word budget, and if a few words still dominate,
      sentences that add to that dropped;
    - honest: intensifiers dropped ("definitely", "trust me": a plain statement is as
      confident as a well-established fact needs) and absolute claims weakened ("always
      works" -> "usually works"); no hedge is added to what is plainly true;
    - helpful: an empty answer becomes a clarifying question; a refusal of a harmless
      request (``prompt``) becomes an offer to help; a bare refusal gets an offer of safe
      help. A rule cannot write a missing answer, so these revisions still score below 1
      ("answers nothing").

    One revision can expose another violation (dropping "trust me" between two copies of
    a sentence makes them a repetition), so the critique-revise pass is repeated, as
    Constitutional AI chains several revisions, until a pass changes nothing (at most
    ``REVISION_PASSES`` passes).

    A revision never scores lower than the text it revises: of the original and the text
    after each pass, the one with the highest alignment (:func:`score_response`, with
    ``prompt``) is returned, the latest on ties. Rules that rewrite text can misfire on odd
    input (dropping an insulting sentence can leave a fragment that repeats itself); the
    critique is the judge of whether a rewrite helped.

    Deterministic; text that violates nothing is returned unchanged.

    Examples
    --------
    >>> revise("Paris is definitely the capital of France. Paris is the capital of France.")
    'Paris is the capital of France.'
    """
    text, prompt = _check_text(text), _check_prompt(prompt)
    selected = _select(principles)
    best, best_alignment = text, score_response(text, prompt).alignment
    for _ in range(REVISION_PASSES):
        before = text
        for p in selected:
            score, _ = p.critique(text, prompt)
            if score < 1.0:
                text = p.revision(text, prompt)
        if text == before:
            break
        alignment = score_response(text, prompt).alignment
        if alignment >= best_alignment:
            best, best_alignment = text, alignment
    return best


def score_response(text: str, prompt: str | None = None) -> ResponseScore:
    """Score ``text`` with the naive proxy reward and with the constitution.

    ``prompt`` (optional) is the request ``text`` answers: with it, refusing a harmless
    request is unhelpful and complying with a harmful one is harmful (module docstring).

    reward = 0.5 length + 0.25 coherence + 0.25 diversity (each in [0, 1]);
    alignment = product of the principle scores; gap = reward - alignment;
    hacking = gap > HACKING_GAP. See the module docstring for each part.

    Raises
    ------
    TypeError
        ``text`` is not a str, or ``prompt`` is neither None nor a str.

    Examples
    --------
    >>> s = score_response("")
    >>> s.reward, s.alignment, s.gap
    (0.0, 0.0, 0.0)
    """
    text, prompt = _check_text(text), _check_prompt(prompt)
    parts = _proxy_parts(_analyse(text))
    reward = sum(REWARD_WEIGHTS[k] * v for k, v in parts.items())
    alignment = 1.0
    critiques = []
    components = dict(parts)
    for p in CONSTITUTION:
        score, reason = p.critique(text, prompt)
        components[p.name] = float(score)
        alignment *= score
        if score < 1.0:
            critiques.append(Critique(p.name, float(score), reason))
    reward, alignment = float(reward), float(alignment)
    gap = reward - alignment
    return ResponseScore(
        reward=reward,
        alignment=alignment,
        gap=gap,
        components=components,
        hacking=gap > HACKING_GAP,
        critiques=tuple(critiques),
    )
