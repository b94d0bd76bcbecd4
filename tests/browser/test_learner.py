"""What a learner keeps: exercises checked in the page, progress that stays, the offline course.

- Exercises: every exercise's reference solution passes and its first wrong solution fails in
  the browser's own Python (Pyodide's numpy, fresh random inputs); on a lesson page the Check
  button answers a starter, a wrong and a right answer in words; hints open one at a time and
  the solution after a first check; without JavaScript, or without Python, the task, the hints
  and the solution are all there.
- Progress: quiz answers, exercise code and status, revealed hints and the preference game's
  picks survive a reload; the home page shows them; "Reset my progress" erases them;
  "Reset to the original code" and a lesson whose starter code changed since the reader
  saved (both versions offered).
- Keyboard only: one exercise and one widget, start to end.
- Offline: after one lesson, with the server gone, another lesson opens and its widget works;
  a new build is served on the next reload and replaces the old cache; "Make the whole course
  available offline" fetches the rest with a progress bar. These run in a browser context of
  their own that allows the service worker, on a copy of the site served by a server that can
  go away: "offline" is a server that is not there (every request, the page's and the
  worker's, fails). Playwright's routing would not do: a routed page bypasses its service
  worker, and its offline mode does not reliably reach the worker again once lifted.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest
from sitebuild import AXE, ROOT, _Quiet, _Threads

sys.path.insert(0, str(ROOT / "docs" / "widgets"))
from rlhf_widgets.exercises import EXERCISES

sys.path.pop(0)

LESSON = "lessons/02-human-preferences/"
READY = "() => window.rlhfRuntime && rlhfRuntime.state() === 'ready'"


def _exercise(page, exercise_id: str):
    return page.locator(f".rlhf-exercise[data-exercise='{exercise_id}']")


def _code(ex):
    return ex.locator(":scope > .language-python pre > code")


def _check(page, ex) -> dict:
    """Press Check and wait for its answer: {ok, text}."""
    out = ex.locator("[data-output='check']")
    out.evaluate("e => e.removeAttribute('data-ok')")
    ex.locator("[data-action='check']").click()
    ex.locator("[data-output='check'][data-ok]").wait_for()
    return {"ok": out.get_attribute("data-ok") == "true", "text": out.inner_text()}


@pytest.fixture(scope="module")
def lesson(shared_pages):
    page = shared_pages(LESSON)
    page.bring_to_front()
    page.wait_for_function(READY, timeout=120_000)
    return page


# --- exercises -------------------------------------------------------------------------------


def test_every_exercise_is_checked_in_the_browsers_python(lesson):
    """Each reference solution passes, each exercise's first wrong solution fails, with the
    inputs drawn fresh by Pyodide's numpy: the checks hold on the reader's platform."""
    results = lesson.evaluate(
        """(specs) => specs.map(([id, right, wrong]) => {
             const r = rlhfRuntime.check(id, right), w = rlhfRuntime.check(id, wrong);
             return [id, r.ok, r.message, w.ok, w.message, w.details.map(d => d[0])];
           })""",
        [[ex.id, ex.solution, ex.wrong[0].code] for ex in EXERCISES.values()],
    )
    assert len(results) == len(EXERCISES) == 25
    for exercise_id, right_ok, right_msg, wrong_ok, wrong_msg, labels in results:
        assert right_ok, f"{exercise_id}: {right_msg}"
        assert not wrong_ok, f"{exercise_id}: the wrong solution passed"
        assert labels[:1] == ["Input"] and "Expected" in labels, (exercise_id, wrong_msg)
    lesson.guard.check()


def test_check_answers_starter_wrong_and_right_code_in_words(lesson):
    ex = _exercise(lesson, "bt-loss")
    code = _code(ex)
    assert ex.get_attribute("data-status") == "new"
    got = _check(lesson, ex)
    assert not got["ok"] and "Your function returned None" in got["text"]
    assert "Expected\n0.693147" in got["text"] and "return" in got["text"]
    code.fill(EXERCISES["bt-loss"].wrong[0].code)  # log of the sigmoid: inf at the edge
    got = _check(lesson, ex)
    assert not got["ok"]
    assert "a pair the model gets wrong by 800: r_chosen = [-800, 1]" in got["text"]
    assert "Your function returned\ninf" in got["text"] and "Tip:" in got["text"]
    assert "Traceback" not in got["text"]
    assert ex.get_attribute("data-status") == "tried"
    code.fill("def bradley_terry_loss(r_chosen, r_rejected)\n    return 0\n")
    got = _check(lesson, ex)
    assert "Python could not read your code" in got["text"] and "(line 1)" in got["text"]
    code.fill(EXERCISES["bt-loss"].solution)
    got = _check(lesson, ex)
    assert got["ok"] and got["text"].startswith("Passed. All 12 checks passed")
    assert ex.get_attribute("data-status") == "passed"
    progress = lesson.locator("[data-output='lesson-progress']")
    assert "1 of 3 exercises passed" in progress.inner_text()
    # Run still runs the edited block in the page's namespace
    ex.locator("[data-action='run']").click()
    lesson.locator(
        ".rlhf-exercise[data-exercise='bt-loss'] pre[data-output='run']:not([hidden])"
    ).wait_for()
    lesson.guard.check()


def test_hints_one_at_a_time_and_the_solution_after_a_check(lesson):
    ex = _exercise(lesson, "bt-grad")
    hints = ex.locator("details.rlhf-exercise-hint")
    solution = ex.locator("details.rlhf-exercise-solution")
    hint, reveal = ex.locator("[data-action='hint']"), ex.locator("[data-action='solution']")
    assert hints.count() == 3
    assert [hints.nth(i).is_visible() for i in range(3)] == [False] * 3
    assert not solution.is_visible() and reveal.is_disabled()
    assert hint.inner_text() == "Show hint 1 of 3"
    hint.click()
    assert [hints.nth(i).is_visible() for i in range(3)] == [True, False, False]
    assert hints.nth(0).get_attribute("open") is not None
    assert hint.inner_text() == "Show hint 2 of 3"
    hint.click()
    hint.click()
    assert hint.is_disabled() and hint.inner_text() == "All hints shown"
    assert all(hints.nth(i).is_visible() for i in range(3))
    assert not _check(lesson, ex)["ok"]  # a first try unlocks the solution
    assert reveal.is_enabled()
    reveal.click()
    assert solution.is_visible() and solution.get_attribute("open") is not None
    assert "weight / m" in solution.inner_text()
    # hint and solution blocks are shown, not made editable or runnable
    assert ex.locator("details [contenteditable], details [data-action='run']").count() == 0
    lesson.guard.check()


def test_exercises_are_accessible(lesson):
    """axe-core on the exercises in every state shown above (answers, hints, solution)."""
    if not lesson.evaluate("() => typeof axe !== 'undefined'"):
        lesson.add_script_tag(path=str(AXE))
    found = lesson.evaluate(
        "async () => (await axe.run({include: [...document.querySelectorAll('.rlhf-exercise')]"
        ".map(e => [e])}, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    assert found == []
    lesson.guard.check()


def test_without_python_the_exercise_still_teaches(page, server):
    """Python cannot start: Check is off and says why; the hints and the solution are there."""
    page.guard.expect_failures()
    page.route("**/assets/runtime/**", lambda route: route.abort())
    page.goto(server.url(LESSON))
    page.wait_for_function("() => rlhfRuntime.state() === 'failed'", timeout=60_000)
    ex = _exercise(page, "bt-probability")
    assert ex.locator("[data-action='check']").is_disabled()
    assert "Python could not start" in ex.locator("[data-output='exercise-status']").inner_text()
    reveal = ex.locator("[data-action='solution']")
    assert reveal.is_enabled()
    ex.locator("[data-action='hint']").click()
    assert ex.locator("details.rlhf-exercise-hint").first.is_visible()
    reveal.click()
    assert "1.0 / (1.0 + np.exp(" in ex.locator("details.rlhf-exercise-solution").inner_text()


def test_without_javascript_the_exercise_shows_task_hints_and_solution(browser, server):
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto(server.url(LESSON))
    for ex_id in ("bt-probability", "bt-loss", "bt-grad"):
        spec = EXERCISES[ex_id]
        ex = _exercise(page, ex_id)
        assert ex.locator("p").first.is_visible()  # the task
        assert _code(ex).inner_text().strip() == spec.starter.strip()
        hints = ex.locator("details.rlhf-exercise-hint")
        assert hints.count() == len(spec.hints)
        summary = hints.first.locator("summary")
        assert summary.is_visible() and summary.inner_text() == f"Hint 1 of {len(spec.hints)}"
        solution = ex.locator("details.rlhf-exercise-solution")
        solution.locator("summary").click()  # <details> opens without JavaScript
        code = solution.locator("code").inner_text().strip()
        assert code == spec.solution.strip()
    heading = page.locator("#exercise-bt-loss")
    assert heading.inner_text().startswith("Exercise 2.2: The Bradley–Terry loss")
    ctx.close()


# --- progress ----------------------------------------------------------------------------------


def test_progress_survives_a_reload_and_reset_erases_it(page, server):
    page.goto(server.url(LESSON))
    page.wait_for_function(READY, timeout=120_000)
    quiz = page.locator(".rlhf-quiz").first
    quiz.locator("button[data-correct='true']").click()
    ex = _exercise(page, "bt-probability")
    _code(ex).fill(EXERCISES["bt-probability"].solution)
    assert _check(page, ex)["ok"]
    ex.locator("[data-action='hint']").click()
    game = page.locator(".rlhf-widget[data-widget='preference-game'][data-ready='true']")
    game.wait_for()
    game.locator("select[data-action='prompt']").select_option("2")
    for side in "abba":
        game.locator(f"[data-action='pick-{side}']").click()
    ranking = game.locator("[data-output='ranking']").get_attribute("data-value")
    loss = game.locator("[data-output='loss']").get_attribute("data-value")
    saved = "() => (rlhfProgress.get('exercise:bt-probability') || {}).code"
    page.wait_for_function(saved)  # the code is saved 0.4 s after the last edit (or a check)

    page.reload()
    page.wait_for_function(READY, timeout=120_000)
    quiz = page.locator(".rlhf-quiz").first
    assert quiz.get_attribute("data-answered") == "correct"
    assert quiz.locator("button[aria-pressed='true']").get_attribute("data-correct") == "true"
    ex = _exercise(page, "bt-probability")
    assert ex.get_attribute("data-status") == "passed"
    assert _code(ex).inner_text().strip() == EXERCISES["bt-probability"].solution.strip()
    hints = ex.locator("details.rlhf-exercise-hint")
    assert [hints.nth(i).is_visible() for i in range(hints.count())] == [True, False, False]
    game = page.locator(".rlhf-widget[data-widget='preference-game'][data-ready='true']")
    game.wait_for()
    assert game.locator("select[data-action='prompt']").input_value() == "2"
    assert game.locator("[data-output='comparisons']").get_attribute("data-value") == "4"
    assert game.locator("[data-output='my-picks']").get_attribute("data-value") == "4"
    assert game.locator("[data-output='ranking']").get_attribute("data-value") == ranking
    assert game.locator("[data-output='loss']").get_attribute("data-value") == loss
    progress = page.locator("[data-output='lesson-progress']").inner_text()
    assert "quick check answered right; 1 of 3 exercises passed" in progress

    page.goto(server.url(""))
    box = page.locator("[data-progress='course']")
    row = box.locator(f"tr[data-lesson='{LESSON}']")
    assert row.locator("td").all_inner_texts()[1:] == ["✓ yes", "✓ right", "1 of 3 (2.1)"]
    totals = json.loads(box.locator("[data-output='course-summary']").get_attribute("data-value"))
    outline = json.loads(page.locator("#rlhf-course").text_content())["lessons"]
    assert totals == {
        "lessons": len(outline),
        "opened": 1,
        "quizzes": sum(len(lesson["quizzes"]) for lesson in outline),
        "right": 1,
        "exercises": sum(len(lesson["exercises"]) for lesson in outline),
        "passed": 1,
    }
    page.evaluate("() => localStorage.setItem('elsewhere', 'kept')")  # not this site's
    box.locator("[data-action='reset-progress']").click()
    box.locator("[data-action='confirm-reset']").click()
    assert box.locator("[data-output='reset-status']").inner_text() == "Your progress was erased."
    assert row.locator("td").all_inner_texts()[1:] == ["not yet", "not answered", "0 of 3"]
    assert page.evaluate("() => localStorage.getItem('elsewhere')") == "kept"
    assert page.evaluate("() => rlhfProgress.keys()") == []

    page.goto(server.url(LESSON))
    page.wait_for_function(READY, timeout=120_000)
    assert page.locator(".rlhf-quiz").first.get_attribute("data-answered") is None
    ex = _exercise(page, "bt-probability")
    assert _code(ex).inner_text().strip() == EXERCISES["bt-probability"].starter.strip()
    game = page.locator(".rlhf-widget[data-widget='preference-game'][data-ready='true']")
    game.wait_for()
    assert game.locator("[data-output='comparisons']").get_attribute("data-value") == "0"
    page.guard.check()


def test_widget_settings_survive_a_reload(page, server):
    """What the reader typed and ticked in the playground comes back, and the read-outs are
    those of the restored text (the widget computes from its restored controls)."""
    page.goto(server.url("lessons/07-playground/"))
    sel = ".rlhf-widget[data-widget='playground'][data-ready='true']"
    widget = page.locator(sel)
    widget.wait_for()
    text = "Canberra. Great question! Needless to say, Canberra. Canberra."
    widget.locator("textarea").fill(text)
    widget.locator("[data-action='prompt']").fill("")
    widget.locator("[data-action='principle-concise']").uncheck()
    revised = widget.locator("[data-output='revised']").text_content()
    gap = widget.locator("[data-output='gap']").get_attribute("data-value")
    page.reload()
    widget = page.locator(sel)
    widget.wait_for()
    assert widget.locator("textarea").input_value() == text
    assert widget.locator("[data-action='prompt']").input_value() == ""
    assert not widget.locator("[data-action='principle-concise']").is_checked()
    assert widget.locator("[data-action='principle-honest']").is_checked()
    assert widget.locator("[data-output='gap']").get_attribute("data-value") == gap
    assert widget.locator("[data-output='revised']").text_content() == revised
    page.guard.check()


def test_reset_to_the_original_code_and_a_changed_lesson(page, server):
    page.goto(server.url(LESSON))
    ex = _exercise(page, "bt-grad")
    ex.wait_for()
    page.wait_for_selector(".rlhf-exercise[data-exercise='bt-grad'][data-exercise-ready]")
    code = _code(ex)
    starter = code.inner_text()
    highlighted = code.evaluate("c => c.querySelectorAll('span').length")
    code.fill("my own attempt = 1")
    page.wait_for_function("() => (rlhfProgress.get('exercise:bt-grad') || {}).code")  # 0.4 s on
    saved = page.evaluate("() => rlhfProgress.get('exercise:bt-grad')")
    assert saved["code"].strip() == "my own attempt = 1"
    assert saved["base"] == ex.get_attribute("data-starter-hash")
    ex.locator("[data-action='reset-code']").click()
    assert code.inner_text() == starter
    assert code.evaluate("c => c.querySelectorAll('span').length") == highlighted
    assert page.evaluate("() => rlhfProgress.get('exercise:bt-grad').code") is None

    # A copy saved against an older starter: the new starter is shown, both are offered.
    page.evaluate(
        "() => rlhfProgress.set('exercise:bt-grad', {code: 'old = 1\\n', base: 'older',"
        " status: 'tried'})"
    )
    page.reload()
    ex = _exercise(page, "bt-grad")
    page.wait_for_selector(".rlhf-exercise[data-exercise='bt-grad'][data-exercise-ready]")
    notice = ex.locator("[data-output='changed']")
    assert notice.is_visible() and "has changed since you saved" in notice.inner_text()
    assert _code(ex).inner_text() == starter
    notice.locator("summary").click()
    assert "old = 1" in notice.locator("pre").inner_text()
    notice.locator("[data-action='use-saved']").click()
    assert _code(ex).inner_text().strip() == "old = 1" and not notice.is_visible()
    state = page.evaluate("() => rlhfProgress.get('exercise:bt-grad')")
    assert state["base"] == ex.get_attribute("data-starter-hash")
    page.guard.check()


# --- keyboard only -------------------------------------------------------------------------------


def test_one_exercise_and_one_widget_by_keyboard_only(page, server):
    page.goto(server.url(LESSON))
    page.wait_for_function(READY, timeout=120_000)
    ex = _exercise(page, "bt-probability")
    page.locator("#exercise-bt-probability .headerlink").focus()
    seen = []

    def tab() -> str:
        page.keyboard.press("Tab")
        return page.evaluate(
            "() => document.activeElement.dataset.action || document.activeElement.tagName"
        )

    while (where := tab()) != "CODE":  # links in the task come first
        seen.append(where)
        assert len(seen) < 10, seen
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type("import numpy as np\n\n\ndef preference_probability(r_a, r_b):\n")
    page.keyboard.type("    return 1 / (1 + np.exp(r_b - r_a))\n")
    order = [tab(), tab()]
    assert order == ["run", "check"]
    page.keyboard.press("Enter")
    ex.locator("[data-output='check'][data-ok='true']").wait_for()
    assert ex.get_attribute("data-status") == "passed"
    assert tab() == "hint"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.tagName") == "SUMMARY"
    assert ex.locator("details.rlhf-exercise-hint").first.get_attribute("open") is not None

    game = page.locator(".rlhf-widget[data-widget='preference-game'][data-ready='true']")
    game.wait_for()
    game.locator("select[data-action='prompt']").focus()
    page.keyboard.press("ArrowDown")  # the next prompt
    assert game.locator("select[data-action='prompt']").input_value() == "1"
    assert tab() == "pick-a"
    page.keyboard.press("Enter")
    assert tab() == "pick-b"
    page.keyboard.press("Space")
    assert game.locator("[data-output='comparisons']").get_attribute("data-value") == "2"
    page.guard.check()


# --- offline ---------------------------------------------------------------------------------------


def _offline_cache_hook():
    spec = importlib.util.spec_from_file_location(
        "rlhf_offline_cache_hook", ROOT / "docs/hooks/offline_cache.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SwitchableServer:
    """The site on a fixed 127.0.0.1 port that can be taken down and brought back (the same
    origin: the same service worker, caches and storage)."""

    def __init__(self, site: Path):
        self.site = site
        self.port = 0
        self.httpd = None
        self.online()

    def online(self) -> None:
        handler = functools.partial(_Quiet, directory=str(self.site))
        self.httpd = _Threads(("127.0.0.1", self.port), handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def offline(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"


@pytest.fixture(scope="module")
def offline_site(site, tmp_path_factory):
    copy = tmp_path_factory.mktemp("offline") / "site"
    shutil.copytree(site, copy)
    srv = SwitchableServer(copy)
    yield srv
    srv.offline()


@pytest.fixture(scope="module")
def sw_context(browser):
    ctx = browser.new_context(service_workers="allow")
    yield ctx
    ctx.close()


def _watched(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(90_000)
    return errors


def _offline_status(page, until, timeout_s: float = 120.0, recheck_s: float | None = None) -> dict:
    """The service worker's status once ``until(status)`` holds (polled every 0.25 s).

    With ``recheck_s``, every that many seconds the page asks the browser to look for a new
    sw.js again (``registration.update()``), as the reader's next navigation would: the
    browser checks once per navigation, and an install that failed (a download refused
    on a busy machine) waits for the next check.
    """
    start = time.monotonic()
    deadline, recheck = start + timeout_s, start + (recheck_s or timeout_s)
    while True:
        status = page.evaluate("async () => await rlhfOffline.status()")
        if until(status):
            return status
        if time.monotonic() >= deadline:
            workers = page.evaluate(
                """async () => { const r = await navigator.serviceWorker.getRegistration();
                     if (!r) return null;
                     const d = w => w && {state: w.state, url: w.scriptURL};
                     return {installing: d(r.installing), waiting: d(r.waiting),
                             active: d(r.active), controller: d(navigator.serviceWorker.controller)}; }"""
            )
            raise AssertionError(f"offline status never got there: {status}; workers: {workers}")
        if recheck_s and time.monotonic() > recheck:
            page.evaluate(
                "async () => { const r = await navigator.serviceWorker.getRegistration();"
                " if (r) await r.update().catch(() => null); }"
            )
            recheck = time.monotonic() + recheck_s
        page.wait_for_timeout(250)


def _wait_offline_ready(page, groups=("core", "runtime")) -> dict:
    """Wait until the service worker keeps ``groups`` whole; its status then."""
    return _offline_status(
        page, lambda s: all(s["groups"][g]["cached"] == s["groups"][g]["total"] for g in groups)
    )


def test_after_one_lesson_another_opens_offline_and_its_widget_works(sw_context, offline_site):
    page = sw_context.new_page()
    errors = _watched(page)
    page.goto(offline_site.url("lessons/07-playground/"))
    page.wait_for_selector(".rlhf-widget[data-widget='playground'][data-ready='true']")
    status = _wait_offline_ready(page)
    assert status["groups"]["rest"]["cached"] == 0  # only what the reader needed
    offline_site.offline()
    try:
        page.goto(offline_site.url(LESSON))
        assert page.evaluate("() => navigator.serviceWorker.controller !== null")
        game = page.locator(".rlhf-widget[data-widget='preference-game'][data-ready='true']")
        game.wait_for(timeout=120_000)
        game.locator("[data-action='pick-a']").click()
        assert game.locator("[data-output='comparisons']").get_attribute("data-value") == "1"
        ex = _exercise(page, "bt-probability")
        _code(ex).fill(EXERCISES["bt-probability"].solution)
        assert _check(page, ex)["ok"]  # the exercises' checks run offline too
        # a click on the next lesson's link swaps it in from the worker's cache
        page.locator(".md-sidebar--primary a[href$='03-reward-model/']").first.click()
        page.locator(".rlhf-widget[data-widget='reward-training'][data-ready='true']").wait_for()
        assert page.evaluate("() => rlhfPages.count()") == 2
        assert errors == [], errors
        page.goto(offline_site.url("notebooks/dpo-vs-ppo/"))  # never opened, not kept
        assert "You are offline" in page.locator("body").inner_text()
    finally:
        offline_site.online()
    page.close()


def test_a_new_build_is_served_on_reload_and_replaces_the_old_cache(sw_context, offline_site):
    page = sw_context.new_page()
    errors = _watched(page)
    page.goto(offline_site.url("lessons/03-reward-model/"))
    old = _wait_offline_ready(page)["build"]
    # A new deploy: one lesson's text changes, sw.js is written for the new files.
    html = offline_site.site / "lessons" / "03-reward-model" / "index.html"
    html.write_text(html.read_text().replace("<h1", "<p id='new-build'>New build.</p><h1", 1))
    new = _offline_cache_hook().write_service_worker(offline_site.site)["build"]
    assert new != old
    page.reload()
    assert page.locator("#new-build").count() == 1  # pages come from the network first
    _offline_status(page, lambda s: s["build"] == new, recheck_s=20)  # the new worker took over
    status = _wait_offline_ready(page)  # the runtime carried over from the old cache
    assert status["build"] == new
    deadline = time.monotonic() + 30
    while (names := page.evaluate("async () => await caches.keys()")) != [f"rlhf-mini:/:{new}"]:
        assert time.monotonic() < deadline, f"the old cache stays: {names}"  # deleted on activate
        page.wait_for_timeout(250)
    offline_site.offline()
    try:
        page.goto(offline_site.url("lessons/03-reward-model/"))
        assert page.locator("#new-build").count() == 1  # the new page, from the new cache
        widget = page.locator(".rlhf-widget[data-widget='reward-training'][data-ready='true']")
        widget.wait_for(timeout=120_000)
    finally:
        offline_site.online()
    assert errors == [], errors
    page.close()


def test_make_the_whole_course_available_offline(sw_context, offline_site):
    page = sw_context.new_page()
    errors = _watched(page)
    page.goto(offline_site.url(""))
    panel = page.locator("[data-offline]")
    status = panel.locator("[data-output='offline-status']")
    page.wait_for_function(
        "() => document.querySelector(\"[data-output='offline-status']\").textContent"
        ".startsWith('Kept in this browser')"
    )
    assert "the notebooks and the API reference ✗" in status.inner_text()
    page.evaluate(
        """() => { window.__progress = [];
             const bar = document.querySelector("[data-output='offline-progress']");
             new MutationObserver(() => window.__progress.push(Number(bar.value)))
               .observe(bar, {attributes: true, attributeFilter: ["value"]}); }"""
    )
    panel.locator("[data-action='make-offline']").click()
    page.wait_for_selector("[data-offline][data-complete='true']", timeout=120_000)
    assert status.inner_text().startswith("The whole course is available offline")
    assert panel.locator("[data-action='make-offline']").is_disabled()
    seen = page.evaluate("() => window.__progress")
    assert seen and seen == sorted(seen) and seen[-1] == 1
    offline_site.offline()
    try:
        page.goto(offline_site.url("notebooks/dpo-vs-ppo/"))
        assert page.locator(".jupyter-wrapper").count() == 1
    finally:
        offline_site.online()
    assert errors == [], errors
    page.close()
