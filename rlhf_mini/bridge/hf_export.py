"""Export the course's tiny language model as a Hugging Face ``transformers`` GPT-2 checkpoint.

``export_gpt2(model, folder)`` (the command ``rlhf-mini lm-export FOLDER --stage sft``) writes
a folder that ``transformers.AutoModelForCausalLM.from_pretrained`` and
``AutoTokenizer.from_pretrained`` load like any checkpoint, so the model this course trained
in numpy can be fine-tuned with TRL's trainers (``rlhf-mini export-trl OUT --model-dir
FOLDER``):

    config.json, model.safetensors    GPT2LMHeadModel: the same architecture (pre-LN blocks,
                                      GELU "gelu_new", tied output head, no dropout), the
                                      weights under GPT-2's names (the transformer's own
                                      layout: rlhf_mini.models.transformer.to_gpt2_state_dict)
    tokenizer.json, tokenizer_config.json, special_tokens_map.json
                                      the course's word tokenizer as a ``tokenizers``
                                      WordLevel model: lower-cased text split into words and
                                      single punctuation marks exactly as
                                      rlhf_mini.worlds.tokenizer.split_words does, the same ids

The scalar heads (value, reward) are left out: GPT-2's checkpoint has no place for them. The
logits are the same as the course's (tests/test_hf_export.py checks them to 1e-6 against
``transformers``). Needs the ``bridge`` extra (torch, transformers, tokenizers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlhf_mini.core.backend import to_numpy
from rlhf_mini.models import transformer as tr
from rlhf_mini.models.language_model import LanguageModel
from rlhf_mini.worlds.tokenizer import _WORD, SPECIAL_TOKENS, Tokenizer

__all__ = ["export_gpt2", "hf_tokenizer"]


def hf_tokenizer(tokenizer: Tokenizer) -> Any:
    """The course's tokenizer as a ``transformers.PreTrainedTokenizerFast`` with the same ids:
    lower-case, split into :func:`rlhf_mini.worlds.tokenizer.split_words`'s words and marks,
    one id per word (``<unk>`` for the others); <pad>, <bos>, <eos> are its special tokens."""
    from tokenizers import Regex, normalizers, pre_tokenizers
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate((*SPECIAL_TOKENS, *tokenizer.words))}
    word_level = HFTokenizer(WordLevel(vocab=vocab, unk_token="<unk>"))
    word_level.normalizer = normalizers.Sequence(
        [normalizers.Replace("\u2019", "'"), normalizers.Lowercase()]
    )
    # the words and marks are the pattern's matches; what lies between them is whitespace
    word_level.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_WORD.pattern), behavior="isolated"),
            pre_tokenizers.WhitespaceSplit(),
        ]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=word_level,
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        sep_token="<sep>",
    )


def export_gpt2(model: LanguageModel, folder: str | Path) -> Path:
    """Write ``model`` (its trunk and tied output head) and its tokenizer as a
    ``transformers`` GPT-2 checkpoint into ``folder`` (created); return the folder
    (tests/test_hf_export.py loads it with ``transformers`` and compares the logits).
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    if not isinstance(model, LanguageModel):
        raise TypeError(f"model must be a LanguageModel, got {type(model).__name__}")
    tok = model.tokenizer
    config = GPT2Config(
        **model.config.to_gpt2_config(),
        bos_token_id=tok.bos_id,
        eos_token_id=tok.eos_id,
        pad_token_id=tok.pad_id,
    )
    hf = GPT2LMHeadModel(config)
    state = {k: torch.tensor(to_numpy(v)) for k, v in tr.to_gpt2_state_dict(model.params).items()}
    missing, unexpected = hf.load_state_dict(state, strict=False)
    if unexpected or any(
        not k.endswith(("attn.bias", "attn.masked_bias", "lm_head.weight")) for k in missing
    ):
        raise ValueError(
            f"the weights do not fit GPT-2: missing {missing}, unexpected {unexpected}"
        )
    hf.tie_weights()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    hf.save_pretrained(out)
    hf_tokenizer(tok).save_pretrained(out)
    return out
