"""The widgets' pure parts, in CPython: the state and helpers behind the browser UI.

The widget modules import the browser (``js``) only inside ``build``, so their state
classes and helpers run here; tests/browser/test_widgets.py checks the page shows the
same numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "widgets"))

from rlhf_widgets import (
    REGISTRY,
    dpo_comparison,
    method_frontier,
    pipeline_walkthrough,
    ppo_sweep,
    reward_training,
)
from rlhf_widgets.preference_game import L2, TIE_TOL, PreferenceGame, hit_credit

from rlhf_mini import (
    bradley_terry_loss,
    compare_methods,
    fit_bradley_terry,
    load_world,
    preference_probability,
    run_pipeline,
)


def test_registry_names_every_widget_module():
    assert set(REGISTRY) >= {
        "preference-game",
        "reward-training",
        "ppo-sweep",
        "pipeline",
        "dpo-trainer",
        "playground",
        "method-frontier",
    }
    widgets = Path(__file__).resolve().parents[1] / "docs" / "widgets"
    for module in REGISTRY.values():
        assert (widgets / (module.replace(".", "/") + ".py")).is_file()


def test_widget_modules_are_not_named_like_library_modules():
    """A widget module is named for what it shows; sharing a name with a library module
    (``pipeline``, ``playground``) would make readers look for the algorithm in the UI."""
    library = Path(__file__).resolve().parents[1] / "rlhf_mini"
    library_names = {p.stem for p in library.rglob("*.py")} | {
        p.name for p in library.rglob("*") if p.is_dir()
    }
    widget_names = {module.rsplit(".", 1)[1] for module in REGISTRY.values()}
    assert not widget_names & library_names


# --- preference game ---------------------------------------------------------------------


def test_preference_game_refits_bradley_terry_after_each_pick():
    game = PreferenceGame(prompt_index=2, seed=3)
    hits = 0.0
    pairs = []
    for t in range(12):
        a, b = game.pair
        assert a != b and 0 <= a < game.k and 0 <= b < game.k
        side = "a" if t % 3 else "b"
        winner, loser = (a, b) if side == "a" else (b, a)
        p = preference_probability(game.scores[winner], game.scores[loser])
        margin = game.scores[winner] - game.scores[loser]
        hits += 0.5 if abs(margin) <= TIE_TOL else 1.0 if p > 0.5 else 0.0
        game.pick(side)
        pairs.append((winner, loser))
        expected = fit_bradley_terry(np.array(pairs), n_items=game.k, l2=L2)
        np.testing.assert_allclose(game.scores, expected, atol=1e-12)
    assert game.n_comparisons == 12
    assert game.accuracy == pytest.approx(hits / 12)
    w, lo = np.array(pairs).T
    assert game.loss == pytest.approx(float(bradley_terry_loss(expected[w], expected[lo])))
    assert [i for i, _ in game.ranking()] == list(np.lexsort((np.arange(game.k), -expected)))


def test_a_tie_is_a_margin_within_the_stated_tolerance():
    # Regression: Pyodide's numpy 2.0.2 and the host's numpy decided "P == 0.5 exactly"
    # differently for a symmetric fit (a margin of ~1e-16 on one of them): the widget showed
    # accuracy 0.44 where the CPython replay gave 0.435. Margins within TIE_TOL are ties on
    # every platform.
    margins = np.array([0.0, 1e-16, -1e-16, TIE_TOL, -TIE_TOL, 2 * TIE_TOL, -2 * TIE_TOL, 3.0])
    np.testing.assert_array_equal(hit_credit(margins), [0.5, 0.5, 0.5, 0.5, 0.5, 1, 0, 1])


def test_preference_game_first_prediction_is_a_coin_flip_and_reset_restarts():
    game = PreferenceGame()
    first_pair = game.pair
    assert game.p_a() == 0.5 and game.accuracy is None and game.loss is None
    game.pick("a")
    assert game.accuracy == 0.5  # the untrained model gave 1/2: half a hit
    game.simulate()
    assert game.n_comparisons == 1 + 50
    game.reset()
    assert (game.n_comparisons, game.pair, game.accuracy) == (0, first_pair, None)
    assert np.all(game.scores == 0)


def test_preference_game_simulated_labellers_are_learnable():
    game = PreferenceGame(prompt_index=0)
    for _ in range(4):
        game.simulate()
    gold = load_world().gold_utility()[0]
    # 200 Bradley-Terry labels of one prompt: the fit recovers the gold order's top item,
    # and later batches are predicted well above chance.
    assert game.ranking()[0][0] == int(np.argmax(gold))
    assert game.accuracy > 0.6
    np.testing.assert_allclose(game.scores.mean(), 0.0, atol=1e-9)


def test_preference_game_is_deterministic_and_checks_input():
    a, b = PreferenceGame(seed=7), PreferenceGame(seed=7)
    for side in "abba":
        a.pick(side)
        b.pick(side)
    assert a.pair == b.pair and np.array_equal(a.scores, b.scores)
    with pytest.raises(ValueError, match="side"):
        a.pick("c")
    with pytest.raises(ValueError, match="prompt_index"):
        PreferenceGame(prompt_index=10_000)


def test_preference_game_picks_file_holds_every_own_pick_for_export_trl(tmp_path):
    from rlhf_mini.bridge.trl_export import read_picks

    game = PreferenceGame(prompt_index=0)
    expected = []
    for prompt_index, sides in ((0, "ab"), (3, "bba")):
        game.prompt_index = prompt_index  # what the prompt selector does
        game.reset()
        for side in sides:
            a, b = game.pair
            expected.append((prompt_index, *((a, b) if side == "a" else (b, a))))
            game.pick(side)
    game.simulate()  # simulated labels are not the reader's picks
    game.reset()  # nor does a reset of the fit forget them
    path = tmp_path / "picks.json"
    path.write_text(game.picks_json())
    c = read_picks(path)
    assert (
        list(zip(c.prompt.tolist(), c.chosen.tolist(), c.rejected.tolist(), strict=True))
        == expected
    )


# --- reward training -------------------------------------------------------------------


def test_reward_training_live_snapshots_end_at_the_trained_model():
    snapshots = list(reward_training.training(200, 1.0, seed=0))
    assert len(snapshots) == reward_training.EPOCHS + 1
    assert [s.history["step"][-1] for s in snapshots] == list(range(reward_training.EPOCHS + 1))
    final = reward_training.train(200, 1.0, seed=0)
    assert snapshots[-1].history == final.history
    np.testing.assert_array_equal(snapshots[-1].model.weights, final.model.weights)


def test_reward_training_offers_the_mlp_reward_model():
    from rlhf_mini import MLPRewardModel

    ((_, hidden),) = [m for m in reward_training.MODELS if m[1] is not None]
    res = reward_training.train(200, 1.0, seed=0, hidden=hidden)
    assert isinstance(res.model, MLPRewardModel) and res.model.v.shape == (hidden,)
    assert res.history["heldout_accuracy"][-1] > 0.7
    assert len(reward_training.sample_rows(res, 3)) == 5


def test_reward_training_logs_every_epoch_and_sample_rows_are_the_model():
    res = reward_training.train(200, 1.0, seed=0)
    assert res.history["step"] == list(range(reward_training.EPOCHS + 1))
    assert res.history["train_loss"][0] == pytest.approx(np.log(2))
    assert res.history["train_loss"][-1] < res.history["train_loss"][0]
    rows = reward_training.sample_rows(res, 3)
    world = load_world()
    table = res.model.score_table(world)[3]
    assert sorted(r["reward"] for r in rows) == sorted(table.tolist())
    assert [r["reward"] for r in rows] == sorted(table.tolist(), reverse=True)
    by_text = {r.text: k for k, r in enumerate(world.prompts[3].responses)}
    for r in rows:
        assert r["gold"] == world.gold_utility()[3, by_text[r["text"]]]


# --- PPO sweep ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_histories():
    return ppo_sweep.sweep(ppo_sweep.reward_scores("faithful"), ppo_sweep.BETAS)


def test_ppo_sweep_small_beta_buys_reward_with_drift(sweep_histories):
    """On the widget's defaults the KL weights of practice differ: beta 0.01 drifts at least
    twice as far as beta 0.2 and gets visibly more proxy reward."""
    kl = {b: h["kl"][-1] for b, h in sweep_histories.items()}
    proxy = {b: h["proxy_reward"][-1] for b, h in sweep_histories.items()}
    assert kl[0.01] > kl[0.1] > kl[0.2] > kl[1.0] > 0
    assert kl[0.01] >= 2 * kl[0.2]
    assert proxy[0.01] > proxy[0.2] + 0.03 > proxy[1.0] + 0.03
    for h in sweep_histories.values():
        assert h["step"][-1] == ppo_sweep.STEPS
        assert len(h["step"]) == ppo_sweep.STEPS // ppo_sweep.LOG_EVERY + 1
    s = ppo_sweep.summary(sweep_histories)
    assert (s["low"], s["high"]) == (0.01, 1.0) and not s["gold_peak"]["overoptimised"]
    assert f"{kl[0.01]:.2f} nats" in s["sentence"] and "no overoptimisation" in s["sentence"]


def test_ppo_sweep_on_the_verbosity_biased_proxy_overoptimises():
    histories = ppo_sweep.sweep(ppo_sweep.reward_scores("verbosity"), [0.01, 0.2])
    s = ppo_sweep.summary(histories)
    peak, end = s["gold_peak"]["peak"], s["gold_peak"]["end"]
    h = histories[0.01]
    assert s["gold_peak"]["overoptimised"]
    assert peak["gold_reward"] == max(h["gold_reward"])
    assert 0 < peak["step"] < ppo_sweep.STEPS
    assert end["proxy_reward"] > peak["proxy_reward"]
    assert f"{peak['gold_reward']:.2f}" in s["sentence"]


def test_ppo_sweep_summary_checks_input():
    with pytest.raises(ValueError, match="histories"):
        ppo_sweep.summary({})
    with pytest.raises(ValueError, match="name"):
        ppo_sweep.reward_scores("cheerful")


# --- pipeline ----------------------------------------------------------------------------


def test_pipeline_views_follow_the_library_stages():
    result = run_pipeline()
    views = [pipeline_walkthrough.stage_view(s) for s in result.stages]
    assert [v["title"] for v in views] == [s.title for s in result.stages]
    base = dict(views[0]["metrics"])
    gold = result.stage("base").metrics["gold_reward"]
    assert base[pipeline_walkthrough.METRIC_LABELS["gold_reward"]] == f"{gold:.2f}"
    for v, s in zip(views, result.stages, strict=True):
        assert [x["response"] for x in v["samples"]] == [x["response"] for x in s.samples]
    assert any("chosen" in line for line in views[2]["extra"])  # preference examples
    assert any(line.startswith("weight of") for line in views[3]["extra"])  # RM weights


# --- DPO trainer -----------------------------------------------------------------------


def test_dpo_trainer_runs_dpo_and_ppo_on_the_same_data():
    data = dpo_comparison.comparison(seed=0)
    dpo, ppo = data.run(0.5)
    n_heldout = round(dpo_comparison.HELDOUT_FRACTION * dpo_comparison.N_COMPARISONS)
    assert n_heldout == len(data.heldout)
    assert len(data.comparisons) == dpo_comparison.N_COMPARISONS - n_heldout
    assert dpo.history["loss"][0] == pytest.approx(np.log(2))
    # the implicit reward generalises: held-out pairs ordered well above chance
    assert dpo.final()["heldout_accuracy"] > 0.7
    for res in (dpo, ppo):
        assert res.final()["gold_reward"] > data.reference_gold
        assert res.final()["kl"] > 0
    dpo_strong, ppo_strong = data.run(2.0)
    assert dpo_strong.final()["kl"] < dpo.final()["kl"]  # a stronger leash moves less
    assert ppo_strong.final()["kl"] < ppo.final()["kl"]
    assert ppo.config["reward_scale"] == "raw"  # the units of DPO's beta


def test_preference_game_state_restores_the_same_game():
    """What the page saves for the next visit replays to the same fit, pair and picks."""
    game = PreferenceGame(prompt_index=3)
    for side in "abba":
        game.pick(side)
    game.simulate()
    game.pick("b")
    other = PreferenceGame(prompt_index=5)  # picks on another prompt stay in the history
    other.history = [("x", 0, 1)]
    game.history = other.history + game.history
    state = game.state()
    assert state["prompt"] == 3 and state["actions"] == "abbasb"
    again = PreferenceGame.restore(state)
    assert again.prompt_index == 3 and again.pair == game.pair
    assert again.n_comparisons == game.n_comparisons == 4 + 50 + 1
    np.testing.assert_array_equal(again.scores, game.scores)
    assert again.hits == game.hits and again.history == game.history
    assert again.picks_json() == game.picks_json()
    game.reset()
    assert PreferenceGame.restore(game.state()).n_comparisons == 0


@pytest.mark.parametrize(
    "state",
    [
        None,
        {},
        {"prompt": 99, "actions": "", "history": []},
        {"prompt": 0, "actions": "ax"},
        {"prompt": "0", "actions": "a", "history": [["p", "w"]]},
    ],
)
def test_preference_game_ignores_a_state_it_cannot_use(state):
    game = PreferenceGame.restore(state)
    assert game.prompt_index == 0 and game.n_comparisons == 0 and game.history == []


# --- method frontier -----------------------------------------------------------------------


def test_method_frontier_shows_every_method_on_the_same_data():
    res = method_frontier.run()
    assert res.to_dict() == compare_methods().to_dict()  # the library's defaults
    assert list(res.points) == list(method_frontier.NAMES)
    best = method_frontier.best_points(res)
    for method, p in best.items():
        assert p in res.points[method]
        assert p["gold_reward"] == max(q["gold_reward"] for q in res.points[method])
        assert p["gold_reward"] > res.reference_gold
    assert method_frontier.knob_text("best_of_n", res.points["best_of_n"]) == "n 2, 4, 8, 16, 32"
    assert method_frontier.knob_text("ppo", res.points["ppo"]) == "beta 1, 0.3, 0.1"
    sentence = method_frontier.summary(res)
    assert sentence.startswith("Closest to the ceiling: ")
    assert "No method lost gold reward" in sentence


def test_method_frontier_with_verbose_labellers_names_who_overoptimised():
    res = method_frontier.run("verbose", seed=0)
    assert res.config["verbosity_bias"] == method_frontier.LABELLERS["verbose"][1]
    sentence = method_frontier.summary(res)
    for method in ("GRPO", "best-of-n"):
        assert method in sentence.split("lowered the gold reward of ")[1].split(":")[0]
    assert method_frontier.run("faithful", seed=1).to_dict() != method_frontier.run().to_dict()
    with pytest.raises(ValueError, match="labellers"):
        method_frontier.run("lenient")


# --------------------------------------------------------------------------------------
# lm-align: the language model aligned in the page


def test_lm_align_arrives_with_the_records_weak_leash_run():
    from rlhf_widgets import lm_align

    record = lm_align.load_alignment_record()
    d = lm_align.DEFAULTS
    arrival = record["ppo"][d["reward_model"]][f"{d['beta']:g}"]
    assert arrival["config"]["steps"] == lm_align.STEPS["ppo"]
    rows = lm_align.runs_table(record)
    assert [(r["method"], r["reward_model"]) for r in rows] == [
        ("ppo", "verbose"),
        ("ppo", "verbose"),
        ("ppo", "faithful"),
        ("ppo", "faithful"),
        ("dpo", "verbose"),
        ("dpo", "faithful"),
    ]
    first = rows[0]
    assert first["beta"] == 0.01 and first["kl"] > 2 * rows[1]["kl"]  # the comparison, at once
    assert first["proxy_reward"] > rows[1]["proxy_reward"]


def test_lm_align_trailing_mean_and_summary():
    from rlhf_widgets import lm_align

    steps, values = [0, 1, 2, 3], [1.0, 3.0, 5.0, 7.0]
    assert lm_align.trailing_mean(steps, values, window=2) == [
        (0, 1.0),
        (1, 2.0),
        (2, 4.0),
        (3, 6.0),
    ]
    history = {"step": steps, **{k: values for k in lm_align.CURVES}}
    # PPO: 4 iterations done, each curve's mean over the last (up to) 10; DPO: the last point
    assert lm_align.summary(history) == {"step": 4, **dict.fromkeys(lm_align.CURVES, 4.0)}
    assert lm_align.summary(history, dpo=True) == {"step": 3, **dict.fromkeys(lm_align.CURVES, 7.0)}


@pytest.mark.parametrize("method", ["ppo", "dpo"])
def test_lm_align_runs_are_the_librarys(method):
    from rlhf_widgets import lm_align

    import rlhf_mini as rm

    record = lm_align.load_alignment_record()
    run = lm_align.make_run(method, lm_align.BETAS[method][0], "faithful", record, steps=1)
    assert isinstance(run, rm.LMPPORun if method == "ppo" else rm.LMDPORun)
    assert run.config.dtype == "float32" and run.config.reward_model == "faithful"
    events = list(run.slices())
    assert run.done and events.count("token") > 5
    if method == "dpo":
        assert len(run.train.pairs) == 256  # the record's pairs
    again = lm_align.make_run(method, lm_align.BETAS[method][0], "faithful", record, steps=1)
    for _ in again.slices():
        pass
    assert again.history == run.history  # the same seed, the same run


def test_lm_align_rejects_an_unknown_method():
    from rlhf_widgets import lm_align

    with pytest.raises(ValueError, match="method"):
        lm_align.make_run("grpo", 0.1, "faithful", lm_align.load_alignment_record())
