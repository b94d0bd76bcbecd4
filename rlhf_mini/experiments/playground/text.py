"""Reading text for the playground's rules: sentences, words, matched phrases, repetition.

Everything a critique needs is measured in one pass (:func:`_analyse`, cached for the few
texts being scored at a time). Matching is done on a lower-cased copy with typographic
apostrophes made straight; both changes keep every character at its index, so matches map
back onto the original text.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any

from rlhf_mini.experiments.playground.phrases import (
    _CATEGORIES,
    _CATEGORY_OF,
    _GENERALISATION_RE,
    _PHRASE_RE,
    PADDING_PHRASES,
    STOPWORDS,
)

#: Word budget of the "concise" principle; its revision keeps whole sentences up to it.
WORD_BUDGET = 150
#: Lexical repetition: over at least LEXICAL_MIN_WORDS content words (of the distinct
#: sentences), the three most frequent word stems may take up to this share of them.
LEXICAL_SHARE = 0.3
LEXICAL_MIN_WORDS = 20
#: A sentence whose content words all appeared in one of this many preceding sentences
#: repeats it (see _redundant).
REDUNDANCY_WINDOW = 8

_WORD = re.compile(r"\w+")
_SENTENCE_END = ".!?。！？"
_SENTENCE = re.compile(r"[^.!?。！？\n]+[.!?。！？]*|[.!?。！？]+")


def _check_text(text: Any, name: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    return text


def _check_prompt(prompt: Any) -> str | None:
    return None if prompt is None else _check_text(prompt, "prompt")


def _fold(text: str) -> str:
    """Lower-cased copy with straight apostrophes (same length, same indices as ``text``)."""
    folded = text.lower().replace("\u2019", "'")
    # str.lower() can change the length for a few characters (e.g. 'İ' -> 'i̇'); fall back
    # to a per-character fold so indices still line up.
    if len(folded) != len(text):
        folded = "".join(c.lower()[:1] or c for c in text).replace("\u2019", "'")
    return folded


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def _sentence_key(sentence: str) -> str:
    """A sentence up to case, spacing and its final punctuation: repeats compare equal."""
    return " ".join(_fold(sentence).rstrip(_SENTENCE_END).split())


@dataclass(frozen=True)
class _Analysis:
    """Everything the rules need, measured in one pass over the text."""

    words: list[str]  # lower-case words
    sentences: list[str]
    sentence_keys: list[str]  # each sentence as _sentence_key gives it ("" if no words)
    found: dict[str, list[str]]  # category -> matched phrases, in order


@lru_cache(maxsize=4)
def _analyse(text: str) -> _Analysis:
    folded = _fold(text)
    found: dict[str, list[str]] = {cat: [] for cat in _CATEGORIES}
    for phrase in _PHRASE_RE.findall(folded):
        found[_CATEGORY_OF[phrase]].append(phrase)
    found["insult"] += _GENERALISATION_RE.findall(folded)
    keys = [" ".join(s.rstrip(_SENTENCE_END).split()) for s in _sentences(folded)]
    return _Analysis(_WORD.findall(folded), _sentences(text), keys, found)


def _evidence(matches: list[str], limit: int = 3) -> str:
    seen: dict[str, int] = {}
    for m in matches:
        seen[m] = seen.get(m, 0) + 1
    shown = [f'"{m}"' + (f" (x{n})" if n > 1 else "") for m, n in list(seen.items())[:limit]]
    more = len(seen) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


_FILLER = STOPWORDS.union(*(p.split() for p in PADDING_PHRASES))


def _stem(word: str) -> str:
    """A crude stem, enough to count "boil", "boils", "boiling", "boiled" as one word."""
    for suffix in ("ing", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]  # processes -> process
    if word.endswith("s") and not word.endswith("ss") and len(word) >= 4:
        return word[:-1]  # boils -> boil, but process stays
    return word


def _lexical_repetition(sentence_keys: Iterable[str]) -> tuple[float, list[str]]:
    """Share of the content words taken by the 3 most frequent stems, and those stems.

    Counted over distinct sentences (repeated sentences are counted separately); 0 when
    there are fewer than LEXICAL_MIN_WORDS content words.
    """
    stems = [
        _stem(w)
        for key in dict.fromkeys(sentence_keys)
        for w in _WORD.findall(key)
        if w not in _FILLER and not w.isdigit()
    ]
    if len(stems) < LEXICAL_MIN_WORDS:
        return 0.0, []
    top = Counter(stems).most_common(3)
    return sum(n for _, n in top) / len(stems), [w for w, _ in top]


def _content(sentence_key: str) -> frozenset[str]:
    """The content-word stems of a sentence key (no filler words, no numbers)."""
    return frozenset(
        _stem(w) for w in _WORD.findall(sentence_key) if w not in _FILLER and not w.isdigit()
    )


def _redundant(sentence_keys: Iterable[str]) -> list[bool]:
    """For each sentence, whether it repeats what was said before it: it equals an earlier
    sentence, or all its content words already appeared together in one of the last
    REDUNDANCY_WINDOW sentences that said something new ("The capital is Canberra." after
    "The capital of Australia is Canberra."). The window keeps this linear in the text."""
    seen: set[str] = set()
    recent: deque[frozenset[str]] = deque(maxlen=REDUNDANCY_WINDOW)
    flags = []
    for key in sentence_keys:
        words = _content(key)
        flag = key in seen or (bool(words) and any(words <= earlier for earlier in recent))
        flags.append(flag)
        seen.add(key)
        if not flag:
            recent.append(words)
    return flags


def _repeated_words(sentence_keys: Iterable[str]) -> int:
    """Pairs of identical adjacent words inside a sentence ("very very", "Paris, Paris")."""
    return sum(1 for key in sentence_keys for a, b in pairwise(_WORD.findall(key)) if a == b)


def _tidy(text: str) -> str:
    """Collapse spaces, remove space before punctuation, capitalise each sentence."""
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" +([,.;:!?])", r"\1", text)
    text = re.sub(r"[,;:]\s*([,;:])", r"\1", text)
    text = re.sub(r"([.!?])[,;:.!?]+(?=\s|$)", r"\1", text)
    text = re.sub(r"([,;:])(?=[.!?])", "", text)
    text = re.sub(r"^[\s,;:.!?]+", "", text.strip())
    out = []
    for sentence in _sentences(text):
        i = next((k for k, c in enumerate(sentence) if c.isalpha()), None)
        if i is not None and sentence[i].islower():
            sentence = sentence[:i] + sentence[i].upper() + sentence[i + 1 :]
        out.append(sentence)
    return " ".join(out)


def _join(text: str, addition: str) -> str:
    text = text.strip()
    if not text:
        return addition
    if text[-1] not in _SENTENCE_END:
        text += "."
    return f"{text} {addition}"
