"""The command line: JSON on stdout, readable tables, one-line errors with exit 2, plots."""

import io
import json
import subprocess
import sys

import pytest

from rlhf_mini.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# small budgets keep the whole file fast
JSON_CASES = {
    "preferences": (["preferences", "--n", "200"], "bt_gold_pair_accuracy"),
    "reward-model": (["reward-model", "--steps", "30"], "weights"),
    "ppo": (["ppo", "--steps", "60"], "runs"),
    "ppo-token": (["ppo", "--token-level", "--steps", "5"], "runs"),
    "dpo": (["dpo", "--steps", "30"], "history"),
    "dpo-kto": (["dpo", "--loss-type", "kto", "--steps", "10"], "history"),
    "grpo": (["grpo", "--steps", "20"], "runs"),
    "rloo": (["rloo", "--steps", "20"], "runs"),
    "pipeline": (["pipeline", "--steps", "40"], "stages"),
    "overoptimization": (["overoptimization"], "points"),
    "playground": (["playground", "Paris is the capital of France."], "alignment"),
}


@pytest.mark.parametrize("name", list(JSON_CASES))
def test_json_is_all_of_stdout(capsys, name):
    argv, key = JSON_CASES[name]
    code, out, _ = run(capsys, *argv, "--json")
    assert code == 0
    data = json.loads(out)  # the whole of stdout parses: nothing else was printed
    assert key in data


# every command with --backend also takes --dtype, and records it
DTYPE_CASES = {
    "reward-model": (["reward-model", "--steps", "10"], lambda d: d["config"]),
    "ppo": (["ppo", "--steps", "20", "--beta", "0.1"], lambda d: d["runs"][0]["config"]),
    "ppo-token": (
        ["ppo", "--token-level", "--steps", "2", "--beta", "0.1"],
        lambda d: d["runs"][0]["config"],
    ),
    "dpo": (["dpo", "--steps", "10"], lambda d: d["config"]),
    "grpo": (["grpo", "--steps", "5"], lambda d: d["runs"][0]["config"]),
    "rloo": (["rloo", "--steps", "5"], lambda d: d["runs"][0]["config"]),
    "pipeline": (["pipeline", "--steps", "20"], lambda d: d["config"]),
    "overoptimization": (
        ["overoptimization", "--method", "ppo", "--steps", "10"],
        lambda d: d["config"],
    ),
}


@pytest.mark.parametrize("name", list(DTYPE_CASES))
def test_dtype_option_reaches_the_run(capsys, name):
    argv, config = DTYPE_CASES[name]
    code, out, err = run(capsys, *argv, "--dtype", "float32", "--json")
    assert code == 0, err
    assert config(json.loads(out))["dtype"] == "float32"
    code, out, _ = run(capsys, *argv, "--json")
    assert config(json.loads(out))["dtype"] == "float64"


def test_dpo_heldout_fraction_logs_heldout_metrics(capsys):
    code, out, _ = run(capsys, "dpo", "--steps", "30", "--heldout-fraction", "0.2", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["n_comparisons"] == 400 and data["n_heldout"] == 100
    assert len(data["history"]["heldout_accuracy"]) == len(data["history"]["step"])
    code, out, _ = run(capsys, "dpo", "--steps", "30", "--heldout-fraction", "0.2")
    assert "heldout_accuracy" in out and "(100 more held out)" in out
    code, out, err = run(capsys, "dpo", "--heldout-fraction", "1.5")
    assert code == 2 and "heldout_fraction" in err


def test_reward_model_hidden_trains_the_mlp(capsys):
    code, out, _ = run(capsys, "reward-model", "--steps", "30", "--hidden", "4", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["config"]["hidden"] == 4 and len(data["weights"]["v"]) == 4
    code, out, _ = run(capsys, "reward-model", "--steps", "30", "--hidden", "4")
    assert "MLP reward model: 4 tanh units" in out
    code, _, err = run(capsys, "reward-model", "--hidden", "0")
    assert code == 2 and "--hidden" in err


def test_playground_prompt_option(capsys):
    refusal = "I can't help with that."
    code, out, _ = run(capsys, "playground", refusal, "--json")
    alone = json.loads(out)
    code, out, _ = run(capsys, "playground", refusal, "--prompt", "How do I boil an egg?", "--json")
    judged = json.loads(out)
    assert code == 0 and judged["prompt"] == "How do I boil an egg?" and alone["prompt"] is None
    assert alone["components"]["helpful"] == 0.5 and judged["components"]["helpful"] == 0.25
    assert judged["revised_score"]["alignment"] == 0.5  # engages, but answers nothing yet


def test_ppo_lower_beta_ends_with_higher_kl_and_proxy_reward(capsys):
    code, out, _ = run(capsys, "ppo", "--beta", "0.01", "0.2", "--json")
    assert code == 0
    low, high = json.loads(out)["runs"]
    assert (low["beta"], high["beta"]) == (0.01, 0.2)
    # the trade-off the course is built around: at least twice the drift, visibly more reward
    assert low["final"]["kl"] >= 2 * high["final"]["kl"]
    assert low["final"]["proxy_reward"] > high["final"]["proxy_reward"] + 0.04
    assert set(low["final"]) >= {"proxy_reward", "gold_reward", "kl"}


def test_token_level_ppo_lower_beta_ends_with_higher_kl(capsys):
    code, out, _ = run(
        capsys, "ppo", "--token-level", "--beta", "0.01", "0.5", "--steps", "25", "--json"
    )
    assert code == 0
    low, high = json.loads(out)["runs"]
    assert low["final"]["kl"] > high["final"]["kl"]
    assert low["final"]["score"] > high["final"]["score"]


def test_ppo_table_has_one_row_per_beta(capsys):
    code, out, _ = run(capsys, "ppo", "--beta", "0.05", "0.5", "--steps", "40")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[1].split() == ["beta", "proxy_reward", "gold_reward", "kl", "entropy"]
    rows = [line.split() for line in lines[3:]]
    assert [r[0] for r in rows] == ["0.0500", "0.5000"]
    assert all(len(r) == 5 for r in rows)


def test_playground_table_and_stdin(capsys, monkeypatch):
    padded = "Great question! It is important to note that Paris is definitely the capital. " * 5
    monkeypatch.setattr(sys, "stdin", io.StringIO(padded))
    code, out, _ = run(capsys, "playground")
    assert code == 0
    assert "alignment" in out and "Critique:" in out and "concise" in out and "Revised:" in out
    text_row = next(line for line in out.splitlines() if line.startswith("text "))
    assert text_row.split()[-1] == "yes"  # flagged as hacking
    monkeypatch.setattr(sys, "stdin", io.StringIO(padded))
    code, out, _ = run(capsys, "playground", "-", "--json")
    data = json.loads(out)
    assert data["hacking"] is True
    assert data["revised_score"]["alignment"] > data["alignment"]


def test_playground_without_text_on_a_terminal_is_a_usage_error(capsys, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Tty(""))
    code, out, err = run(capsys, "playground")
    assert code == 2 and out == ""
    assert "stdin" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["ppo", "--beta"],
        ["ppo", "--beta", "-1"],
        ["ppo", "--beta", "nan"],
        ["ppo", "--steps", "0"],
        ["ppo", "--steps", "ten"],
        ["ppo", "--clip-eps", "1.5"],  # rejected by the library, reported the same way
        ["ppo", "--backend", "jax"],
        ["pipeline", "--dtype", "float16"],
        ["dpo", "--loss-type", "squared"],
        ["dpo", "--label-smoothing", "0.7"],
        ["preferences", "--seed", "-3"],
        ["playground", "a", "b"],
        ["reward-model", "--plot", "/no/such/folder/x.png"],
    ],
)
def test_bad_options_exit_2_with_one_line(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "error:" in err and "Traceback" not in err


def test_module_entry_point_reports_bad_options_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "rlhf_mini", "ppo", "--beta", "-1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "rlhf-mini ppo: error: argument --beta: beta must be > 0, got -1.0"
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["playground", "You idiot, this definitely works."],
        ["ppo", "--beta", "0.05", "0.5", "--steps", "30"],
        ["grpo", "--beta", "0.05", "0.5", "--steps", "20"],
        ["overoptimization"],
    ],
)
def test_plot_writes_a_png(capsys, tmp_path, argv):
    path = tmp_path / "figure.png"
    code, out, _ = run(capsys, *argv, "--plot", str(path))
    assert code == 0
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert path.stat().st_size > 5_000
    assert "figure saved" in out


def test_plot_with_json_keeps_stdout_pure(capsys, tmp_path):
    path = tmp_path / "f.png"
    code, out, _ = run(capsys, "playground", "hello there", "--json", "--plot", str(path))
    assert code == 0 and path.exists()
    json.loads(out)


def test_plot_without_matplotlib_names_the_extra(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, out, err = run(capsys, "playground", "hi", "--plot", str(tmp_path / "x.png"))
    assert code == 1 and out == ""
    assert "rlhf-mini[plot]" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


def test_works_without_tqdm(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    code, out, _ = run(capsys, "ppo", "--token-level", "--steps", "3", "--json")
    assert code == 0
    assert len(json.loads(out)["runs"][0]["history"]["score"]) == 3


def test_seed_changes_and_reproduces_results(capsys):
    argv = ["ppo", "--token-level", "--steps", "5", "--json"]
    first = json.loads(run(capsys, *argv, "--seed", "1")[1])
    again = json.loads(run(capsys, *argv, "--seed", "1")[1])
    other = json.loads(run(capsys, *argv, "--seed", "2")[1])
    assert first == again
    assert first["runs"][0]["history"] != other["runs"][0]["history"]


def test_help_and_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("rlhf-mini ")
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in (
        "preferences",
        "reward-model",
        "ppo",
        "grpo",
        "rloo",
        "dpo",
        "pipeline",
        "overoptimization",
    ):
        assert command in out


def test_grpo_and_rloo_lower_beta_ends_with_higher_kl(capsys):
    for command in ("grpo", "rloo"):
        argv = [command, "--beta", "0.01", "1.0", "--steps", "60", "--scale-rewards", "none"]
        if command == "rloo":
            argv = argv[:-2]
        code, out, err = run(capsys, *argv, "--json")
        assert code == 0, err
        small, large = (r["final"] for r in json.loads(out)["runs"])
        assert small["kl"] > 2 * large["kl"] and small["proxy_reward"] > large["proxy_reward"]


def test_dpo_loss_type_choices_come_from_the_library(capsys):
    code, out, _ = run(capsys, "dpo", "--help")
    assert code == 0
    for name in ("kto", "simpo", "orpo", "ipo"):
        assert name in out
    code, out, err = run(capsys, "dpo", "--loss-type", "simpo", "--simpo-gamma", "0.3", "--json")
    assert code == 0, err
    assert json.loads(out)["config"]["simpo_gamma"] == 0.3
    code, _, err = run(capsys, "dpo", "--loss-type", "dpop")
    assert code == 2 and "invalid choice" in err
    code, _, err = run(capsys, "rloo", "--scale-rewards", "none")  # a GRPO setting
    assert code == 2 and "unrecognized arguments" in err


def test_lm_ppo_small_beta_buys_proxy_reward_with_drift(capsys):
    """On the language model the KL is summed over tokens: with the defaults (the
    verbosity-loving reward model, 100 iterations) beta 0.01 drifts at least twice as far as
    beta 0.2 and gets more proxy reward (means of the last 10 iterations, as the table)."""
    from rlhf_mini.experiments.lm_alignment import smooth

    code, out, _ = run(capsys, "lm-ppo", "--beta", "0.01", "0.2", "--json")
    assert code == 0
    low, high = (run_["history"] for run_ in json.loads(out)["runs"])
    low_end, high_end = smooth(low)[-1], smooth(high)[-1]
    assert low_end["kl"] >= 2 * high_end["kl"]
    assert low_end["proxy_reward"] > high_end["proxy_reward"]
