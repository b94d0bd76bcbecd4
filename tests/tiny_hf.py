"""A tiny, randomly initialised transformers checkpoint for tests that run TRL offline.

``build_tiny_model(folder)`` writes a 1-layer GPT-2 (hidden size 32) built from a config, no
download, and a word-level tokenizer over the words of the course's toy world, wrapped in
``PreTrainedTokenizerFast``: a folder ``from_pretrained`` (and so TRL's trainers, given the
folder as the model name) load like any checkpoint. Seeded: the same weights every time.
Tests using it set HF_HUB_OFFLINE=1 and HF_DATASETS_OFFLINE=1 before importing transformers.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL = ("<pad>", "<eos>", "<unk>")


def build_tiny_model(folder: Path, seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from rlhf_mini import load_world

    words: set[str] = set()
    for prompt in load_world().prompts:
        words.update(prompt.text.split())
        for response in prompt.responses:
            words.update(response.text.split())
    vocab = {token: i for i, token in enumerate((*SPECIAL, *sorted(words)))}
    word_level = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    word_level.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=word_level, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=256,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=vocab["<eos>"],
        eos_token_id=vocab["<eos>"],
        pad_token_id=vocab["<pad>"],
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    model.generation_config.pad_token_id = vocab["<pad>"]
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
