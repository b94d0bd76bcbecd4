"""What a reader meets: every widget on a phone and on a desktop, with and without JavaScript.

- Layout: at 390 x 844 (a phone) and at 1280 px, nothing of a widget sticks out of the
  widget or the screen unless it sits in a box that scrolls sideways on its own (a wide
  table), and the page itself never scrolls sideways.
- Arrival: a ready widget shows a result at once (no empty chart, no "not run"), and its
  no-script fallback is gone.
- JavaScript off: every page shows typeset formulas (KaTeX, at build time) and no raw TeX,
  and every widget box shows its fallback: a sentence and the figure of its default run.
- Each widget is preceded by a short lead-in paragraph (what to do, what to watch).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sitebuild import pages, pages_with

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "docs" / "widgets"))
from rlhf_widgets import REGISTRY

sys.path.pop(0)

#: Every registered widget (a new one is checked as soon as it is registered).
WIDGETS = tuple(REGISTRY)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

#: Everything of the widget ``sel`` that sticks out horizontally: elements and text runs
#: beyond the widget's box or the viewport, unless inside a box that scrolls sideways (which
#: must itself fit); and how far the page scrolls sideways.
OVERFLOW_JS = """(sel) => {
  const root = document.querySelector(sel);
  const vw = document.documentElement.clientWidth;
  const box = root.getBoundingClientRect();
  const bad = [];
  const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const inScrollBox = (el) => {
    for (let p = el.parentElement; p && p !== root; p = p.parentElement) if (scrolls(p)) return true;
    return false;
  };
  const name = (el) => el.tagName.toLowerCase() +
    (el.dataset.output ? `[data-output=${el.dataset.output}]` : "") +
    (typeof el.className === "string" && el.className ? "." + el.className.split(" ")[0] : "");
  const check = (el, r, what) => {
    if (r.width === 0 && r.height === 0) return;
    const out = r.left < Math.max(box.left, 0) - 1 || r.right > Math.min(box.right, vw) + 1;
    if (out && !inScrollBox(el)) bad.push(`${what}: ${Math.round(r.left)}..${Math.round(r.right)}`
      + ` outside ${Math.round(box.left)}..${Math.round(box.right)} (viewport ${vw})`);
  };
  if (box.left < -1 || box.right > vw + 1) bad.push(`widget: ${box.left}..${box.right}`);
  for (const el of root.querySelectorAll("*")) check(el, el.getBoundingClientRect(), name(el));
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    if (!t.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(t);
    check(t.parentElement, range.getBoundingClientRect(),
          `text "${t.textContent.trim().slice(0, 40)}"`);
  }
  return {bad: bad.slice(0, 10), pageScroll: document.documentElement.scrollWidth - vw};
}"""

#: Chart.js resizes its canvases after a ResizeObserver callback: wait until each fits.
CHARTS_FIT_JS = """(sel) => [...document.querySelectorAll(sel + " canvas")].every(
  c => c.getBoundingClientRect().width <= c.parentElement.getBoundingClientRect().width + 1)"""


def _url(site, name: str) -> str:
    hits = pages_with(site, f'data-widget="{name}"')
    if not hits:
        pytest.fail(f"no page of the built site has the {name} widget")
    return hits[0]


def _ready(shared_pages, site, name: str):
    page = shared_pages(_url(site, name))
    page.bring_to_front()
    sel = f".rlhf-widget[data-widget='{name}']"
    page.wait_for_selector(f"{sel}[data-ready='true']", timeout=120_000)
    return page, sel


#: Right after a resize Material's layout moves for a moment (its sidebars): settle first.
SETTLED_JS = (
    """() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"""
)


def _assert_fits(page, sel: str, where: str) -> None:
    page.wait_for_function(CHARTS_FIT_JS, arg=sel, timeout=10_000)
    try:
        page.wait_for_function(SETTLED_JS, timeout=3_000)
    except PlaywrightTimeout:
        pass  # reported below, with what sticks out
    found = page.evaluate(OVERFLOW_JS, sel)
    assert found["bad"] == [], f"{where}: sticks out: {found['bad']}"
    assert found["pageScroll"] <= 0, f"{where}: the page scrolls sideways by {found}"


@pytest.mark.parametrize("name", WIDGETS)
def test_widget_fits_a_phone_and_a_desktop(shared_pages, site, name):
    page, sel = _ready(shared_pages, site, name)
    try:
        for viewport in (PHONE, DESKTOP):
            page.set_viewport_size(viewport)
            _assert_fits(page, sel, f"{name} at {viewport['width']} px")
            if name == "pipeline":  # every step shows other read-outs and answers
                steps = int(page.locator(f"{sel} [data-output='step']").get_attribute("data-value"))
                for step in range(steps, 6):
                    page.locator(f"{sel} [data-action='next']").click()
                    _assert_fits(page, sel, f"pipeline step {step + 1} at {viewport['width']} px")
                for _ in range(5):
                    page.locator(f"{sel} [data-action='prev']").click()
    finally:
        page.set_viewport_size(DESKTOP)
    page.guard.check()


@pytest.mark.parametrize("name", WIDGETS)
def test_ready_widget_shows_a_result_and_drops_its_fallback(shared_pages, site, name):
    page, sel = _ready(shared_pages, site, name)
    widget = page.locator(sel)
    assert widget.locator(".rlhf-widget-fallback").count() == 0
    empty = widget.evaluate(
        """w => [...w.querySelectorAll("canvas[data-chart]")].filter(c => {
             const chart = Chart.getChart(c);
             return !chart || !chart.data.datasets.some(d => d.data.length > 0);
           }).map(c => c.dataset.chart)"""
    )
    assert empty == [], f"{name}: empty charts at arrival: {empty}"
    texts = widget.locator("[data-output]").all_inner_texts()
    assert not [t for t in texts if t.strip().lower() in ("not run", "press “run ppo”.")]
    if name == "ppo-sweep":  # computed at once: every beta has its final values
        values = widget.locator("td[data-output]").evaluate_all(
            "tds => tds.map(td => td.dataset.value)"
        )
        assert values and all(v not in (None, "") for v in values)
        assert "beta = " in widget.locator("[data-output='verdict']").inner_text()
    page.guard.check()


# --- JavaScript off ------------------------------------------------------------------------

#: Text the reader sees outside formulas and code: raw TeX must not be in it.
VISIBLE_TEXT_JS = """() => {
  const skip = "script, style, pre, code, .katex";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let text = "";
  for (let t = walker.nextNode(); t; t = walker.nextNode())
    if (!t.parentElement.closest(skip)) text += t.textContent + " ";
  return text;
}"""
RAW_TEX = re.compile(r"\\[()\[\]]|\\(beta|pi|frac|log|sigma|mathrm|text)\b|\$[^$\s]+\$")


@pytest.fixture(scope="module")
def no_js(browser, server):
    """A browser context with JavaScript off; any request leaving 127.0.0.1 is recorded
    (and fails the test using it)."""
    ctx = browser.new_context(java_script_enabled=False)
    external: list[str] = []

    def route(r):
        if r.request.url.startswith(server.origin + "/"):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    ctx.external = external
    yield ctx
    ctx.close()


def test_without_javascript_every_page_reads_fine(no_js, server, site):
    page = no_js.new_page()
    checked = 0
    for url in pages(site):
        page.goto(server.url(url))
        html = page.content()
        assert "katex.min.js" not in html and "auto-render" not in html, url
        text = page.evaluate(VISIBLE_TEXT_JS)
        raw = sorted({m.group(0) for m in RAW_TEX.finditer(text)})
        assert raw == [], f"{url}: raw TeX shown: {raw}"
        if page.locator(".arithmatex, .jp-RenderedMarkdown").count():
            formulas = page.locator(".katex").count()
            assert formulas == page.locator(".arithmatex").count() or "notebooks/" in url, url
            if url.startswith(("lessons/", "notebooks/")):
                assert formulas > 0, f"{url}: no typeset formula"
        checked += 1
        for widget in page.locator(".rlhf-widget").all():
            name = widget.get_attribute("data-widget")
            fallback = widget.locator(".rlhf-widget-fallback")
            assert fallback.is_visible(), f"{url}: {name} shows no fallback"
            assert len(fallback.locator("p").first.inner_text()) > 60
            img = fallback.locator("img")
            assert img.is_visible()
            assert img.get_attribute("src").endswith(f"figures/widget-{name}.svg")
            assert len(img.get_attribute("alt")) > 40
            assert img.evaluate("i => i.complete && i.naturalWidth > 300"), f"{name}: no image"
    assert checked >= 12
    assert page.locator(".katex-error").count() == 0
    assert no_js.external == []
    page.close()


LEAD_IN_JS = """(w) => {
  const p = w.previousElementSibling;
  return p && {tag: p.tagName.toLowerCase(), text: p.innerText, images: p.querySelectorAll("img").length};
}"""


def test_every_widget_has_a_lead_in(no_js, server, site):
    """The paragraph right before each widget says what to do with it and what to watch:
    one to three sentences of prose (not a figure, not code)."""
    page = no_js.new_page()
    seen = []
    for name in WIDGETS:
        page.goto(server.url(_url(site, name)))
        lead = page.locator(f".rlhf-widget[data-widget='{name}']").evaluate(LEAD_IN_JS)
        assert lead and lead["tag"] == "p" and not lead["images"], f"{name}: {lead}"
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", lead["text"].strip()) if s]
        assert 1 <= len(sentences) <= 3, f"{name}: {len(sentences)} sentences: {lead['text']}"
        assert len(lead["text"]) > 80, f"{name}: lead-in too thin: {lead['text']}"
        seen.append(name)
    assert seen == list(WIDGETS)
    page.close()


# --- the architecture page: diagrams drawn at build time ------------------------------------

#: Each diagram on the page: its size, whether each box holds its label, and the colours of
#: the first box and its label as the page shows them.
DIAGRAMS_JS = """() => [...document.querySelectorAll("figure.rlhf-diagram svg")].map((svg) => {
  const r = svg.getBoundingClientRect();
  const inside = (a, b) => a.left >= b.left - 1 && a.right <= b.right + 1
    && a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
  const nodes = [...svg.querySelectorAll("g.node")].map((n) => ({
    label: n.textContent.trim(),
    fits: inside(n.querySelector("text").getBoundingClientRect(),
                 n.querySelector("rect, polygon").getBoundingClientRect()),
  }));
  const first = svg.querySelector("g.node");
  return {width: r.width, height: r.height, nodes,
          box: getComputedStyle(first.querySelector("rect, polygon")).fill,
          text: getComputedStyle(first.querySelector("text")).fill};
})"""


def _architecture(context, server) -> list[dict]:
    page = context.new_page()
    page.goto(server.url("architecture/"))
    diagrams = page.evaluate(DIAGRAMS_JS)
    # a wide diagram scrolls in its own box; the page never scrolls sideways
    sideways = page.evaluate("document.documentElement.scrollWidth - innerWidth")
    assert sideways <= 0, f"the page scrolls {sideways} px sideways"
    page.close()
    return diagrams


def _recording(browser, server, **options):
    """A browser context that aborts and records every request leaving 127.0.0.1."""
    ctx = browser.new_context(**options)
    ctx.external = []

    def route(r):
        if r.request.url.startswith(server.origin + "/"):
            r.continue_()
        else:
            ctx.external.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    return ctx


def test_architecture_diagrams_show_offline_with_and_without_javascript(
    browser, no_js, server, site
):
    """The two diagrams are on the page as drawn at build time: with JavaScript on, in the
    light palette on a desktop and the dark one on a phone, and with JavaScript off; every
    label inside its box; no request leaves the machine (Material would fetch mermaid from
    a CDN for a diagram it had to draw itself)."""
    seen = {}
    for name, options in (
        ("light", {"color_scheme": "light", "viewport": DESKTOP}),
        ("dark", {"color_scheme": "dark", "viewport": PHONE}),
    ):
        ctx = _recording(browser, server, **options)
        seen[name] = _architecture(ctx, server)
        assert ctx.external == [], f"{name}: requests outside the site: {ctx.external}"
        ctx.close()
    seen["no script"] = _architecture(no_js, server)
    assert no_js.external == []
    for name, diagrams in seen.items():
        assert len(diagrams) == 2, name
        for d in diagrams:
            assert d["width"] > 300 and d["height"] > 200, (name, d["width"], d["height"])
            assert len(d["nodes"]) >= 8
            assert [n["label"] for n in d["nodes"] if not n["fits"]] == [], name
            assert d["box"] != d["text"], name  # a label never has its box's colour
    assert seen["light"][0]["nodes"] == seen["no script"][0]["nodes"]
    # the diagram follows the palette: other colours in the dark scheme
    assert (seen["light"][0]["box"], seen["light"][0]["text"]) != (
        seen["dark"][0]["box"],
        seen["dark"][0]["text"],
    )
