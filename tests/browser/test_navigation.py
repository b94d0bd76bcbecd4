"""Moving from page to page without a reload (docs/assets/navigation.js, Material's instant
navigation): the Python the first page started serves the next page's widgets, exercises,
quizzes and progress; the page before's widgets stop; back and forward work."""

from __future__ import annotations

import re
import shutil

import pytest
from sitebuild import Server
from test_learner import EXERCISES, _check, _code, _exercise  # (it puts docs/widgets on sys.path)

PLAYGROUND = "lessons/07-playground/"
GAME = "lessons/02-human-preferences/"
REWARD = "lessons/03-reward-model/"


def _follow(page, path: str) -> None:
    """Click the sidebar's link to ``path`` (a site path such as ``lessons/02-.../``) and
    wait until the page is swapped in."""
    before = page.evaluate("() => rlhfPages.count()")
    page.locator(f".md-sidebar--primary a[href$='{path.split('/')[-2]}/']").first.click()
    page.wait_for_function(f"() => rlhfPages.count() > {before}")
    assert page.evaluate("() => location.pathname") == "/" + path


def _ready(page, widget: str):
    box = page.locator(f".rlhf-widget[data-widget='{widget}'][data-ready='true']")
    box.wait_for(timeout=120_000)
    return box


def test_the_next_lesson_is_swapped_in_and_its_widgets_run_on_the_same_python(page, server):
    page.goto(server.url(PLAYGROUND))
    _ready(page, "playground")
    page.evaluate("() => { window.__sameDocument = true; }")  # gone if the page reloads

    _follow(page, GAME)
    game = _ready(page, "preference-game")
    assert page.evaluate("() => window.__sameDocument") is True
    marks = page.evaluate("() => rlhfRuntime.marks")
    assert "python" not in marks and "page" in marks  # no second interpreter
    assert page.locator(".rlhf-widget[data-widget='playground']").count() == 0
    assert "preferences" in page.title().lower()
    # the new page's widget, quiz, exercise and progress line all work
    game.locator("[data-action='pick-a']").click()
    assert game.locator("[data-output='comparisons']").get_attribute("data-value") == "1"
    quiz = page.locator(".rlhf-quiz").first
    assert quiz.get_attribute("data-quiz-ready") == "true"
    quiz.locator(".rlhf-quiz-options button").first.click()
    assert quiz.get_attribute("data-answered") in ("correct", "incorrect")
    progress = page.locator("[data-output='lesson-progress']")
    assert progress.count() == 1 and "quick check" in progress.inner_text()
    ex = _exercise(page, "bt-probability")
    _code(ex).fill(EXERCISES["bt-probability"].solution)
    assert _check(page, ex)["ok"]

    # back: the playground again, on the same interpreter, and it computes
    page.go_back()
    page.wait_for_function(f"() => location.pathname === '/{PLAYGROUND}'")
    playground = _ready(page, "playground")
    assert page.evaluate("() => window.__sameDocument") is True
    assert page.locator(".rlhf-widget[data-widget='preference-game']").count() == 0
    gap = playground.locator("[data-output='gap']")
    before = gap.get_attribute("data-value")
    playground.locator("[data-action='example-refusal']").click()
    assert playground.locator("[data-action='prompt']").input_value() == "How do I boil an egg?"
    assert gap.get_attribute("data-value") != before


@pytest.mark.parametrize("start", ["", "notebooks/dpo-vs-ppo/"])
def test_a_page_without_python_starts_it_for_the_next_page(page, server, start):
    page.goto(server.url(start))
    page.wait_for_function("() => window.rlhfPages !== undefined")
    assert page.evaluate("() => window.rlhfRuntime === undefined")  # no Python here
    _follow(page, REWARD)
    box = _ready(page, "reward-training")
    assert box.locator("[data-error]:not([hidden])").count() == 0
    # Chart.js, which only widget pages load, was run by the swap
    assert page.evaluate("() => typeof Chart") == "function"
    # and a page without Python after it: the widget stops, nothing fails
    _follow(page, "reference/")
    page.wait_for_timeout(500)  # a frame or two for the stopped widget's loop
    assert page.locator(".rlhf-widget[data-widget='reward-training']").count() == 0


def test_the_language_model_page_swapped_in_trains_and_stops_when_left(page, server, site):
    """Its weights are fetched when the page is swapped in (the first page had none); a run in
    progress ends when the reader moves on (its next animation frame does nothing)."""
    from test_lm_align import ROOT, _train, _url, _wait_iterations

    page.goto(server.url(GAME))
    _ready(page, "preference-game")
    _follow(page, _url(site))
    _ready(page, "lm-align")
    marks = page.evaluate("() => rlhfRuntime.marks")
    assert "deferred installed" in marks and "python" not in marks
    widget = page.locator(ROOT)
    _train(page, widget)
    _wait_iterations(page, 2)
    _follow(page, REWARD)
    _ready(page, "reward-training")
    page.wait_for_timeout(500)  # the stopped run's last frames
    assert page.locator(ROOT).count() == 0


@pytest.fixture
def redeployed(site, tmp_path, context):
    """A copy of the site served apart, that a test may change as a new deploy would."""
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    srv = Server(copy)
    srv.site = copy
    yield srv
    srv.close()


@pytest.mark.parametrize("what", ["library", "script"])
def test_a_page_of_a_new_deploy_is_loaded_afresh_not_swapped_in(page, redeployed, what):
    """Mid-visit, the site is deployed anew: the next page names another library wheel (or
    another version of one of the site's scripts). It is loaded afresh rather than mounted
    by the old Python, so old and new code never mix."""
    page.guard.origin = redeployed.origin
    page.goto(redeployed.url(PLAYGROUND))
    _ready(page, "playground")
    page.evaluate("() => { window.__sameDocument = true; }")
    html = redeployed.site / GAME / "index.html"
    text = html.read_text(encoding="utf-8")
    if what == "library":
        (wheel,) = set(re.findall(r"wheels/([0-9a-f]{16})/rlhf_mini-", text))
        shutil.copytree(
            redeployed.site / "assets/runtime/wheels" / wheel,
            redeployed.site / "assets/runtime/wheels" / ("f" * 16),
        )
        text = text.replace(f"wheels/{wheel}/rlhf_mini-", f"wheels/{'f' * 16}/rlhf_mini-")
    else:
        text = re.sub(r"quiz\.js\?h=[0-9a-f]+", "quiz.js?h=" + "0" * 12, text)
    html.write_text(text, encoding="utf-8")
    page.locator(f".md-sidebar--primary a[href$='{GAME.split('/')[-2]}/']").first.click()
    page.wait_for_function(f"() => location.pathname === '/{GAME}' && !window.__sameDocument")
    _ready(page, "preference-game")
    assert page.evaluate("() => rlhfPages.count()") == 1
