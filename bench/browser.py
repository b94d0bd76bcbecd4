"""Browser benchmark of the course site (not a test): cold start and interaction latency.

Builds the site as the tests do (the runtime build step, then ``mkdocs build --strict``;
``--site DIR`` reuses a built one), serves it on 127.0.0.1 and drives Debian's Chromium. Each
run uses a fresh browser (no HTTP or compiled wasm cache: a reader's first visit). Reports,
median of ``--runs`` (default 5):

- ready (cold): navigation start -> the first widget's ``data-ready="true"``, per widget
  page measured (in-page ``performance.now()``, whose origin is the navigation start);
- ready (next lesson): the same for the preference-game page opened after the playground
  page in the same browser, as a reader going from lesson to lesson: by a click on its link
  (the page is swapped in and the running Python mounts its widget, docs/assets/navigation.js;
  timed from the click), and loaded anew (typed, reloaded or opened in a new tab) without
  the course's service worker (the browser's HTTP cache only) and with it (once it keeps the
  runtime, docs/assets/sw.js: what a warm visit gets), alternating in one run;
  on the local server as it is, and with ``--rtt-ms`` (default 100) added to every
  response, as a real host's round trip: the HTTP cache then revalidates each file a page
  loads (a static host's files are fresh for minutes at most: GitHub Pages sends
  max-age=600), the worker answers from its cache without asking;
- click -> read-out updated, p95 over ``--clicks`` clicks on the playground's example
  buttons, timed in the page around the synchronous ``click()`` (the handler runs Python
  and updates the read-outs before ``click()`` returns);
- PPO sweep compute in Pyodide: the ``ppo-sweep`` widget's Run button, timed the same way;
- the language model aligned in the page (``lm-align``): cold navigation to ready (its page
  also fetches the model's weights, after the first paint), Train click -> the new run's
  first samples shown, Train click -> 50 PPO iterations done, the longest slice of work and
  the longest animation frame while training, and Stop: the input event's time stamp ->
  the widget showing "stopped" (median of 5 clicks during training);
- the tiny transformer's forward + backward on 16 x 32 tokens, a sampling pass and one PPO
  iteration's model work in Pyodide (``bench/lm_pyodide.py``: Pyodide 0.27.7 under Node,
  whose V8 runs the WebAssembly as Chromium does).

Targets, on a 2-core machine with nothing else running: ready <= 2.5 s (a reader waits
no longer than for an ordinary page), the next lesson by its link <= 1.0 s (measured 0.25 s
median, the machine busy), click p95 <= 50 ms (feels instant), sweep <= 1 s;
lm-align: Train -> first samples <= 1 s, 50 iterations <= 15 s, Stop <= 100 ms.

    python bench/browser.py [--site site/] [--runs 5] [--clicks 50]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT / "bench"))
from sitebuild import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    Server,
    _Quiet,
    _Threads,
    build_site,
    pages_with,
)

READY_PROBE = """
(() => {
  const mark = () => {
    const w = document.querySelector(".rlhf-widget[data-ready='true']");
    if (w && window.__rlhfReadyAt === undefined) window.__rlhfReadyAt = performance.now();
  };
  new MutationObserver(mark).observe(document, {subtree: true, attributes: true,
                                                 attributeFilter: ["data-ready"]});
})();
"""


class DelayedServer(Server):
    """:class:`Server` answering every request ``delay`` seconds late (a round trip)."""

    def __init__(self, site: Path, delay: float):
        class Late(_Quiet):
            def do_GET(self):
                time.sleep(delay)
                super().do_GET()

        self.httpd = _Threads(("127.0.0.1", 0), functools.partial(Late, directory=str(site)))
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()


def next_lessons(pw, server: Server, site: Path, runs: int, label: str) -> None:
    first = pages_with(site, 'data-widget="playground"')[0]
    then = pages_with(site, 'data-widget="preference-game"')[0]
    ways = {
        "link": "a click on its link",
        "http": "loaded, HTTP cache only",
        "worker": "loaded, service worker",
    }
    times: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(runs):  # alternating: all see the same load
        for way in ways:
            times[way].append(next_lesson_ready(pw, server, first, then, way))
    print(f"next lesson (same browser, {label}), navigation -> first widget ready: {then}")
    for way, name in ways.items():
        t = times[way]
        print(
            f"  {name:26s} median {statistics.median(t):.2f} s (min {min(t):.2f}, "
            f"max {max(t):.2f})   target <= 1.0 s"
        )
    ratio = statistics.median(times["worker"]) / statistics.median(times["http"])
    print(f"  service worker / HTTP cache only: {ratio:.2f}")


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]


def cold_ready(pw, server: Server, url: str) -> float:
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        page = browser.new_context().new_page()
        page.add_init_script(READY_PROBE)
        page.goto(server.url(url))
        page.wait_for_function("() => window.__rlhfReadyAt !== undefined", timeout=120_000)
        marks = page.evaluate("() => rlhfRuntime.marks")
        steps = ", ".join(f"{k} {v / 1000:.2f}" for k, v in marks.items())
        print(f"    run: python starts / course code imported / ready at: {steps} s")
        return page.evaluate("() => window.__rlhfReadyAt") / 1000
    finally:
        browser.close()


RUNTIME_KEPT = """async () => {
  const s = await rlhfOffline.status();
  return ["core", "runtime"].every(g => s.groups[g].cached === s.groups[g].total);
}"""


#: In the page: resolves with performance.now() once the preference game is ready.
GAME_READY = """() => new Promise(resolve => {
  const sel = ".rlhf-widget[data-widget='preference-game'][data-ready='true']";
  new MutationObserver((records, observer) => {
    if (document.querySelector(sel)) { observer.disconnect(); resolve(performance.now()); }
  }).observe(document, {subtree: true, childList: true, attributes: true});
})"""


def next_lesson_ready(pw, server: Server, first: str, then: str, way: str) -> float:
    """A reader's next lesson: ``then`` after ``first`` in the same browser (the runtime's
    files now in the HTTP cache and V8's compiled-code cache; with ``way="worker"``, in the
    service worker's cache too, as on any visit after the first). ``way="link"``: a click on
    the sidebar's link to it, timed from the click."""
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        context = browser.new_context(service_workers="allow" if way == "worker" else "block")
        page = context.new_page()
        page.add_init_script(READY_PROBE)
        page.goto(server.url(first))
        page.wait_for_function("() => window.__rlhfReadyAt !== undefined", timeout=120_000)
        while way == "worker" and not page.evaluate(RUNTIME_KEPT):
            page.wait_for_timeout(200)
        if way == "link":
            slug = then.rstrip("/").split("/")[-1]
            return page.evaluate(
                f"""async () => {{
                  const ready = ({GAME_READY})();
                  const link = document.querySelector(".md-sidebar--primary a[href$='{slug}/']");
                  const t0 = performance.now();
                  link.click();
                  return ((await ready) - t0) / 1000;
                }}"""
            )
        page.goto(server.url(then))
        page.wait_for_function("() => window.__rlhfReadyAt !== undefined", timeout=120_000)
        return page.evaluate("() => window.__rlhfReadyAt") / 1000
    finally:
        browser.close()


def click_latencies(page, clicks: int) -> list[float]:
    return page.evaluate(
        """(n) => {
            const w = document.querySelector(".rlhf-widget[data-widget='playground']");
            const buttons = [...w.querySelectorAll("[data-action^='example-']")];
            const gap = w.querySelector("[data-output='gap']");
            const out = [];
            for (let k = 0; k < n; k++) {
                const before = gap.dataset.value;
                const t0 = performance.now();
                buttons[k % buttons.length].click();
                const t1 = performance.now();
                if (k > buttons.length && gap.dataset.value === before && k % buttons.length)
                    throw new Error("read-out not updated");
                out.push(t1 - t0);
            }
            return out;
        }""",
        clicks,
    )


def sweep_seconds(page) -> tuple[float, float, int] | None:
    widget = page.locator(".rlhf-widget[data-widget='ppo-sweep'][data-ready='true']")
    if not widget.count():
        return None
    return page.evaluate(
        """() => {
            const w = document.querySelector(".rlhf-widget[data-widget='ppo-sweep']");
            const t0 = performance.now();
            w.querySelector("[data-action='run-sweep']").click();
            const total = (performance.now() - t0) / 1000;
            // the library calls alone, as the widget measured them (the rest is drawing)
            const compute = Number(w.querySelector("[data-output='sweep-ms']").dataset.value);
            const runs = w.querySelectorAll("input[type='checkbox']:checked").length;
            return [total, compute / 1000, runs];
        }"""
    )


LM = ".rlhf-widget[data-widget='lm-align']"

LM_TRAIN = """() => new Promise((resolve) => {
  const w = document.querySelector("LM_WIDGET");
  const step = w.querySelector("[data-output='samples-step']");
  const iteration = w.querySelector("[data-output='iteration']");
  const t0 = performance.now();
  let first = null;
  new MutationObserver((records, observer) => {
    if (first === null && step.dataset.value === "0") first = performance.now() - t0;
    if (Number(iteration.dataset.value) >= 50) {
      observer.disconnect();
      resolve([first, performance.now() - t0, Number(w.dataset.sliceMaxMs),
               Number(w.dataset.frameMaxMs)]);
    }
  }).observe(w, {subtree: true, attributes: true, attributeFilter: ["data-value"]});
  w.querySelector("[data-action='train']").click();
})""".replace("LM_WIDGET", LM)

STOP_PROBE = """() => {
  const w = document.querySelector("LM_WIDGET");
  window.__stops = [];
  document.addEventListener("click", (e) => {
    if (e.target.closest("[data-action='stop']")) window.__stopAt = e.timeStamp;
  }, true);
  new MutationObserver(() => {
    if (w.dataset.training === "stopped" && window.__stopAt !== undefined) {
      window.__stops.push(performance.now() - window.__stopAt);
      window.__stopAt = undefined;
    }
  }).observe(w, {attributes: true, attributeFilter: ["data-training"]});
}""".replace("LM_WIDGET", LM)


def lm_align(page) -> dict:
    """Train -> first samples and -> 50 iterations (ms), the longest slice and frame while
    training, then Stop latencies (ms) over 5 clicks during training."""
    first, fifty, slice_ms, frame_ms = page.evaluate(LM_TRAIN)
    page.evaluate(STOP_PROBE)
    widget = page.locator(LM)
    widget.locator("[data-action='train']").click()  # a new run (the first one is done)
    for k in range(5):
        if k:
            widget.locator("[data-action='resume']").click()
        page.wait_for_timeout(700)  # mid-iteration, at whatever slice is running
        widget.locator("[data-action='stop']").click()
    stops = page.evaluate("() => window.__stops")
    return {
        "first_samples_ms": first,
        "fifty_s": fifty / 1000,
        "slice_max_ms": slice_ms,
        "frame_max_ms": frame_ms,
        "stop_ms": stops,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--site", type=Path, help="an already built site (default: build one)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--clicks", type=int, default=50)
    ap.add_argument("--rtt-ms", type=int, default=100, help="round trip added (0: skip)")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        site = args.site
        if site is None:
            built = build_site(Path(tmp))
            if built.returncode != 0:
                sys.exit(f"building the site failed:\n{built.log[-4000:]}")
            site = built.site
        server = Server(site)
        try:
            with sync_playwright() as pw:
                print(f"cold start, navigation -> first widget ready (median of {args.runs}):")
                for name in ("playground", "preference-game", "lm-align"):
                    hits = pages_with(site, f'data-widget="{name}"')
                    if not hits:
                        continue
                    times = [cold_ready(pw, server, hits[0]) for _ in range(args.runs)]
                    print(
                        f"  {hits[0]:34s} median {statistics.median(times):.2f} s "
                        f"(min {min(times):.2f}, max {max(times):.2f})   target <= 2.5 s"
                    )
                next_lessons(pw, server, site, args.runs, "local server")
                if args.rtt_ms:
                    late = DelayedServer(site, args.rtt_ms / 1000)
                    try:
                        next_lessons(pw, late, site, args.runs, f"{args.rtt_ms} ms round trip")
                    finally:
                        late.close()
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_context().new_page()
                page.goto(server.url(pages_with(site, 'data-widget="playground"')[0]))
                page.wait_for_selector(".rlhf-widget[data-widget='playground'][data-ready='true']")
                lat = click_latencies(page, args.clicks)
                print(
                    f"click -> read-out updated (playground, {args.clicks} clicks): "
                    f"p95 {p95(lat):.1f} ms, median {statistics.median(lat):.1f} ms   target <= 50 ms"
                )
                sweeps = pages_with(site, 'data-widget="ppo-sweep"')
                if sweeps:
                    page.goto(server.url(sweeps[0]))
                    page.wait_for_selector(
                        ".rlhf-widget[data-widget='ppo-sweep'][data-ready='true']"
                    )
                    runs = [sweep_seconds(page) for _ in range(3)]
                    if runs[0] is not None:
                        total = statistics.median(r[0] for r in runs)
                        compute = statistics.median(r[1] for r in runs)
                        print(
                            f"PPO sweep in Pyodide (median of 3): click -> charts drawn "
                            f"{total:.2f} s, of which train_ppo x {runs[0][2]} {compute:.2f} s"
                            "   target <= 1 s"
                        )
                lm = pages_with(site, 'data-widget="lm-align"')
                if lm:
                    page.goto(server.url(lm[0]))
                    page.wait_for_selector(f"{LM}[data-ready='true']", timeout=120_000)
                    r = lm_align(page)
                    print(
                        f"lm-align: Train -> first samples {r['first_samples_ms']:.0f} ms "
                        f"(target <= 1000), -> 50 PPO iterations {r['fifty_s']:.1f} s "
                        f"(target <= 15), longest slice {r['slice_max_ms']:.0f} ms, longest "
                        f"frame {r['frame_max_ms']:.0f} ms; Stop -> stopped: median "
                        f"{statistics.median(r['stop_ms']):.0f} ms, max {max(r['stop_ms']):.0f} ms"
                        " (target <= 100)"
                    )
                browser.close()
        finally:
            server.close()
    print("tiny transformer in Pyodide (bench/lm_pyodide.py, CPU ms, best of 3):")
    import lm_pyodide

    lm_pyodide.ensure_wheels()
    lm_pyodide.align(iters=10, long=True)
    for row in lm_pyodide.pyodide_rows(3):
        print(
            f"  {row['size']} {row['dtype']}: fwd+bwd 16x32 {row['fwd_bwd_ms']:.0f} ms, "
            f"sample 16x32 {row['sample_ms']:.0f} ms, PPO iteration {row['ppo_iter_ms']:.0f} ms"
            "   target <= 300 ms"
        )


if __name__ == "__main__":
    main()
