"""The language model aligned in the page (lm-align): it trains, its samples change, the KL
weight orders the drift, Stop stops, a new Train cancels the run in progress, and its weights
are fetched by its own page only, after the page is painted, from the site itself.

The guard of ``conftest.py`` fails a test on any non-local request, console error or
``.py-error``. Absolute times are not asserted (the machine is shared): bench/browser.py
measures them.
"""

from __future__ import annotations

import pytest
from sitebuild import pages_with

NAME = "lm-align"
ROOT = f".rlhf-widget[data-widget='{NAME}']"


def _url(site) -> str:
    (url,) = pages_with(site, f'data-widget="{NAME}"')
    return url


@pytest.fixture(scope="module")
def lm(shared_pages, site):
    page = shared_pages(_url(site))
    page.bring_to_front()  # a background tab gets throttled animation frames
    page.wait_for_selector(f"{ROOT}[data-ready='true']", timeout=120_000)
    return page, page.locator(ROOT)


def _value(widget, name: str) -> str:
    return widget.locator(f"[data-output='{name}']").get_attribute("data-value")


def _iteration(widget) -> int:
    return int(_value(widget, "iteration"))


def _wait_iterations(page, n: int, timeout: float = 120_000) -> None:
    page.wait_for_function(
        f"""() => {{
          const w = document.querySelector("{ROOT}");
          return w.getAttribute("data-training") === "running"
            && Number(w.querySelector("[data-output='iteration']").dataset.value) >= {n};
        }}""",
        timeout=timeout,
    )


def _train(page, widget, method="ppo", beta="0.01", reward_model="verbose") -> None:
    widget.locator("[data-action='method']").select_option(method)
    widget.locator("[data-action='beta']").select_option(beta)
    widget.locator("[data-action='reward-model']").select_option(reward_model)
    widget.locator("[data-action='train']").click()


def _stop(widget) -> None:
    widget.locator("[data-action='stop']").click()
    assert widget.get_attribute("data-training") == "stopped"


def _samples(widget) -> list[str]:
    return widget.locator("[data-output^='sample-']").evaluate_all(
        "els => els.map(e => e.dataset.value)"
    )


def test_arrival_shows_the_records_runs_and_the_kl_weight_comparison(lm):
    page, widget = lm
    assert widget.get_attribute("data-training") == "arrival"  # the module's first test
    assert _iteration(widget) == 300
    rows = widget.locator("tr[data-source='site']")
    assert rows.count() == 6

    def cell(method, beta, rm, key):
        row = widget.locator(
            f"tr[data-method='{method}'][data-beta='{beta}'][data-reward-model='{rm}']"
        )
        return float(row.locator(f"td[data-key='{key}']").get_attribute("data-value"))

    # what the lesson claims, on the widget's own table (the record's last 10 iterations)
    assert cell("ppo", "0.01", "verbose", "kl") >= 2 * cell("ppo", "0.2", "verbose", "kl")
    assert cell("ppo", "0.01", "verbose", "proxy_reward") > cell(
        "ppo", "0.2", "verbose", "proxy_reward"
    )
    assert len([t for t in _samples(widget) if t]) == 3
    page.guard.check()


def test_it_trains_the_samples_change_and_stop_and_resume_work(lm):
    page, widget = lm
    before = _samples(widget)
    _train(page, widget)
    page.wait_for_function(
        f"document.querySelector(\"{ROOT} [data-output='samples-step']\").dataset.value === '0'"
    )
    first = _samples(widget)
    assert first != before  # the reader's run replaced the run on arrival
    _wait_iterations(page, 10)
    page.wait_for_function(
        f"Number(document.querySelector(\"{ROOT} [data-output='samples-step']\").dataset.value) >= 5"
    )
    assert _samples(widget) != first  # the policy changed, and so did what it writes
    data = widget.locator("canvas[data-chart='rewards']").evaluate(
        "c => Chart.getChart(c).data.datasets.map(d => d.data.length)"
    )
    assert min(data) >= 10
    _stop(widget)
    stopped = _iteration(widget)
    page.wait_for_timeout(1500)
    assert _iteration(widget) == stopped  # nothing runs while stopped
    widget.locator("[data-action='resume']").click()
    _wait_iterations(page, stopped + 2)
    _stop(widget)
    page.guard.check()


def test_a_second_train_cancels_the_first(lm):
    page, widget = lm
    reader_rows = widget.locator("tr[data-source='reader']")
    n0 = reader_rows.count()
    _train(page, widget)
    _wait_iterations(page, 2)
    _train(page, widget)  # the first run is dropped mid-way
    page.wait_for_function(
        f"document.querySelectorAll(\"{ROOT} tr[data-source='reader']\").length === {n0 + 2}",
        timeout=60_000,
    )
    first = reader_rows.nth(n0).locator("td[data-key='step']").get_attribute("data-value")
    _wait_iterations(page, 4)
    page.wait_for_timeout(1000)
    assert reader_rows.nth(n0).locator("td[data-key='step']").get_attribute("data-value") == first
    assert (
        int(reader_rows.nth(n0 + 1).locator("td[data-key='step']").get_attribute("data-value")) >= 3
    )
    _stop(widget)
    page.guard.check()


def test_a_small_kl_weight_drifts_further_in_the_page(lm):
    page, widget = lm
    kl = {}
    for beta in ("0.01", "0.2"):
        _train(page, widget, beta=beta)
        _wait_iterations(page, 30, timeout=180_000)
        _stop(widget)
        kl[beta] = float(_value(widget, "kl"))  # mean of the last 10 iterations
    assert kl["0.01"] > kl["0.2"] > 0
    page.guard.check()


def test_dpo_trains_in_the_page(lm):
    page, widget = lm
    _train(page, widget, method="dpo", beta="0.1", reward_model="faithful")
    page.wait_for_function(
        f"document.querySelector(\"{ROOT} [data-output='samples-step']\").dataset.value === '0'"
    )
    _wait_iterations(page, 10)
    _stop(widget)
    data = widget.locator("canvas[data-chart='drift']").evaluate(
        "c => Chart.getChart(c).data.datasets.map(d => d.data.map(p => p.x))"
    )
    assert data[0][:2] == [0, 10]  # measured at the start and every 10 steps
    page.guard.check()


def test_weights_come_after_first_paint_from_this_site_and_only_here(page, server, site):
    """The language model's files are fetched by its own page only, after it is painted."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    fetched = {}
    for url in (_url(site), pages_with(site, 'data-widget="ppo-sweep"')[0]):
        seen.clear()
        page.goto(server.url(url))
        page.wait_for_selector(".rlhf-widget[data-ready='true']", timeout=120_000)
        fetched[url] = [u.rsplit("/", 1)[1] for u in seen if "/assets/runtime/data/" in u]
        if url == _url(site):
            marks = page.evaluate("window.rlhfRuntime.marks")
            # fetched after the first paint, installed before the page was ready
            paint = page.evaluate("performance.getEntriesByType('paint').map(e => e.startTime)")
            assert paint and marks["deferred fetch"] >= min(paint)
            assert marks["deferred installed"] <= marks["ready"]
    lm_files, other = fetched.values()
    assert sorted(lm_files) == [
        "base.npz",
        "lm_alignment.json",
        "reward.npz",
        "reward_verbose.npz",
        "sft.npz",
    ]
    assert other == []
