"""The tiny language model as a transformers GPT-2 checkpoint: the same logits (1e-6), the
same token ids, and a folder export-trl takes as its model."""

from __future__ import annotations

import os

# Nothing here may reach a hub: set before transformers is imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch

import rlhf_mini as rm
from rlhf_mini.bridge.hf_export import export_gpt2
from rlhf_mini.bridge.trl_export import export_trl
from rlhf_mini.cli import main
from rlhf_mini.models import transformer as tr


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = rm.load_language_model("sft")
    return model, export_gpt2(model, tmp_path_factory.mktemp("gpt2"))


def test_transformers_gives_the_same_logits(exported):
    from transformers import AutoModelForCausalLM

    model, folder = exported
    hf = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float64).eval()
    batch = model.batch(
        ["How can I boil an egg?", "Tell me the capital of Australia."],
        ["Boil it for ten minutes.", "Canberra."],
    )
    ours = tr.forward(model.params, model.config, batch.tokens, batch.attention_mask).logits
    mask = torch.tensor(batch.attention_mask)
    positions = (mask.cumsum(1) - 1).clamp(min=0)  # left padding takes no position
    with torch.no_grad():
        theirs = hf(
            input_ids=torch.tensor(batch.tokens), attention_mask=mask, position_ids=positions
        ).logits.numpy()
    real = batch.attention_mask.astype(bool)
    np.testing.assert_allclose(theirs[real], ours[real], atol=1e-6, rtol=0)


def test_the_tokenizer_gives_the_same_ids(exported):
    from transformers import AutoTokenizer

    model, folder = exported
    hf = AutoTokenizer.from_pretrained(folder)
    for text in ["Can't I boil an egg? It's 10 minutes.", "The neighbour’s wifi: ask them!"]:
        assert hf(text, add_special_tokens=False)["input_ids"] == model.tokenizer.encode(
            text, unknown="unk"
        )
    assert hf("a zebra")["input_ids"][-1] == model.tokenizer.unk_id
    assert (hf.pad_token_id, hf.bos_token_id, hf.eos_token_id) == (0, 1, 2)


def test_export_trl_takes_the_checkpoint_and_the_command_line_writes_it(exported, tmp_path, capsys):
    _, folder = exported
    out = export_trl(tmp_path / "trl", n=3, model_dir=folder)
    assert out.model == "model" and "model/config.json" in out.files
    assert main(["lm-export", str(tmp_path / "cli"), "--stage", "base"]) == 0
    assert (tmp_path / "cli" / "tokenizer.json").is_file()
    assert "export-trl OUT_DIR --model-dir" in capsys.readouterr().out
