"""lm-ppo, lm-grpo, lm-dpo and lm-alignment on the command line: flags from the configs, one run per
beta, JSON on stdout, a figure with --plot, bad options named."""

import json

import pytest

from rlhf_mini.cli import main

FAST = ["--steps", "2", "--batch-size", "4", "--max-new-tokens", "8"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_lm_ppo_runs_once_per_beta(capsys):
    code, out, _ = run(capsys, "lm-ppo", "--beta", "0.01", "0.2", *FAST, "--json")
    assert code == 0
    runs = json.loads(out)["runs"]
    assert [r["beta"] for r in runs] == [0.01, 0.2]
    assert [r["config"]["beta"] for r in runs] == [0.01, 0.2]
    # the default: the verbosity-loving reward model, the proxy the course studies
    assert runs[0]["config"]["reward_model"] == "verbose" and runs[0]["history"]["step"] == [0, 1]
    assert len(runs[0]["samples"][-1]["responses"]) == 3
    code, out, _ = run(capsys, "lm-ppo", *FAST, "--reward-model", "verbose")
    assert code == 0 and "against the verbose reward model" in out and "beta 0.05" in out


def test_lm_grpo_runs_once_per_beta_against_the_gold_utility(capsys, tmp_path):
    argv = ["--steps", "2", "--n-prompts", "2", "--group-size", "2", "--max-new-tokens", "8"]
    code, out, _ = run(capsys, "lm-grpo", "--beta", "0", "0.1", *argv, "--json")
    assert code == 0
    runs = json.loads(out)["runs"]
    assert [r["beta"] for r in runs] == [0.0, 0.1]
    assert [r["config"]["beta"] for r in runs] == [0.0, 0.1]
    h = runs[0]["history"]
    # the default reward is the gold utility itself (RLVR)
    assert runs[0]["config"]["reward"] == "gold" and h["reward"] == h["gold_utility"]
    assert h["step"] == [0, 1] and len(runs[0]["samples"][-1]["responses"]) == 3
    png = tmp_path / "grpo.png"
    code, out, _ = run(capsys, "lm-grpo", *argv, "--reward", "faithful", "--plot", str(png))
    assert code == 0 and "against the faithful reward model" in out and "beta 0.04" in out
    assert png.stat().st_size > 1000


def test_lm_dpo_trains_on_the_reward_models_pairs(capsys, tmp_path):
    png = tmp_path / "dpo.png"
    argv = ["--n-pairs", "12", "--steps", "2", "--batch-size", "4", "--eval-every", "1"]
    argv += ["--eval-size", "2", "--max-new-tokens", "8", "--plot", str(png)]
    code, out, _ = run(capsys, "lm-dpo", *argv)
    assert code == 0 and png.stat().st_size > 1000
    assert "10 trained on, 2 held out" in out  # the reward model's split of 12 sampled pairs


def test_lm_alignment_reports_the_shipped_record(capsys, monkeypatch):
    from rlhf_mini.experiments import lm_alignment

    record = lm_alignment.load_alignment_record()
    monkeypatch.setattr(lm_alignment, "alignment_record", lambda **kw: record)
    code, out, _ = run(capsys, "lm-alignment")
    assert code == 0 and "same as the shipped record: True" in out
    assert "overoptimised: True" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lm-ppo", "--beta", "0"], "argument --beta: beta must be > 0"),
        (["lm-ppo", "--reward-model", "kind"], "invalid choice"),
        (["lm-dpo", "--loss-type", "kto"], "invalid choice"),
        (["lm-grpo", "--group-size", "1"], "group_size must be >= 2"),
        (["lm-grpo", "--reward", "kind"], "invalid choice"),
    ],
)
def test_bad_options_are_named(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err
