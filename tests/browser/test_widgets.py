"""The course widgets in a real browser: preference game, reward training, PPO sweep,
pipeline walkthrough, DPO trainer, method frontier (the playground is in test_runtime.py).

Each page boots Python once (``shared_pages``) and the guard of ``conftest.py`` fails a
test on any non-local request, console error or ``.py-error``. Where a widget's numbers
come from a pure helper, the test recomputes them in CPython and compares.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from sitebuild import AXE, pages_with

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "docs" / "widgets"))

from rlhf_widgets import dpo_comparison, method_frontier, ppo_sweep, reward_training
from rlhf_widgets.preference_game import PreferenceGame

WIDGETS = (
    "preference-game",
    "reward-training",
    "ppo-sweep",
    "pipeline",
    "dpo-trainer",
    "method-frontier",
    "lm-align",
)


def _url(site, name: str) -> str:
    hits = pages_with(site, f'data-widget="{name}"')
    if not hits:
        pytest.fail(f"no page of the built site has the {name} widget")
    return hits[0]


def _widget(shared_pages, site, name: str):
    page = shared_pages(_url(site, name))
    page.bring_to_front()  # a background tab gets throttled animation frames: slow clicks
    root = f".rlhf-widget[data-widget='{name}']"
    page.wait_for_selector(f"{root}[data-ready='true']", timeout=120_000)
    return page, page.locator(root)


def _text(widget, name: str) -> str:
    return widget.locator(f"[data-output='{name}']").text_content()


def _value(widget, name: str) -> str:
    return widget.locator(f"[data-output='{name}']").get_attribute("data-value")


def _chart_data(page, widget, chart: str) -> list[list[dict]]:
    """The (x, y) points of every data set of the Chart.js chart named ``chart``."""
    canvas = widget.locator(f"canvas[data-chart='{chart}']")
    return canvas.evaluate("c => Chart.getChart(c).data.datasets.map(d => d.data)")


@pytest.mark.parametrize("name", WIDGETS)
def test_widget_reaches_ready(shared_pages, site, name):
    page, widget = _widget(shared_pages, site, name)
    assert widget.locator("[data-loading]").count() == 0
    assert widget.locator("[data-error]").is_hidden()
    assert widget.get_attribute("data-failed") is None
    page.guard.check()


def _replay(picks: list[str], simulate_first: bool = False) -> PreferenceGame:
    game = PreferenceGame()
    if simulate_first:
        game.simulate()
    for side in picks:
        game.pick(side)
    return game


def test_preference_game_counts_picks_and_refits(shared_pages, site):
    page, widget = _widget(shared_pages, site, "preference-game")
    widget.locator("[data-action='reset']").click()
    assert _value(widget, "comparisons") == "0"
    picks = ["a", "b", "a", "a", "b", "a", "b", "b", "a", "a"]
    for side in picks:
        widget.locator(f"[data-action='pick-{side}']").click()
    assert _value(widget, "comparisons") == "10"
    # The same picks in CPython: same fit, same accuracy and loss, same ranking.
    game = _replay(picks)
    assert float(_value(widget, "accuracy")) == pytest.approx(game.accuracy, abs=1e-12)
    assert float(_value(widget, "loss")) == pytest.approx(game.loss, rel=1e-9)
    assert _value(widget, "ranking") == ",".join(str(i) for i, _ in game.ranking())
    assert widget.locator("[data-output='ranking'] li").count() == game.k
    a, b = game.pair
    responses = game.prompt.responses
    assert _text(widget, "response-a") == responses[a].text
    assert _text(widget, "response-b") == responses[b].text
    assert float(_value(widget, "p-a")) == pytest.approx(game.p_a(), rel=1e-9)

    widget.locator("[data-action='simulate']").click()
    assert _value(widget, "comparisons") == "60"
    acc = float(_value(widget, "accuracy"))
    assert 0.0 <= acc <= 1.0
    widget.locator("[data-action='reset']").click()
    assert _value(widget, "comparisons") == "0"
    assert _text(widget, "loss") == "no comparisons yet"
    page.guard.check()


def test_preference_game_survives_100_rapid_clicks(shared_pages, site):
    page, widget = _widget(shared_pages, site, "preference-game")
    widget.locator("[data-action='reset']").click()
    picks = ["a" if k % 3 else "b" for k in range(100)]
    # 100 clicks fired back to back from JS (no waiting in between), as a frantic reader.
    page.evaluate(
        "(picks) => { const w = document.querySelector(\"[data-widget='preference-game']\");"
        " for (const side of picks) w.querySelector(`[data-action='pick-${side}']`).click(); }",
        picks,
    )
    assert _value(widget, "comparisons") == "100"
    game = _replay(picks)
    assert _value(widget, "ranking") == ",".join(str(i) for i, _ in game.ranking())
    assert float(_value(widget, "loss")) == pytest.approx(game.loss, rel=1e-9)
    assert float(_value(widget, "accuracy")) == pytest.approx(game.accuracy, abs=1e-12)
    assert widget.locator("[data-error]").is_hidden()
    page.guard.check()


def test_preference_game_downloads_the_readers_picks_for_export_trl(page, server, site, tmp_path):
    from rlhf_mini.bridge.trl_export import export_trl

    page.goto(server.url(_url(site, "preference-game")))
    root = ".rlhf-widget[data-widget='preference-game']"
    page.wait_for_selector(f"{root}[data-ready='true']", timeout=120_000)
    widget = page.locator(root)
    button = widget.locator("[data-action='download-picks']")
    assert button.is_disabled() and _value(widget, "my-picks") == "0"
    game = PreferenceGame()  # the same picks in CPython
    for prompt, sides in ((None, "abb"), ("3", "aa")):
        if prompt is not None:
            widget.locator("select[data-action='prompt']").select_option(prompt)
            game.prompt_index = int(prompt)
            game.reset()
        for side in sides:
            widget.locator(f"[data-action='pick-{side}']").click()
            game.pick(side)
    widget.locator("[data-action='simulate']").click()  # not the reader's picks
    assert _value(widget, "my-picks") == "5" and button.is_enabled()
    with page.expect_download() as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "rlhf_mini_picks.json"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert json.loads(saved.read_text()) == json.loads(game.picks_json())
    # the file is what the command line turns into TRL preference data
    out = export_trl(tmp_path / "trl", picks=saved)
    assert out.n_pairs == 5
    page.guard.check()


def _trained(widget) -> None:
    """Wait until the live training run of the reward-training widget has finished."""
    widget.page.wait_for_selector(
        ".rlhf-widget[data-widget='reward-training'][data-training='done']", timeout=30_000
    )


def test_reward_training_chart_updates(shared_pages, site):
    page, widget = _widget(shared_pages, site, "reward-training")
    _trained(widget)
    before = _chart_data(page, widget, "training")
    assert len(before) == 4  # train / held-out loss and accuracy
    assert len(before[0]) == 101  # epochs 0..100
    assert before[0][0]["y"] == pytest.approx(math.log(2))  # w = 0: loss log 2
    assert widget.locator("[data-output='samples'] tr").count() == 5
    held = float(_value(widget, "heldout-accuracy"))
    widget.locator("select[data-action='n']").select_option("1000")
    # Live: record every epoch the read-out shows while the run goes on, frame by frame.
    page.evaluate(
        """() => {
            window.__epochs = [];
            const out = document.querySelector(
                ".rlhf-widget[data-widget='reward-training'] [data-output='epochs']");
            new MutationObserver(() => window.__epochs.push(Number(out.dataset.value)))
                .observe(out, {attributes: true, attributeFilter: ["data-value"]});
        }"""
    )
    widget.locator("[data-action='train']").click()
    assert widget.get_attribute("data-training") == "running"
    _trained(widget)
    shown = page.evaluate("() => window.__epochs")
    assert shown[0] == 0 and shown[-1] == 100
    assert shown == sorted(shown) and len(set(shown)) > 10  # many intermediate states
    assert _value(widget, "epochs") == "100"
    after = _chart_data(page, widget, "training")
    assert len(after[0]) == 101 and after[0] != before[0]
    assert _text(widget, "data").startswith("800 train + 200 held-out")
    assert 0.5 < float(_value(widget, "heldout-accuracy")) <= 1.0
    assert float(_value(widget, "heldout-accuracy")) != held
    # The table's rewards are sorted, best first.
    rewards = [float(r) for r in _value(widget, "samples").split(",")]
    assert rewards == sorted(rewards, reverse=True)
    widget.locator("[data-action='resample']").click()
    assert "seed 1" in _text(widget, "data")
    _trained(widget)
    page.guard.check()


def test_reward_training_trains_the_mlp_reward_model_too(shared_pages, site):
    page, widget = _widget(shared_pages, site, "reward-training")
    _trained(widget)
    widget.locator("select[data-action='model']").select_option(reward_training.MODELS[1][0])
    widget.locator("[data-action='train']").click()
    _trained(widget)
    n, temperature, seed, hidden = _value(widget, "data").split()
    assert hidden == "8" and "MLP" in _text(widget, "data")
    res = reward_training.train(int(n), float(temperature), int(seed), hidden=8)
    assert float(_value(widget, "heldout-accuracy")) == res.history["heldout_accuracy"][-1]
    assert float(_value(widget, "heldout-accuracy")) > 0.6
    widget.locator("select[data-action='model']").select_option(reward_training.MODELS[0][0])
    widget.locator("[data-action='train']").click()
    _trained(widget)
    page.guard.check()


def test_reward_training_new_run_stops_the_one_in_progress(shared_pages, site):
    page, widget = _widget(shared_pages, site, "reward-training")
    _trained(widget)
    for _ in range(5):  # five runs started before any can finish
        widget.locator("[data-action='resample']").click()
    _trained(widget)
    data = _chart_data(page, widget, "training")
    assert [p["x"] for p in data[0]] == list(range(101))  # one run's epochs, once each
    # and what is shown is that run's final model (its table is the last seed's model)
    n, temperature, seed, hidden = _value(widget, "data").split()  # the last run's setup
    assert hidden == "None"
    res = reward_training.train(int(n), float(temperature), int(seed))
    assert float(_value(widget, "heldout-accuracy")) == res.history["heldout_accuracy"][-1]
    page.guard.check()


def test_ppo_sweep_small_beta_drifts_further(shared_pages, site):
    page, widget = _widget(shared_pages, site, "ppo-sweep")
    assert f"{ppo_sweep.STEPS} PPO steps" in _text(widget, "steps")
    widget.locator("[data-action='run-sweep']").click()
    kl = {b: float(_value(widget, f"kl-{b:g}")) for b in ppo_sweep.BETAS}
    assert kl[0.01] >= 2 * kl[0.2] > 2 * kl[1.0]
    for chart in ("proxy", "gold", "kl"):
        data = _chart_data(page, widget, chart)
        assert len(data) == len(ppo_sweep.BETAS)
        assert len(data[0]) == ppo_sweep.STEPS // ppo_sweep.LOG_EVERY + 1
    assert _chart_data(page, widget, "final")[0][0]["x"] == pytest.approx(kl[0.01])
    # Same numbers as CPython (float64 numpy in both; the seed fixes the sampling).
    histories = ppo_sweep.sweep(ppo_sweep.reward_scores("faithful"), ppo_sweep.BETAS)
    for b in ppo_sweep.BETAS:
        assert kl[b] == pytest.approx(histories[b]["kl"][-1], rel=1e-6)
    assert float(_value(widget, "proxy-0.01")) > float(_value(widget, "proxy-0.2")) + 0.03
    assert _text(widget, "verdict") == ppo_sweep.summary(histories)["sentence"]
    ms = float(_value(widget, "sweep-ms"))
    print(
        f"\nPPO sweep in Pyodide: {ms:.0f} ms ({len(ppo_sweep.BETAS)} betas x {ppo_sweep.STEPS} steps)"
    )
    # Only some betas: the others read "not run".
    widget.locator("[data-action='beta-0.05']").uncheck()
    widget.locator("[data-action='run-sweep']").click()
    assert _text(widget, "kl-0.05") == "not run"
    assert len(_chart_data(page, widget, "kl")) == len(ppo_sweep.BETAS) - 1
    widget.locator("[data-action='beta-0.05']").check()
    page.guard.check()


def test_pipeline_walks_through_six_steps(shared_pages, site):
    page, widget = _widget(shared_pages, site, "pipeline")
    prev, nxt = widget.locator("[data-action='prev']"), widget.locator("[data-action='next']")
    titles = []
    assert _value(widget, "step") == "1" and prev.is_disabled()
    for k in range(6):
        titles.append(_text(widget, "title"))
        assert _value(widget, "step") == str(k + 1)
        assert widget.locator("[data-output='samples'] .rlhf-revised").count() == 4
        if k < 5:
            nxt.click()
    assert titles == [
        "1. Base model",
        "2. Supervised fine-tuning",
        "3. Preference collection",
        "4. Reward model",
        "5. Reinforcement learning (PPO)",
        "6. Aligned assistant",
    ]
    assert nxt.is_disabled()
    for _ in range(5):
        prev.click()
    assert _value(widget, "step") == "1"
    # 100 rapid clicks (JS, no waiting between them) end where the arithmetic says.
    page.evaluate(
        "() => { const w = document.querySelector(\"[data-widget='pipeline']\");"
        " for (let i = 0; i < 100; i++) w.querySelector("
        " i % 3 ? \"[data-action='next']\" : \"[data-action='prev']\").click(); }"
    )
    step = 0
    for i in range(100):
        step = min(max(step + (1 if i % 3 else -1), 0), 5)
    assert _value(widget, "step") == str(step + 1)
    assert _text(widget, "step") == f"Step {step + 1} of 6"
    page.guard.check()


def test_dpo_trainer_runs_and_compares_with_ppo(shared_pages, site):
    page, widget = _widget(shared_pages, site, "dpo-trainer")
    assert _value(widget, "beta") == str(dpo_comparison.DEFAULT_BETA)
    data = _chart_data(page, widget, "dpo")
    assert len(data) == 4  # loss, accuracy, held-out accuracy, margin
    assert data[2][-1]["y"] > 0.7  # held-out pairs ordered well above chance
    assert data[0][0]["y"] == pytest.approx(math.log(2))  # the policy starts at pi_ref
    assert data[0][-1]["y"] < data[0][0]["y"]
    ref, dpo_gold, ppo_gold = (
        float(_value(widget, k)) for k in ("ref-gold", "dpo-gold", "ppo-gold")
    )
    assert dpo_gold > ref and ppo_gold > ref
    kl_half = float(_value(widget, "dpo-kl"))
    # Slide to the strongest leash: DPO moves less far from the reference.
    widget.locator("input[data-action='beta']").evaluate(
        "(el, i) => { el.value = String(i); el.dispatchEvent(new Event('input'));"
        " el.dispatchEvent(new Event('change')); }",
        len(dpo_comparison.BETAS) - 1,
    )
    assert _value(widget, "beta") == str(dpo_comparison.BETAS[-1])
    assert float(_value(widget, "dpo-kl")) < kl_half
    assert float(_value(widget, "ppo-kl")) > 0
    page.guard.check()


def test_method_frontier_computes_every_method_and_switches_labellers(shared_pages, site):
    page, widget = _widget(shared_pages, site, "method-frontier")
    names = list(method_frontier.NAMES)
    # on arrival: the default run, the same numbers as CPython (float64 numpy in both)
    expected = method_frontier.run()
    best = method_frontier.best_points(expected)
    for method in names:
        assert float(_value(widget, f"gold-{method}")) == pytest.approx(
            best[method]["gold_reward"], rel=1e-6
        )
        assert float(_value(widget, f"kl-{method}")) == pytest.approx(best[method]["kl"], rel=1e-6)
    assert _text(widget, "verdict") == method_frontier.summary(expected)
    data = _chart_data(page, widget, "frontier")
    assert len(data) == 1 + len(names)  # the ceiling (from the SFT point), one line per method
    assert len(data[0]) == 1 + len(expected.ceiling)
    assert data[0][0] == {"x": 0.0, "y": pytest.approx(expected.reference_gold)}
    assert [len(d) for d in data[1:]] == [len(expected.points[m]) for m in names]
    ms = float(_value(widget, "ms"))
    runs = sum(len(p) for p in expected.points.values())
    print(f"\nMethod frontier in Pyodide: {ms:.0f} ms ({runs} runs, all five methods)")
    # hiding a method redraws without it (nothing recomputed)
    widget.locator("[data-action='show-dpo']").uncheck()
    assert len(_chart_data(page, widget, "frontier")) == len(names)
    assert float(_value(widget, "ms")) == ms
    widget.locator("[data-action='show-dpo']").check()
    # labellers who like long answers: recomputed, and the summary names the overoptimisers
    widget.locator("select[data-action='labellers']").select_option("verbose")
    page.wait_for_function(
        "() => document.querySelector(\"[data-widget='method-frontier'] [data-output='status']\")"
        ".dataset.value === 'done' && document.querySelector(\"[data-widget='method-frontier']"
        " [data-output='verdict']\").textContent.includes('lowered')",
        timeout=60_000,
    )
    verbose = method_frontier.run("verbose")
    assert _text(widget, "verdict") == method_frontier.summary(verbose)
    assert float(_value(widget, "gold-grpo")) == pytest.approx(
        method_frontier.best_points(verbose)["grpo"]["gold_reward"], rel=1e-6
    )
    widget.locator("select[data-action='labellers']").select_option("faithful")
    page.wait_for_function(
        "() => !document.querySelector(\"[data-widget='method-frontier'] [data-output='verdict']\")"
        ".textContent.includes('lowered')",
        timeout=60_000,
    )
    page.guard.check()


def test_widgets_are_accessible(shared_pages, site):
    """axe-core: no serious or critical violation inside any of the widgets."""
    for name in WIDGETS:
        page, _ = _widget(shared_pages, site, name)
        if not page.evaluate("() => typeof axe !== 'undefined'"):
            page.add_script_tag(path=str(AXE))
        found = page.evaluate(
            "async (sel) => (await axe.run(sel, {resultTypes: ['violations']})).violations"
            ".filter(v => ['serious', 'critical'].includes(v.impact))"
            ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))",
            f".rlhf-widget[data-widget='{name}']",
        )
        assert found == [], f"{name}: {found}"
        page.guard.check()


def test_runtime_blocked_each_widget_shows_its_error(page, server, site):
    page.guard.expect_failures()
    page.route("**/assets/runtime/**", lambda route: route.abort())
    for name in WIDGETS:
        page.goto(server.url(_url(site, name)))
        root = page.locator(f".rlhf-widget[data-widget='{name}']")
        root.locator("[data-error]:not([hidden])").wait_for(timeout=60_000)
        assert root.get_attribute("data-ready") is None
        assert root.locator("[data-error]").text_content().strip()
        assert root.locator("[data-loading]").count() == 0
        # what the widget would have computed stays on show: the build-time default run
        assert root.locator(".rlhf-widget-fallback img").is_visible()
