"""The playground's constitution: principles, each with a critique rule and a revision rule.

A small constitution in the spirit of Constitutional AI (Bai et al. 2022, arXiv 2212.08073).
``critique(text, prompt)`` of a principle returns a score in [0, 1] (1 = satisfied) and a
reason; ``revision(text, prompt)`` rewrites the text to satisfy it. The rules are keyword
and pattern based: readable, deterministic, a teaching device rather than a content filter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlhf_mini.experiments.playground.phrases import (
    _INSULT_RE,
    _NOUN_PHRASE_BEFORE,
    _OVERCONFIDENT_RE,
    _PADDING_RE,
    _REPEATED_WORD_RE,
    CLARIFY_REVISION,
    ENGAGE_REVISION,
    HELP_OFFER_REVISION,
    HELP_OFFERS,
    OVERCONFIDENT,
    REFUSAL_REVISION,
    STOPWORDS,
    _phrases,
)
from rlhf_mini.experiments.playground.text import (
    _GENERALISATION_RE,
    _WORD,
    LEXICAL_SHARE,
    WORD_BUDGET,
    _analyse,
    _check_text,
    _evidence,
    _fold,
    _join,
    _lexical_repetition,
    _redundant,
    _repeated_words,
    _sentence_key,
    _sentences,
    _tidy,
)


def harmful_request(prompt: str) -> bool:
    """Whether ``prompt`` asks for serious harm (a harm term) or abuse of a person
    (an abuse term). Keyword rules, like the rest of the constitution.

    >>> harmful_request("Write an insulting message I can send to bully a classmate.")
    True
    >>> harmful_request("How do I kill a Python process that is stuck?")
    False
    """
    found = _analyse(_check_text(prompt, "prompt")).found
    return bool(found["harm"] or found["abuse"])


_REFUSES_HARMLESS = "refuses a harmless request"


def _critique_helpful(text: str, prompt: str | None = None) -> tuple[float, str]:
    a = _analyse(text)
    filler = STOPWORDS.union(*(p.split() for p in set(a.found["padding"])))
    content = set(a.words).difference(filler)
    if not content:
        return 0.0, "says nothing of substance (no content words beyond filler)"
    if a.found["refusal"] and prompt is not None and not harmful_request(prompt):
        return 0.25, _REFUSES_HARMLESS
    if a.found["refusal"] and not a.found["help_offer"]:
        return 0.5, "refuses without offering any safe help or alternative"
    if not a.found["refusal"] and not any(_states_something(s) for s in a.sentences):
        return 0.5, _ANSWERS_NOTHING
    return 1.0, ""


_ANSWERS_NOTHING = "answers nothing: only questions or offers to help"
_OFFER_RE = _phrases((*HELP_OFFERS, "i can help with that", "i'm not sure i understood"))


def _states_something(sentence: str) -> bool:
    """A sentence that makes a statement: not a question, not just an offer to help."""
    folded = _fold(sentence).strip()
    if folded.endswith(("?", "？")):
        return False
    return not (_OFFER_RE.search(folded) and len(_WORD.findall(folded)) <= 12)


def _revise_helpful(text: str, prompt: str | None = None) -> str:
    score, reason = _critique_helpful(text, prompt)
    if score == 1.0:
        return text
    if reason == _REFUSES_HARMLESS:
        return ENGAGE_REVISION
    if reason.startswith("refuses"):
        return _join(text, HELP_OFFER_REVISION)
    if reason == _ANSWERS_NOTHING:
        return text  # a rule cannot write the missing answer
    return CLARIFY_REVISION


def _critique_honest(text: str, prompt: str | None = None) -> tuple[float, str]:
    # What this measures: wording that claims more certainty or universality than a plain
    # statement does. It cannot check whether a claim is true (that needs knowledge a rule
    # does not have), so a plainly worded falsehood passes.
    found = _analyse(text).found["overconfident"]
    if not found:
        return 1.0, ""
    return 0.6 ** len(found), f"overstated certainty: {_evidence(found)}"


def _revise_honest(text: str, prompt: str | None = None) -> str:
    folded = _fold(text)
    pieces, last, changed = [], 0, False
    for m in _OVERCONFIDENT_RE.finditer(folded):
        replacement = OVERCONFIDENT[m.group(0)]
        original = text[m.start() : m.end()]
        if replacement and original[:1].isupper():
            replacement = replacement[0].upper() + replacement[1:]
        pieces += [text[last : m.start()], replacement]
        last, changed = m.end(), True
    if not changed:
        return text
    pieces.append(text[last:])
    return _tidy("".join(pieces))


def _critique_harmless(text: str, prompt: str | None = None) -> tuple[float, str]:
    found = _analyse(text).found
    if found["refusal"]:
        return 1.0, ""
    if found["harm"] and found["instruction"]:
        return 0.0, f"gives instructions for something harmful: {_evidence(found['harm'])}"
    complies = found["instruction"] + found["insult"]
    if complies and prompt is not None and harmful_request(prompt):
        return 0.0, f"complies with a harmful request: {_evidence(complies)}"
    return 1.0, ""


def _revise_harmless(text: str, prompt: str | None = None) -> str:
    score, _ = _critique_harmless(text, prompt)
    return text if score == 1.0 else REFUSAL_REVISION


def _critique_concise(text: str, prompt: str | None = None) -> tuple[float, str]:
    a = _analyse(text)
    words, padding = a.words, a.found["padding"]
    if not words:
        return 1.0, ""
    padding_ratio = sum(len(p.split()) for p in padding) / len(words)
    keys = [k for k in a.sentence_keys if k]
    repeated_sentences = sum(_redundant(keys))
    repeated_words = _repeated_words(keys)
    repeat_ratio = (repeated_sentences / len(keys) if keys else 0.0) + repeated_words / len(words)
    lexical, top_words = _lexical_repetition(keys)
    lexical_excess = max(0.0, lexical - LEXICAL_SHARE)
    excess = max(0, len(words) - WORD_BUDGET) / (2 * WORD_BUDGET)
    score = max(0.0, 1.0 - 3.0 * padding_ratio - 2.0 * repeat_ratio - 5.0 * lexical_excess - excess)
    if score == 1.0:
        return 1.0, ""
    reasons = []
    if padding:
        reasons.append(f"padding phrases {_evidence(padding)}")
    if repeated_sentences:
        reasons.append(f"{repeated_sentences} repeated sentence(s)")
    if repeated_words:
        reasons.append(f"{repeated_words} immediately repeated word(s)")
    if lexical_excess:
        reasons.append(
            f"the same few words over and over ({', '.join(top_words)}: {lexical:.0%} of the "
            "content words)"
        )
    if excess:
        reasons.append(f"{len(words)} words, over the budget of {WORD_BUDGET}")
    return score, "; ".join(reasons)


def _revise_concise(text: str, prompt: str | None = None) -> str:
    # 1. drop padding phrases (and the comma or colon that follows one)
    folded = _fold(text)
    pieces, last = [], 0
    for m in _PADDING_RE.finditer(folded):
        # Only the text just before the match can end with "a "/"the "...; searching the
        # whole prefix for each match was quadratic (100 KB took ~10 s).
        window = max(0, m.start() - 64)
        article = _NOUN_PHRASE_BEFORE.search(folded, window, m.start())
        if article and (article.start() > window or not folded[window - 1 : window].isalnum()):
            continue  # "is a great question, and": part of the sentence, not a filler
        end = m.end()
        while end < len(text) and text[end] in ",:;":
            end += 1
        pieces.append(text[last : m.start()])
        last = end
    pieces.append(text[last:])
    text = "".join(pieces)
    # 2. "very very very" -> "very"
    text = _REPEATED_WORD_RE.sub(r"\1", text)
    # 3. keep each sentence once (dropping those that repeat an earlier one), and whole
    #    sentences up to the word budget
    sentences = [s for s in _sentences(text) if _sentence_key(s)]
    kept: list[str] = []
    n_words = 0
    for sentence, redundant in zip(
        sentences, _redundant(map(_sentence_key, sentences)), strict=True
    ):
        if redundant:
            continue
        n = len(_sentence_key(sentence).split())
        if kept and n_words + n > WORD_BUDGET:
            break
        kept.append(sentence)
        n_words += n
    # 4. if a few words still dominate, keep only sentences that do not add to that
    if _lexical_repetition(map(_sentence_key, kept))[0] > LEXICAL_SHARE:
        chosen: list[str] = []
        for sentence in kept:
            keys = [_sentence_key(x) for x in [*chosen, sentence]]
            if not chosen or _lexical_repetition(keys)[0] <= LEXICAL_SHARE:
                chosen.append(sentence)
        kept = chosen
    return _tidy(" ".join(kept))


def _critique_respectful(text: str, prompt: str | None = None) -> tuple[float, str]:
    found = _analyse(text).found["insult"]
    if not found:
        return 1.0, ""
    return 0.5 ** len(found), f"insulting or demeaning language: {_evidence(found)}"


def _disrespectful(sentence: str) -> bool:
    folded = _fold(sentence)
    return bool(_INSULT_RE.search(folded) or _GENERALISATION_RE.search(folded))


def _revise_respectful(text: str, prompt: str | None = None) -> str:
    if not _disrespectful(text):
        return text
    return _tidy(" ".join(s for s in _sentences(text) if not _disrespectful(s)))


@dataclass(frozen=True)
class Principle:
    """A constitutional principle: what it asks, how to check it, how to fix a violation.

    ``critique(text, prompt)`` returns (score in [0, 1], reason) and ``revision(text,
    prompt)`` the rewritten text; ``prompt`` is the request answered, or None.
    """

    name: str
    statement: str
    critique: Callable[[str, str | None], tuple[float, str]]
    revision: Callable[[str, str | None], str]


#: The constitution, in the order revisions are applied (harm first: a harmful answer is
#: replaced whole, so nothing else about it needs fixing; honest before concise: dropping an
#: intensifier can turn two sentences into one repeated twice, which concise then removes).
CONSTITUTION: tuple[Principle, ...] = (
    Principle(
        "harmless",
        "Do not help anyone cause serious harm; refuse such requests and offer safe help.",
        _critique_harmless,
        _revise_harmless,
    ),
    Principle(
        "respectful",
        "Treat the reader with respect: no insults, no demeaning generalisations.",
        _critique_respectful,
        _revise_respectful,
    ),
    Principle(
        "honest",
        "Do not overstate certainty: say plainly what is well established, and do not dress a "
        "claim in more confidence (definitely, 100%, always) than it can carry.",
        _critique_honest,
        _revise_honest,
    ),
    Principle(
        "concise",
        "Say it once and plainly: no padding, no repetition, no needless length.",
        _critique_concise,
        _revise_concise,
    ),
    Principle(
        "helpful",
        "Answer the question with substance; refuse only harmful requests, and then still "
        "offer what help you can.",
        _critique_helpful,
        _revise_helpful,
    ),
)
_BY_NAME = {p.name: p for p in CONSTITUTION}


def _select(principles: Any) -> tuple[Principle, ...]:
    if principles is None:
        return CONSTITUTION
    if isinstance(principles, (str, Principle)):
        principles = [principles]
    try:
        items = list(principles)
    except TypeError as err:
        raise TypeError(
            "principles must be None or an iterable of principle names / Principle objects"
        ) from err
    chosen = []
    for p in items:
        if isinstance(p, Principle):
            chosen.append(p)
        elif isinstance(p, str):
            if p not in _BY_NAME:
                raise ValueError(f"principles: unknown principle {p!r}; known: {sorted(_BY_NAME)}")
            chosen.append(_BY_NAME[p])
        else:
            raise TypeError(
                f"principles must hold principle names or Principle objects, got {type(p).__name__}"
            )
    return tuple(chosen)
