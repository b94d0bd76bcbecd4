"""export-trl: the files load with ``datasets``, the reward is the gold utility, the accelerate
configs parse, and the exported scripts run DPOTrainer and GRPOTrainer for two steps on a tiny
random model (tests/tiny_hf.py), CPU only, offline."""

from __future__ import annotations

import os

# Nothing here may reach a hub: set before transformers, datasets or trl are imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
from tiny_hf import build_tiny_model

import rlhf_mini as rm
from rlhf_mini.bridge.trl_export import DEFAULT_MODEL, export_trl, picks_document, read_picks


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_trl(tmp_path_factory.mktemp("trl") / "out", n=40, seed=3, temperature=0.5)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"))


def test_writes_every_file(exported):
    assert exported.files == [
        "README.md",
        "accelerate/multi_gpu.yaml",
        "accelerate/single_gpu.yaml",
        "accelerate/zero2.yaml",
        "data/preferences.jsonl",
        "data/prompts.jsonl",
        "gold_utility.json",
        "reward.py",
        "train_dpo.py",
        "train_grpo.py",
    ]
    readme = (exported.out_dir / "README.md").read_text()
    assert "accelerate launch --config_file accelerate/single_gpu.yaml train_dpo.py" in readme
    assert "accelerate launch --config_file accelerate/zero2.yaml" in readme
    assert "$" not in readme.replace("$ ", "")  # every placeholder filled
    assert "40 preference pairs (simulated labellers: seed 3, temperature 0.5" in readme
    for script in ("train_dpo.py", "train_grpo.py"):
        text = (exported.out_dir / script).read_text()
        assert f'DEFAULT_MODEL = "{DEFAULT_MODEL}"' in text
        compile(text, script, "exec")


def test_preference_data_loads_with_datasets_in_trl_format(exported):
    from datasets import load_dataset

    prefs = load_dataset(
        "json", data_files=str(exported.out_dir / "data/preferences.jsonl"), split="train"
    )
    assert prefs.column_names == ["prompt", "chosen", "rejected"] and len(prefs) == 40
    world = rm.load_world()
    c = rm.simulate_comparisons(40, 3, temperature=0.5)
    for i, row in enumerate(prefs):
        p = world.prompts[c.prompt[i]]
        assert row == {
            "prompt": p.text,
            "chosen": " " + p.responses[c.chosen[i]].text,
            "rejected": " " + p.responses[c.rejected[i]].text,
        }
    prompts = load_dataset(
        "json", data_files=str(exported.out_dir / "data/prompts.jsonl"), split="train"
    )
    assert prompts.column_names == ["prompt"]
    assert prompts["prompt"] == [p.text for p in world.prompts]

    from trl.data_utils import is_conversational

    assert not is_conversational(prefs[0])  # TRL's standard (plain text) format


def test_reward_is_the_gold_utility_on_the_candidates(exported):
    reward = _load(exported.out_dir / "reward.py", "exported_reward")
    world = rm.load_world()
    gold = world.gold_utility()
    prompts = [p.text for p in world.prompts for _ in p.responses]
    completions = [" " + r.text for p in world.prompts for r in p.responses]
    got = reward.gold_utility(prompts=prompts, completions=completions, completion_ids=None)
    assert isinstance(got, list) and all(isinstance(v, float) for v in got)
    np.testing.assert_allclose(got, gold.reshape(-1), rtol=1e-12, atol=1e-12)
    # free text: similarity times the utility of the nearest candidate
    p0 = world.prompts[0]
    best = int(np.argmax(gold[0]))
    words = p0.responses[best].text.split()
    half = " ".join(words[: len(words) // 2])
    (partial,) = reward.gold_utility([p0.text], [half])
    assert 0 < partial < gold[0, best]
    assert reward.gold_utility([p0.text], ["zebra quantum"]) == [0.0]
    # the conversational format: the content of the last message
    chat = reward.gold_utility(
        [[{"role": "user", "content": p0.text}]],
        [[{"role": "assistant", "content": p0.responses[best].text}]],
    )
    assert chat == pytest.approx([gold[0, best]], rel=1e-12)
    with pytest.raises(ValueError, match="prompt is not one of the course's prompts"):
        reward.gold_utility(["What is love?"], ["Baby don't hurt me."])


def test_accelerate_configs_parse(exported):
    from accelerate.commands.config.config_args import load_config_from_file

    expected = {"single_gpu": ("NO", 1), "multi_gpu": ("MULTI_GPU", 8), "zero2": ("DEEPSPEED", 8)}
    for name, (kind, processes) in expected.items():
        config = load_config_from_file(str(exported.out_dir / "accelerate" / f"{name}.yaml"))
        assert str(config.distributed_type).endswith(kind)
        assert config.num_processes == processes and config.mixed_precision == "bf16"
    zero2 = load_config_from_file(str(exported.out_dir / "accelerate" / "zero2.yaml"))
    assert zero2.deepspeed_config["zero_stage"] == 2


def _finite_losses(trainer) -> list[float]:
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses and all(math.isfinite(v) for v in losses)
    return losses


def test_exported_scripts_train_two_steps_with_dpo_and_grpo(exported, tiny_model, tmp_path):
    dpo = _load(exported.out_dir / "train_dpo.py", "exported_train_dpo")
    common = ["--model", str(tiny_model), "--cpu", "--max-steps", "2", "--logging-steps", "1"]
    trainer = dpo.main(
        [
            *common,
            "--output-dir",
            str(tmp_path / "dpo"),
            "--per-device-batch-size",
            "2",
            "--gradient-accumulation-steps",
            "1",
            "--max-length",
            "128",
        ]
    )
    assert trainer.state.global_step == 2
    assert type(trainer).__name__ == "DPOTrainer"
    assert len(trainer.train_dataset) == 40
    _finite_losses(trainer)
    assert (tmp_path / "dpo" / "config.json").is_file()  # the trained model was saved

    grpo = _load(exported.out_dir / "train_grpo.py", "exported_train_grpo")
    trainer = grpo.main(
        [
            *common,
            "--output-dir",
            str(tmp_path / "grpo"),
            "--per-device-batch-size",
            "4",
            "--num-generations",
            "2",
            "--max-completion-length",
            "6",
        ]
    )
    assert trainer.state.global_step == 2
    assert type(trainer).__name__ == "GRPOTrainer"
    assert [f.__name__ for f in trainer.reward_funcs] == ["gold_utility"]
    _finite_losses(trainer)
    rewards = [entry["reward"] for entry in trainer.state.log_history if "reward" in entry]
    assert len(rewards) == 2 and all(math.isfinite(r) for r in rewards)


def test_model_dir_is_copied_and_becomes_the_default(tmp_path, tiny_model):
    out = export_trl(tmp_path / "out", n=5, model_dir=tiny_model)
    assert out.model == "model" and (tmp_path / "out" / "model" / "config.json").is_file()
    script = _load(tmp_path / "out" / "train_dpo.py", "exported_with_model")
    assert script.DEFAULT_MODEL == "model"
    assert script.resolve_model(script.DEFAULT_MODEL) == str(tmp_path / "out" / "model")
    assert script.resolve_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    with pytest.raises(ValueError, match=r"model_dir .* must be a transformers checkpoint"):
        export_trl(tmp_path / "again", model_dir=tmp_path)


def test_picks_round_trip_into_preference_data(tmp_path):
    world = rm.load_world()
    picks = [(world.prompts[1].id, 2, 0), (world.prompts[1].id, 3, 2), (world.prompts[5].id, 0, 4)]
    path = tmp_path / "picks.json"
    path.write_text(json.dumps(picks_document(picks)))
    c = read_picks(path)
    assert (
        c.prompt.tolist() == [1, 1, 5]
        and c.chosen.tolist() == [2, 3, 0]
        and c.rejected.tolist() == [0, 2, 4]
    )
    out = export_trl(tmp_path / "out", picks=path)
    assert out.n_pairs == 3 and "picks.json" in out.source
    rows = [
        json.loads(line)
        for line in (tmp_path / "out/data/preferences.jsonl").read_text().splitlines()
    ]
    assert rows[2] == {
        "prompt": world.prompts[5].text,
        "chosen": " " + world.prompts[5].responses[0].text,
        "rejected": " " + world.prompts[5].responses[4].text,
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot be read as JSON"),
        (json.dumps({"format": "other"}), "is not a rlhf_mini.picks document"),
        (json.dumps(picks_document([])), "holds no picks"),
        (json.dumps(picks_document([("no-such-prompt", 0, 1)])), "pick 0 must be"),
        (json.dumps(picks_document([("boil-egg", 1, 1)])), "pick 0 must be"),
        (json.dumps(picks_document([("boil-egg", 0, 99)])), "pick 0 must be"),
    ],
)
def test_bad_picks_files_are_named(tmp_path, content, message):
    path = tmp_path / "picks.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        read_picks(path)
    assert "picks.json" in str(err.value)


def test_refuses_a_non_empty_folder_unless_told(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"out_dir .* is not empty"):
        export_trl(tmp_path, n=3)
    export_trl(tmp_path, n=3, overwrite=True)
    assert (tmp_path / "keep.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="n must be >= 1"):
        export_trl(tmp_path / "new", n=0)
