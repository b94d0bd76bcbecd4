"""A word-level tokenizer: text <-> token ids for the tiny language model.

Text is lower-cased and split into words (letters and digits, with an apostrophe inside a
word kept: ``can't``, ``neighbour's``) and single punctuation marks. Each distinct word
of the vocabulary is one token; five special tokens come first:

    <pad> 0   padding (never predicted, never attended to)
    <bos> 1   beginning of a sequence
    <eos> 2   end of a response: sampling stops here
    <sep> 3   between the prompt and the response
    <unk> 4   a word outside the vocabulary (only with ``unknown="unk"``)

A dialogue is ``<bos> prompt <sep> response <eos>``. By default a word outside the
vocabulary is an error that names it (a model cannot say anything sensible about a word it
has never seen); ``unknown="unk"`` maps it to ``<unk>`` instead. Decoding joins the words,
attaches punctuation and capitalises sentence starts, "I" and the proper nouns given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SPECIAL_TOKENS", "Tokenizer", "split_words"]

#: The special tokens, in id order.
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<sep>", "<unk>")

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|[^\sa-z0-9]")
_NO_SPACE_BEFORE = frozenset(".,?!:;")
_SENTENCE_END = frozenset(".?!")


def split_words(text: str) -> list[str]:
    """Lower-case ``text`` and split it into words and punctuation marks.

    Examples
    --------
    >>> split_words("Can't I boil an egg? It's 10 minutes.")
    ["can't", 'i', 'boil', 'an', 'egg', '?', "it's", '10', 'minutes', '.']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _WORD.findall(text.lower().replace("\u2019", "'"))


@dataclass(frozen=True)
class Tokenizer:
    """Word-level tokenizer over a fixed vocabulary.

    Parameters
    ----------
    words : sequence of str
        The vocabulary's words (specials excluded), e.g. from :meth:`from_texts`.
        Token ids follow this order after the five specials.
    proper_nouns : iterable of str
        How :meth:`decode` writes some words, e.g. "Canberra", "NASA" (also in a possessive:
        "NASA's").

    Examples
    --------
    >>> tok = Tokenizer.from_texts(["How do I boil an egg?", "Boil it for ten minutes."])
    >>> ids = tok.encode_dialogue("how do i boil an egg ?", "boil it for ten minutes .")
    >>> tok.decode(ids)
    'How do I boil an egg? Boil it for ten minutes.'
    >>> tok.encode("boil a goose")
    Traceback (most recent call last):
    ...
    ValueError: text has words outside the vocabulary: 'a', 'goose' (pass unknown='unk' to map them to <unk>)
    """

    words: tuple[str, ...]
    proper_nouns: tuple[str, ...] = ()
    _ids: dict[str, int] = field(init=False, repr=False, compare=False)
    _shown: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        words = tuple(self.words)
        for w in words:
            if not isinstance(w, str) or split_words(w) != [w]:
                raise ValueError(f"words must be single lower-case words, got {w!r}")
        if len(set(words)) != len(words):
            raise ValueError("words must not repeat")
        object.__setattr__(self, "words", words)
        object.__setattr__(self, "proper_nouns", tuple(self.proper_nouns))
        object.__setattr__(self, "_shown", {w.lower(): w for w in self.proper_nouns})
        vocab = (*SPECIAL_TOKENS, *words)
        object.__setattr__(self, "_ids", {w: i for i, w in enumerate(vocab)})

    @classmethod
    def from_texts(cls, texts: Iterable[str], proper_nouns: Iterable[str] = ()) -> Tokenizer:
        """The tokenizer whose vocabulary is every word of ``texts``, sorted."""
        words: set[str] = set()
        for text in texts:
            words.update(split_words(text))
        return cls(tuple(sorted(words)), tuple(proper_nouns))

    # ids of the special tokens
    pad_id = 0
    bos_id = 1
    eos_id = 2
    sep_id = 3
    unk_id = 4

    @property
    def vocab_size(self) -> int:
        """V = 5 specials + the words."""
        return len(SPECIAL_TOKENS) + len(self.words)

    def token(self, token_id: int) -> str:
        """The word (or special token) of an id."""
        if not 0 <= token_id < self.vocab_size:
            raise ValueError(f"token_id must be in [0, {self.vocab_size}), got {token_id}")
        if token_id < len(SPECIAL_TOKENS):
            return SPECIAL_TOKENS[token_id]
        return self.words[token_id - len(SPECIAL_TOKENS)]

    def encode(self, text: str, *, unknown: str = "error") -> list[int]:
        """Token ids of ``text`` (no special tokens added).

        ``unknown="error"`` (default) raises ``ValueError`` naming every word outside the
        vocabulary; ``unknown="unk"`` maps each of them to ``<unk>`` (id 4).
        """
        if unknown not in ("error", "unk"):
            raise ValueError(f"unknown must be 'error' or 'unk', got {unknown!r}")
        words = split_words(text)
        missing = [w for w in words if w not in self._ids]
        if missing and unknown == "error":
            shown = ", ".join(repr(w) for w in dict.fromkeys(missing))
            raise ValueError(
                f"text has words outside the vocabulary: {shown} "
                "(pass unknown='unk' to map them to <unk>)"
            )
        return [self._ids.get(w, self.unk_id) for w in words]

    def encode_prompt(self, prompt: str, *, unknown: str = "error") -> list[int]:
        """``<bos> prompt <sep>``: what the model continues with a response."""
        ids = self.encode(prompt, unknown=unknown)
        if not ids:
            raise ValueError("prompt must contain at least one word")
        return [self.bos_id, *ids, self.sep_id]

    def encode_dialogue(self, prompt: str, response: str, *, unknown: str = "error") -> list[int]:
        """``<bos> prompt <sep> response <eos>``: one training sequence."""
        return [
            *self.encode_prompt(prompt, unknown=unknown),
            *self.encode(response, unknown=unknown),
            self.eos_id,
        ]

    def decode(self, ids: Sequence[int] | Any, *, specials: bool = False) -> str:
        """Readable text: words joined by spaces, punctuation attached, sentences and proper
        nouns capitalised. ``<sep>`` becomes a sentence break; other specials are dropped
        unless ``specials=True`` (then they are shown as written)."""
        out: list[str] = []
        capital = True
        for i in (int(t) for t in ids):
            word = self.token(i)
            if word in SPECIAL_TOKENS:
                if specials:
                    out.append(word)
                if i in (self.sep_id, self.bos_id):
                    capital = True
                continue
            stem, apostrophe, rest = word.partition("'")
            if stem in self._shown:
                shown = self._shown[stem] + apostrophe + rest
            elif stem == "i" or capital:
                shown = word[:1].upper() + word[1:]
            else:
                shown = word
            if out and word in _NO_SPACE_BEFORE:
                out[-1] += shown
            else:
                out.append(shown)
            capital = word in _SENTENCE_END
        return " ".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {"words": list(self.words), "proper_nouns": list(self.proper_nouns)}
