"""The site in a real browser: quizzes, runnable code blocks, the widget framework.

Served from 127.0.0.1 with the guard of ``conftest.py`` (no request leaves the machine, no
console error, no ``.py-error``).
"""

from __future__ import annotations

import doctest
import gzip
import json
import re
import time

import pytest
from sitebuild import AXE, pages_with

READY = ".rlhf-widget[data-ready='true']"


def _first(site, needle: str) -> str:
    hits = pages_with(site, needle)
    if not hits:
        pytest.fail(f"no page of the built site contains {needle!r}")
    return hits[0]


def _runtime_page(shared_pages, site):
    """A lesson with runnable blocks (the playground's, if it has some: one Python boot for
    the module), with its runtime started."""
    runnable = pages_with(site, '"runnable": true')
    both = [p for p in runnable if p in pages_with(site, 'data-widget="playground"')]
    if not runnable:
        pytest.fail("no lesson has runnable Python blocks")
    page = shared_pages((both or runnable)[0])
    _wait_runtime(page)
    return page


def _wait_runtime(page) -> None:
    page.wait_for_function(
        "() => window.rlhfRuntime && window.rlhfRuntime.state() !== 'loading'", timeout=90_000
    )
    state = page.evaluate("() => [rlhfRuntime.state(), rlhfRuntime.failure()]")
    assert state[0] == "ready", f"runtime did not start: {state[1]}"


# --- quizzes -------------------------------------------------------------------------------


def test_quiz_works_by_keyboard(page, server, site):
    # Quizzes are plain HTML + JS: they must work with the Python runtime unavailable.
    page.guard.expect_failures()
    page.route("**/assets/runtime/**", lambda route: route.abort())
    page.goto(server.url(_first(site, 'class="rlhf-quiz"')))
    quiz = page.locator(".rlhf-quiz").first
    options = quiz.locator(".rlhf-quiz-options button")
    n = options.count()
    assert n >= 2
    feedback = quiz.locator(".rlhf-quiz-feedback")
    options.nth(0).focus()
    for i in range(n):
        if i:
            page.keyboard.press("Tab")  # the next option is the next tab stop
        focused = page.evaluate("() => document.activeElement.textContent")
        assert focused == options.nth(i).text_content()
        page.keyboard.press("Enter" if i % 2 == 0 else "Space")
        correct = options.nth(i).get_attribute("data-correct") == "true"
        text = feedback.text_content()
        assert text.startswith("Correct." if correct else "Not quite.")
        assert options.nth(i).get_attribute("data-feedback") in text
        assert options.nth(i).get_attribute("aria-pressed") == "true"
        assert quiz.get_attribute("data-answered") == ("correct" if correct else "incorrect")
    assert quiz.locator("button[data-correct='true']").count() == 1


# --- runnable code blocks ------------------------------------------------------------------


def test_run_button_executes_a_block_and_prints_its_output(shared_pages, site):
    page = _runtime_page(shared_pages, site)
    blocks = page.locator("[data-runnable]")
    assert blocks.count() >= 1
    # The first doctest-style block: Pyodide must print what the page says (and what
    # Sybil checks in CPython).
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    for i in range(blocks.count()):
        source = blocks.nth(i).locator("pre > code").inner_text()
        examples = doctest.DocTestParser().get_examples(source)
        if any(ex.want for ex in examples):
            break
    else:
        pytest.fail("no doctest-style block with expected output on the page")
    run = page.locator("button[data-action='run']").nth(i)
    output = page.locator("pre[data-output='run']").nth(i)
    assert run.is_enabled()
    run.click()
    expected = "".join(ex.want for ex in examples)
    got = output.text_content()
    assert checker.check_output(expected, got, flags), f"expected:\n{expected}\ngot:\n{got}"

    # Edited code runs as a script: the last expression's repr, stdout, and tracebacks.
    code = blocks.nth(i).locator("pre > code")
    code.fill("print('hello')\n6 * 7")
    run.click()
    assert output.text_content() == "hello\n42\n"
    code.fill("1 / 0")
    run.click()
    assert "ZeroDivisionError: division by zero" in output.text_content()
    assert "rlhf-run-error" in output.get_attribute("class")
    page.guard.check()


# The framework's runner, checked in the browser's Python against what CPython does.
def test_runner_shares_one_namespace_per_page(shared_pages, site):
    page = _runtime_page(shared_pages, site)
    first = page.evaluate("() => rlhfRuntime.run('>>> shared = 20 + 1\\n>>> shared\\n21\\n')")
    second = page.evaluate("() => rlhfRuntime.run('shared * 2')")
    assert first == {"ok": True, "output": "21\n"}
    assert second == {"ok": True, "output": "42\n"}
    page.guard.check()


BYTECODE_PROBE = r"""
import importlib.util, inspect, json as json_module
import numpy, array_api_compat, rlhf_mini.losses.dpo, rlhf_widgets.runner

def header(path):
    with open(path, "rb") as f:
        return f.read(8)

report = {
    # sourceless modules come from their .pyc (stdlib in the zip, numpy, array-api-compat)
    "sourceless": [m.__file__.endswith(".pyc")
                   for m in (json_module, numpy, array_api_compat, inspect)],
    # the course's own modules: sources kept, bytecode this interpreter accepts next to them
    "cached": [header(m.__cached__) == importlib.util.MAGIC_NUMBER + b"\x01\0\0\0"
               for m in (rlhf_mini.losses.dpo, rlhf_widgets.runner)],
    "source_readable": "def dpo_loss" in inspect.getsource(rlhf_mini.losses.dpo),
}
print(json_module.dumps(report))
"""


def test_browser_imports_the_bytecode_compiled_at_build_time(shared_pages, site):
    page = _runtime_page(shared_pages, site)
    result = page.evaluate("(src) => rlhfRuntime.run(src)", BYTECODE_PROBE)
    assert result["ok"], result["output"]
    report = json.loads(result["output"])
    assert report["sourceless"] == [True] * 4
    assert report["cached"] == [True, True]
    assert report["source_readable"]
    page.guard.check()


def test_loading_message_states_what_the_page_downloads(page, server, site):
    """The "downloads about N MB" of the loading message is what a cold widget page fetches
    for its runtime, counted as a compressing host sends it (zips as they are)."""
    url = _first(site, 'data-widget="playground"')
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(server.url(url))
    loading = page.locator("[data-loading]").first.text_content()
    stated = int(re.search(r"downloads about (\d+) MB", loading).group(1))
    page.wait_for_selector(READY, timeout=90_000)
    total = 0
    for u in {u for u in fetched if "/assets/runtime/" in u or "/chart.js/" in u}:
        data = (site / u.split("/", 3)[3].split("?")[0]).read_bytes()
        total += len(data) if u.endswith((".zip", ".whl")) else len(gzip.compress(data, 6))
    assert total > 5e6
    assert abs(stated - total / 1e6) <= 0.6, (stated, total)
    page.guard.check()


# --- widgets -------------------------------------------------------------------------------


def _playground(shared_pages, site):
    page = shared_pages(_first(site, 'data-widget="playground"'))
    page.wait_for_selector(".rlhf-widget[data-widget='playground'][data-ready='true']")
    return page, page.locator(".rlhf-widget[data-widget='playground']")


def _value(widget, name: str) -> float:
    return float(widget.locator(f"[data-output='{name}']").get_attribute("data-value"))


def test_playground_ready_and_gap_is_reward_minus_alignment(shared_pages, site):
    page, widget = _playground(shared_pages, site)
    assert widget.locator("[data-loading]").count() == 0
    assert widget.locator("[data-error]").is_hidden()
    seen_hacking = set()
    for action in ("example-padded", "example-concise", "example-harmful", "example-unsure"):
        widget.locator(f"[data-action='{action}']").click()
        reward, alignment, gap = (_value(widget, k) for k in ("reward", "alignment", "gap"))
        assert gap == reward - alignment
        assert 0.0 <= reward <= 1.0 and 0.0 <= alignment <= 1.0
        assert widget.locator("[data-output='gap']").text_content() == f"{gap:.3f}"
        seen_hacking.add(widget.locator("[data-output='hacking']").get_attribute("data-value"))
    assert seen_hacking == {"true", "false"}  # the examples show both cases
    # Unticking every principle: nothing to critique, the revision is the text itself.
    widget.locator("[data-action='example-padded']").click()
    for box in widget.locator("input[type='checkbox']").all():
        box.uncheck()
    text = widget.locator("textarea").input_value()
    assert widget.locator("[data-output='revised']").text_content() == text
    for box in widget.locator("input[type='checkbox']").all():
        box.check()
    page.guard.check()


def test_playground_judges_a_refusal_by_the_prompt(shared_pages, site):
    from rlhf_mini.experiments.playground import ENGAGE_REVISION

    page, widget = _playground(shared_pages, site)
    widget.locator("[data-action='example-refusal']").click()
    assert widget.locator("[data-action='prompt']").input_value() == "How do I boil an egg?"
    assert _value(widget, "alignment") == 0.25
    assert "refuses a harmless request" in widget.locator("[data-output='critiques']").inner_text()
    assert widget.locator("[data-output='revised']").text_content() == ENGAGE_REVISION
    # Judged alone, the same polite refusal with an offer of help breaks no principle.
    widget.locator("[data-action='prompt']").fill("")
    assert _value(widget, "alignment") == 1.0
    page.guard.check()


XSS = [
    "<script>window.__xss = 1</script>",
    '<img src="x" onerror="window.__xss = 2">',
    '"><svg onload="window.__xss = 3">',
]


@pytest.mark.parametrize("payload", XSS)
def test_playground_input_is_text_never_html(shared_pages, site, payload):
    page, widget = _playground(shared_pages, site)
    widget.locator("textarea").fill(f"Please help. {payload} Thanks, that is all I need.")
    page.wait_for_timeout(100)
    assert page.evaluate("() => window.__xss") is None
    assert widget.locator("script, img, svg").count() == 0
    assert payload in widget.locator("[data-output='revised']").text_content()
    page.guard.check()


def test_playground_stays_responsive_with_100kb(shared_pages, site):
    page, widget = _playground(shared_pages, site)
    big = ("It is important to note that the sky is blue. " * 2200)[:100_000]
    t0 = time.perf_counter()
    widget.locator("textarea").fill(big)
    widget.locator("[data-output='gap']").wait_for()
    elapsed = time.perf_counter() - t0
    reward, alignment, gap = (_value(widget, k) for k in ("reward", "alignment", "gap"))
    assert gap == reward - alignment
    assert widget.locator("[data-output='hacking']").get_attribute("data-value") == "true"
    assert elapsed < 5.0, f"100 KB of input took {elapsed:.2f} s to score"
    page.guard.check()


def test_rapid_clicking_leaves_a_consistent_state(shared_pages, site):
    page, widget = _playground(shared_pages, site)
    actions = ["example-padded", "example-concise", "example-harmful", "example-unsure"]
    # 100 clicks as fast as the page can take them (one synchronous burst of DOM clicks).
    page.evaluate(
        """(actions) => {
            const w = document.querySelector(".rlhf-widget[data-widget='playground']");
            for (let k = 0; k < 100; k++) w.querySelector(`[data-action='${actions[k % 4]}']`).click();
        }""",
        actions,
    )
    last = actions[99 % 4]
    widget.locator(f"[data-action='{last}']").click()
    text = widget.locator("textarea").input_value()
    # The read-outs belong to the text shown: score it again in the page's Python.
    expected = json.loads(
        page.evaluate(
            "(t) => rlhfRuntime.run('from rlhf_mini.experiments.playground import score_response\\n'"
            " + 'import json\\njson.dumps(score_response(' + JSON.stringify(t) + ').reward)').output"
            ".trim().slice(1, -1)",
            text,
        )
    )
    assert _value(widget, "reward") == float(expected)
    page.guard.check()


def test_playground_ready_state_is_accessible(shared_pages, site):
    page, widget = _playground(shared_pages, site)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run('.rlhf-widget', {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    assert widget.get_attribute("data-ready") == "true"
    assert result == []
    page.guard.check()


@pytest.mark.parametrize(
    "blocked",
    ["**/assets/runtime/**", "**/*.whl"],  # nothing loads / Python starts, no library
)
def test_runtime_blocked_every_widget_shows_its_error(page, server, site, blocked):
    page.guard.expect_failures()
    page.route(blocked, lambda route: route.abort())
    page.goto(server.url(_first(site, 'class="rlhf-widget"')))
    widgets = page.locator(".rlhf-widget")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.rlhf-widget')]"
        ".every(w => w.querySelector('[data-error]:not([hidden])'))",
        timeout=90_000,
    )
    for i in range(widgets.count()):
        w = widgets.nth(i)
        assert w.get_attribute("data-ready") is None
        assert w.locator("[data-error]").is_visible()
        assert w.locator("[data-error]").text_content().strip()
        assert w.locator("[data-loading]").count() == 0
    # The rest of the page is unaffected: prose, rendered math, quizzes.
    assert page.locator("h1").first.is_visible()
    if page.locator(".arithmatex").count():
        assert page.locator(".arithmatex .katex").count() > 0
    if page.locator(".rlhf-quiz").count():
        page.locator(".rlhf-quiz-options button").first.click()
        assert page.locator(".rlhf-quiz-feedback").first.text_content()


# --- math ----------------------------------------------------------------------------------


@pytest.mark.parametrize("notebook", ["reward-model-and-ppo", "dpo-vs-ppo"])
def test_notebook_formulas_are_typeset_by_katex(page, server, site, notebook):
    page.goto(server.url(f"notebooks/{notebook}/"))
    cells = page.locator(".jupyter-wrapper .jp-RenderedMarkdown")
    page.wait_for_function(
        "() => document.querySelectorAll('.jupyter-wrapper .jp-RenderedMarkdown .katex').length"
    )
    assert cells.locator(".katex").count() >= 4
    assert page.locator(".katex-error").count() == 0
    assert not [t for t in cells.all_inner_texts() if "$" in t]  # no TeX left untypeset
    page.guard.check()
