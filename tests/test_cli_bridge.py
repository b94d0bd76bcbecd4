"""The best-of-n and export-trl subcommands: JSON, tables, plots, one-line errors (exit 2)."""

from __future__ import annotations

import json

import numpy as np

import rlhf_mini as rm
from rlhf_mini.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_the_new_commands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "best-of-n" in out and "export-trl" in out


def test_best_of_n_json_is_exact_and_below_the_bound(capsys):
    code, out, err = run(capsys, "best-of-n", "--n", "1", "2", "8", "64", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert [r["n"] for r in data["rows"]] == [1, 2, 8, 64]
    world = rm.load_world()
    pi, gold = rm.sft_policy(world).to_numpy(), world.gold_utility()
    for row in data["rows"]:
        probs, kl = rm.best_of_n_policy(pi, gold, row["n"])
        assert row["kl_per_prompt"] == kl.tolist()
        assert row["kl_mean"] == float(np.mean(kl))
        assert row["gold_reward"] == float(np.mean(np.sum(probs * gold, axis=1)))
        assert row["kl_bound"] == rm.best_of_n_kl_bound(row["n"])
        assert row["kl_max"] <= row["kl_bound"] + 1e-12
    assert data["rows"][0]["kl_mean"] == 0.0
    golds = [r["gold_reward"] for r in data["rows"]]
    assert golds == sorted(golds) and golds[-1] <= data["best_gold_reward"]
    # the world has prompts whose best responses tie
    assert data["prompts_with_tied_rewards"]


def test_best_of_n_table_base_policy_and_plot(capsys, tmp_path):
    png = tmp_path / "bon.png"
    code, out, _ = run(capsys, "best-of-n", "--policy", "base", "--n", "1", "4", "--plot", str(png))
    assert code == 0
    assert "Best-of-n from the base policy" in out and "KL bound" in out
    assert f"figure saved to {png}" in out
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_best_of_n_bad_n_is_a_one_line_error(capsys):
    code, out, err = run(capsys, "best-of-n", "--n", "0")
    assert code == 2 and out == ""
    assert err == "rlhf-mini best-of-n: error: argument --n: n must be >= 1, got 0\n"


def test_export_trl_json_and_text(capsys, tmp_path):
    code, out, _ = run(capsys, "export-trl", str(tmp_path / "a"), "--n", "12", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["n_pairs"] == 12 and data["n_prompts"] == rm.load_world().n_prompts
    assert "train_dpo.py" in data["files"] and "data/preferences.jsonl" in data["files"]
    code, out, _ = run(capsys, "export-trl", str(tmp_path / "b"), "--n", "5", "--model", "gpt2")
    assert code == 0 and "default model: gpt2" in out and "accelerate launch" in out
    assert 'DEFAULT_MODEL = "gpt2"' in (tmp_path / "b" / "train_grpo.py").read_text()
    lines = (tmp_path / "b" / "data" / "preferences.jsonl").read_text().splitlines()
    assert len(lines) == 5 and all(
        set(json.loads(x)) == {"prompt", "chosen", "rejected"} for x in lines
    )


def test_export_trl_errors_are_one_line(capsys, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    code, out, err = run(capsys, "export-trl", str(tmp_path / "full"))
    assert code == 2 and out == "" and "is not empty" in err and err.count("\n") == 1
    bad = tmp_path / "picks.json"
    bad.write_text("{}")
    code, _, err = run(capsys, "export-trl", str(tmp_path / "new"), "--picks", str(bad))
    assert code == 2 and "is not a rlhf_mini.picks document" in err
    code, _, err = run(capsys, "export-trl", str(tmp_path / "new2"), "--temperature", "nan")
    assert code == 2 and "temperature" in err
    assert not (tmp_path / "new").exists() and not (tmp_path / "new2").exists()  # nothing written
