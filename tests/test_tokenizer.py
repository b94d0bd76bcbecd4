"""The word-level tokenizer: splitting, ids, special tokens, unknown words, decoding."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rlhf_mini.worlds.text import load_text_world
from rlhf_mini.worlds.tokenizer import SPECIAL_TOKENS, Tokenizer, split_words

TOK = Tokenizer.from_texts(
    ["How do I boil an egg? Can't say, it's 10 minutes: ask Sam's neighbour!"],
    proper_nouns=["Sam", "NASA"],
)


def test_split_keeps_apostrophes_inside_words_and_separates_punctuation():
    assert split_words("Sam's egg, can't; it’s 100 °C!") == [
        "sam's",
        "egg",
        ",",
        "can't",
        ";",
        "it's",
        "100",
        "°",
        "c",
        "!",
    ]
    with pytest.raises(TypeError, match="text must be a str"):
        split_words(None)


def test_specials_come_first_and_words_are_sorted():
    assert TOK.token(0) == "<pad>" and TOK.token(4) == "<unk>"
    assert (TOK.pad_id, TOK.bos_id, TOK.eos_id, TOK.sep_id, TOK.unk_id) == (0, 1, 2, 3, 4)
    assert list(TOK.words) == sorted(TOK.words)
    assert TOK.vocab_size == len(SPECIAL_TOKENS) + len(TOK.words)
    with pytest.raises(ValueError, match=r"token_id must be in \[0, "):
        TOK.token(TOK.vocab_size)


def test_dialogue_layout_and_round_trip():
    ids = TOK.encode_dialogue("how do i boil an egg?", "ask sam's neighbour!")
    assert ids[0] == TOK.bos_id and ids[-1] == TOK.eos_id
    assert ids.count(TOK.sep_id) == 1
    assert TOK.decode(ids) == "How do I boil an egg? Ask Sam's neighbour!"
    assert TOK.decode(ids, specials=True).startswith("<bos> How")


def test_unknown_words_raise_by_default_and_map_to_unk_on_request():
    with pytest.raises(ValueError, match="outside the vocabulary: 'fry', 'in', 'a', 'pan'"):
        TOK.encode("fry an egg in a pan")
    ids = TOK.encode("fry an egg", unknown="unk")
    assert ids[0] == TOK.unk_id and TOK.token(ids[2]) == "egg"
    with pytest.raises(ValueError, match="unknown must be 'error' or 'unk'"):
        TOK.encode("egg", unknown="skip")


def test_an_empty_prompt_is_an_error():
    with pytest.raises(ValueError, match="prompt must contain at least one word"):
        TOK.encode_prompt("  ")


def test_vocabulary_is_validated():
    with pytest.raises(ValueError, match="single lower-case words"):
        Tokenizer(("two words",))
    with pytest.raises(ValueError, match="must not repeat"):
        Tokenizer(("egg", "egg"))
    with pytest.raises(ValueError, match="single lower-case words, got '<eos>'"):
        Tokenizer(("<eos>",))


words = st.lists(st.sampled_from(load_text_world().tokenizer.words), min_size=1, max_size=20)


@settings(max_examples=50, deadline=None)
@given(words)
@example(["i'm", "fairly", "sure", "it's", "canberra", "."])
def test_decoding_then_encoding_gives_back_the_ids(ws):
    tok = load_text_world().tokenizer
    ids = [tok.encode(w)[0] for w in ws]
    assert tok.encode(tok.decode(ids)) == ids


def test_the_text_world_vocabulary_is_small():
    assert load_text_world().tokenizer.vocab_size <= 600
