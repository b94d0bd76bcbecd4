"""The vocabulary of the playground's rules: the phrases each critique looks for, and the
fixed texts its revisions write. Matching is on a lower-cased copy of the text with straight
apostrophes (:func:`rlhf_mini.experiments.playground.text._fold`)."""

from __future__ import annotations

import re
from collections.abc import Iterable


def _phrases(words: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any of ``words`` as whole words (longest first)."""
    alternatives = sorted((re.escape(w) for w in words), key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")(?!\w)")


PADDING_PHRASES = (
    "great question",
    "it is important to note that",
    "it's important to note that",
    "it is worth noting that",
    "it's worth noting that",
    "it goes without saying that",
    "needless to say",
    "at the end of the day",
    "in conclusion",
    "as i mentioned",
    "as mentioned above",
    "as previously stated",
    "to be honest",
    "in today's world",
    "all things considered",
    "when all is said and done",
    "basically",
    "essentially",
    "i hope this helps",
    "first and foremost",
    "last but not least",
    "that being said",
    "having said that",
    "without further ado",
)
OVERCONFIDENT = {
    # phrase -> what the "honest" revision writes instead. Intensifiers are dropped: a plain
    # statement ("Paris is the capital of France.") is as confident as an established fact
    # needs to be, so no hedge is added. Absolute claims (always, never, guaranteed, the
    # only) are weakened to what such a claim can support.
    "definitely": "",
    "certainly": "",
    "absolutely": "",
    "undoubtedly": "",
    "without a doubt": "",
    "guaranteed": "likely",
    "i'm 100% sure": "",
    "i am 100% sure": "",
    "100%": "",
    "always works": "usually works",
    "never fails": "rarely fails",
    "everyone knows": "it is often said",
    "trust me": "",
    "proven fact": "widely held view",
    "there is no doubt": "it seems likely",
    "obviously": "",
    "of course": "",
    "exactly": "",
    "the only": "one",
    "completely": "",
    "confirmed": "reported",
    "it always": "it often",
}
INSULTS = (
    "idiot",
    "idiots",
    "idiotic",
    "stupid",
    "dumb",
    "moron",
    "morons",
    "fool",
    "loser",
    "losers",
    "pathetic",
    "worthless",
    "shut up",
    "people like you",
    "your kind",
    "those people",
    "creep",
    "gullible",
    "clueless",
    "grow up",
    "google it",
    "wasting my time",
    "even a child",
    "did you skip",
    "not smart enough",
    "if you have to ask",
    "you sound like one",
    "likes you",
    "laughs at you",
)
HARM_TERMS = (
    "bomb",
    "bombs",
    "explosive",
    "explosives",
    "poison",
    "weapon",
    "weapons",
    "meth",
    "malware",
    "ransomware",
    "nerve agent",
    "hack into",
    "break into",
    "steal",
    "stalk",
    "hurt someone",
    "kill someone",
    "cracking tool",
    "password list",
    "tension wrench",
    "pick the lock",
    "without them knowing",
    "won't notice you",
    "nobody sees you",
    "without getting caught",
)
INSTRUCTION_MARKERS = (
    "here's how",
    "here is how",
    "step 1",
    "step one",
    "you will need",
    "you'll need",
    "instructions",
    "recipe",
    "mix the",
    "combine the",
    "here you go",
    "easy:",
    "get a",
    "use a",
    "first, get",
)
REFUSAL_MARKERS = (
    "i can't help",
    "i cannot help",
    "i can't assist",
    "i cannot assist",
    "i won't",
    "i will not",
    "i'm not able to",
    "i am not able to",
    "i can't do that",
    "i cannot do that",
    "i must decline",
    "i can't provide",
    "i cannot provide",
    "i can't discuss",
    "i cannot discuss",
    "i can't talk about",
    "i cannot talk about",
    "i can't give",
    "i cannot give",
    "i'm unable to provide",
    "i am unable to provide",
    "i prefer not to",
)
#: Requests to abuse a person: harmful requests even without a harm term.
ABUSE_TERMS = ("bully", "harass", "insulting", "humiliate", "threaten", "intimidate")
HELP_OFFERS = (
    "instead",
    "happy to help",
    "i can help",
    "you could",
    "consider",
    "here are",
    "alternatively",
    "if you are in danger",
    "if you or someone",
)
REFUSAL_REVISION = (
    "I can't help with that, because it could cause serious harm. If you or someone else "
    "is in danger, please contact local emergency services. I'm happy to help with a safe, "
    "related question instead."
)
CLARIFY_REVISION = (
    "I'm not sure I understood the question. Could you tell me a bit more about what you need?"
)
# A rule cannot write the answer it refused to give; it can stop refusing and engage.
ENGAGE_REVISION = (
    "I can help with that. Could you tell me a bit more about what you need, so that my "
    "answer fits?"
)
HELP_OFFER_REVISION = "I'm happy to help with a safe, related question instead."
STOPWORDS = frozenset(
    "a an and are as at be but by for from has have he her his i if in into is it its me my "
    "no not of on or our she so than that the their them then there these they this to too "
    "us was we were what when which who will with you your yes ok okay s t m d ll re ve".split()
)

_CATEGORIES = {
    "padding": PADDING_PHRASES,
    "overconfident": tuple(OVERCONFIDENT),
    "insult": INSULTS,
    "harm": HARM_TERMS,
    "instruction": INSTRUCTION_MARKERS,
    "refusal": REFUSAL_MARKERS,
    "help_offer": HELP_OFFERS,
    "abuse": ABUSE_TERMS,
}
_CATEGORY_OF = {phrase: cat for cat, phrases in _CATEGORIES.items() for phrase in phrases}
# One scan finds every listed phrase (longest alternative first); its category is looked up.
_PHRASE_RE = _phrases(_CATEGORY_OF)
_PADDING_RE = _phrases(PADDING_PHRASES)
_OVERCONFIDENT_RE = _phrases(OVERCONFIDENT)
_INSULT_RE = _phrases(INSULTS)
# "women are ...", "old people can't ...", "people from your part of the world never ..."
_GENERALISATION_RE = re.compile(
    r"\b(?:women|men|girls|boys|old people|elderly people|young people|immigrants|foreigners"
    r"|people from [\w ]{1,30}?)\s+(?:are|aren't|can't|cannot|never|always|don't)\b"
)
_NOUN_PHRASE_BEFORE = re.compile(r"\b(?:a|an|the|this|that|such)\s+$")
# A word repeated right after itself within a sentence, whatever separates the two ("very
# very", "Paris, Paris"); the critique counts the same pairs (_repeated_words).
_REPEATED_WORD_RE = re.compile(r"(?<!\w)(\w+)(?:[^\w.!?。！？\n]+\1)+(?!\w)", re.IGNORECASE)
