"""The course's gold utility as a TRL reward function (standard library only).

    from reward import gold_utility
    GRPOTrainer(model=..., reward_funcs=gold_utility, ...)

TRL calls ``gold_utility(prompts, completions, **kwargs)`` with one prompt and one completion
per sample (plain strings, or chat messages in the conversational format) and expects one
float per sample.

In the course's toy world every prompt has a few hand-written candidate responses, each with
a hidden gold utility u (what the simulated people really want; gold_utility.json, written by
``rlhf-mini export-trl``, holds them). A model writes free text, so a completion is scored
through the candidate it resembles most:

    reward = similarity * u(nearest candidate),   similarity = |W_c & W_y| / |W_c | W_y|

with W the sets of lower-cased words (Jaccard similarity; ties: the first candidate). A
completion that is exactly a candidate gets its gold utility; text unlike every candidate
gets about 0; a near-copy of a bad answer is penalised. This is a teaching reward on a toy
world, not a judge of real answers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_TABLE_FILE = Path(__file__).resolve().parent / "gold_utility.json"
_WORD = re.compile(r"[a-z0-9']+")


def _load() -> dict[str, list[tuple[frozenset[str], float]]]:
    doc = json.loads(_TABLE_FILE.read_text(encoding="utf-8"))
    return {
        entry["prompt"]: [
            (frozenset(_WORD.findall(text.lower())), float(u))
            for text, u in zip(entry["responses"], entry["utilities"], strict=True)
        ]
        for entry in doc["prompts"]
    }


_CANDIDATES = _load()


def _text(message: Any) -> str:
    """A plain string, or the content of the last message of a conversation."""
    if isinstance(message, str):
        return message
    if isinstance(message, list) and message and isinstance(message[-1], dict):
        return str(message[-1].get("content", ""))
    raise TypeError(f"expected a string or a list of chat messages, got {type(message).__name__}")


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, list):  # conversational: the last user message is the request
        users = [m for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        return _text(users or prompt)
    return _text(prompt)


def score(prompt: str, completion: str) -> float:
    """similarity * gold utility of the most similar candidate response of ``prompt``."""
    key = prompt.strip()
    if key not in _CANDIDATES:
        raise ValueError(f"prompt is not one of the course's prompts: {prompt[:80]!r}")
    words = frozenset(_WORD.findall(completion.lower()))
    best_similarity, best_utility = 0.0, 0.0
    for candidate, utility in _CANDIDATES[key]:
        union = len(candidate | words)
        similarity = len(candidate & words) / union if union else 0.0
        if similarity > best_similarity:
            best_similarity, best_utility = similarity, utility
    return best_similarity * best_utility


def gold_utility(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
    """TRL reward function: one float per (prompt, completion)."""
    if len(prompts) != len(completions):
        raise ValueError(f"got {len(prompts)} prompts and {len(completions)} completions")
    return [score(_prompt_text(p), _text(c)) for p, c in zip(prompts, completions, strict=True)]
