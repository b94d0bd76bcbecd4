/* Starts the Python runtime (PyScript + Pyodide, all served from this site) and connects each
 * page's widgets and code blocks to it.
 *
 * docs/hooks/runtime.py puts this script, and a JSON description of the runtime with URLs
 * relative to the page (#rlhf-runtime), into the <head> of every page that has a widget or
 * a runnable lesson code block. This script runs at once (before the body is parsed):
 * it makes the URLs absolute (the site may live under any path), adds the one
 * <script type="py"> of the session with its PyScript config, and loads PyScript, so the
 * interpreter and numpy download while the page renders. When the body is there it puts a
 * loading state and an (empty) error element into each widget, and a Run button under each
 * lesson code block. Python (rlhf_widgets.start) hands over its page-mounting function
 * (rlhfRuntime.attach), mounts the widgets and calls rlhfRuntime.ready(run, check); if
 * anything fails first, rlhfRuntime.fail(message) shows the message in every widget's
 * data-error element and next to the Run buttons.
 * rlhfRuntime.check(exerciseId, source) runs an exercise's hidden tests (exercises.js).
 *
 * One interpreter per visit, not per page: a click on a link to another page of the course
 * swaps that page in without reloading (navigation.js), and this script's per-page setup
 * (rlhfPages.each) prepares the new page's widgets and asks the running Python to mount
 * them (the page before's widgets stop), or starts Python if the reader came from a page
 * without it. state() is that of the current page: "loading" until its widgets are mounted.
 *
 * A page that uses the language model lists package files served apart from the library's
 * wheel (spec.deferred: its weights). They are fetched once the page has been painted, in
 * parallel with the interpreter, and handed to Python by rlhfRuntime.deferredFiles(), a
 * promise of [{path, sha256, data: Uint8Array}] (Python checks each sha256).
 */
(function () {
  "use strict";
  if (window.rlhfRuntime) return; // run again by a page swap: the session's runtime stays
  var abs = function (url) { return new URL(url, document.baseURI).href; };
  var TIMEOUT_MS = 120000;
  var booting = false; // PyScript was started and has not yet called ready() or fail()
  var started = false;
  var state = "loading";
  var failure = "";
  var runner = null;
  var checker = null;
  var remount = null; // Python's: mount the widgets of the page now in the document
  var marks = {};
  var current = readSpec(); // the runtime description of the page shown
  var runtime = {
    // performance.now() (ms since navigation start) at each step, for bench/browser.py
    marks: marks,
    mark: function (name) { marks[name] = performance.now(); },
    state: function () { return state; },
    failure: function () { return failure; },
    attach: function (mountPage) { remount = mountPage; },
    ready: ready,
    fail: fail,
    run: function (source) { return runner ? JSON.parse(runner(source)) : null; },
    check: function (id, source) { return checker ? JSON.parse(checker(id, source)) : null; },
    deferredFiles: function () { return deferredFiles(readSpec(), false); },
  };
  window.rlhfRuntime = runtime;

  /** The runtime description of the page now in the document (null: a page without it). */
  function readSpec() {
    var el = document.getElementById("rlhf-runtime");
    return el ? JSON.parse(el.textContent) : null;
  }

  // --- package files served apart (the language model's weights) -------------------------
  var fetched = {}; // the files' URLs (joined) -> the promise of their contents
  function deferredFiles(spec, afterPaint) {
    if (!spec || !spec.deferred || !spec.deferred.length) return null;
    var key = spec.deferred.map(function (d) { return abs(d.href); }).join(" ");
    if (!fetched[key]) {
      fetched[key] = new Promise(function (resolve, reject) {
        function fetchAll() {
          runtime.mark("deferred fetch");
          Promise.all(spec.deferred.map(function (d) {
            return fetch(abs(d.href)).then(function (response) {
              if (!response.ok) throw new Error(d.href + ": HTTP " + response.status);
              return response.arrayBuffer();
            }).then(function (buffer) {
              return { path: d.path, sha256: d.sha256, data: new Uint8Array(buffer) };
            });
          })).then(function (files) { runtime.mark("deferred fetched"); resolve(files); }, reject);
        }
        if (!afterPaint) return fetchAll();
        // after the first paint: the callback of the next animation frame runs before that
        // paint, and a task it queues runs after it
        var later = function () { requestAnimationFrame(function () { setTimeout(fetchAll, 0); }); };
        if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", later);
        else later();
      });
    }
    return fetched[key];
  }

  // --- the Python script and PyScript (once per visit) ------------------------------------
  function start(spec) {
    started = true;
    startedWheels = spec.wheels.map(abs).join(" ");
    booting = true;
    deferredFiles(spec, true);
    var config = {
      interpreter: abs(spec.interpreter),
      packages: spec.packages.concat(spec.wheels.map(abs)),
      // Load the wheels with Pyodide's loader together with the interpreter (no micropip).
      packages_cache: "passthrough",
      plugins: ["!codemirror", "!donkey", "!py-editor", "!py-game", "!py-terminal",
                "!deprecations-manager"],
    };
    css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = abs(spec.pyscript_css);
    document.head.appendChild(css);
    var py = document.createElement("script");
    py.type = "py";
    py.setAttribute("config", JSON.stringify(config));
    py.textContent = [
      "import js",
      "js.rlhfRuntime.mark('python')",
      "try:",
      "    import rlhf_widgets",
      "except BaseException as exc:",
      "    js.rlhfRuntime.fail(f'Python started, but the course code did not load ({exc}).')",
      "    raise",
      "js.rlhfRuntime.mark('imported')",
      "rlhf_widgets.start()",
    ].join("\n");
    document.head.appendChild(py);
    var core = document.createElement("script");
    core.type = "module";
    core.src = abs(spec.pyscript);
    core.onerror = function () { fail("The Python runtime could not be loaded."); };
    document.head.appendChild(core);
    timer = setTimeout(function () {
      fail("The Python runtime did not start within " + TIMEOUT_MS / 1000 + " s.");
    }, TIMEOUT_MS);
  }
  var timer = null;
  var startedWheels = ""; // the absolute URLs of the wheels the running Python loaded
  var css = null; // PyScript's stylesheet: a page swap drops what its <head> does not list

  // Failures PyScript reports without throwing at us, while it starts: a rejected promise,
  // a blocked script/module, its .py-error box, or no answer at all.
  window.addEventListener("unhandledrejection", function (event) {
    if (booting) fail("The Python runtime failed to start (" + event.reason + ").");
  });
  window.addEventListener("error", function (event) {
    var t = event.target;
    if (booting && t && t !== window && (t.src || t.href)) {
      fail("Part of the Python runtime could not be loaded (" + (t.src || t.href) + ").");
    }
  }, true);
  new MutationObserver(function (records) {
    for (var i = 0; i < records.length; i++) {
      var nodes = records[i].addedNodes;
      for (var j = 0; j < nodes.length; j++) {
        var n = nodes[j];
        if (booting && n.nodeType === 1 && n.classList.contains("py-error")) {
          fail("The Python runtime failed: " + n.textContent.trim().split("\n").pop());
        }
      }
    }
  }).observe(document.documentElement, { childList: true, subtree: true });

  // --- widgets ---------------------------------------------------------------------------
  function errorElement(widget) {
    var el = widget.querySelector("[data-error]");
    if (!el) {
      el = document.createElement("p");
      el.className = "rlhf-widget-error";
      el.setAttribute("data-error", "");
      el.setAttribute("role", "alert");
      el.hidden = true;
      widget.appendChild(el);
    }
    return el;
  }

  function prepareWidget(widget) {
    if (widget.hasAttribute("data-prepared")) return;
    widget.setAttribute("data-prepared", "");
    var loading = document.createElement("p");
    loading.className = "rlhf-widget-loading";
    loading.setAttribute("data-loading", "");
    loading.textContent = remount ? "Starting the widget\u2026"
      : "Loading Python in your browser\u2026 (the first visit downloads about " +
        current.download_mb + " MB)";
    widget.appendChild(loading);
    errorElement(widget);
    widget.setAttribute("aria-busy", "true");
    if (state === "failed") showFailure(widget);
  }

  function showFailure(widget) {
    var el = errorElement(widget);
    el.textContent = failure + " The interactive part of this page is unavailable; the text, " +
      "formulas and figures are not affected.";
    el.hidden = false;
    widget.setAttribute("data-failed", "true");
    widget.removeAttribute("aria-busy");
    var loading = widget.querySelectorAll("[data-loading]");
    for (var i = 0; i < loading.length; i++) loading[i].remove();
  }

  // --- runnable code blocks ------------------------------------------------------------
  var blocks = [];

  function prepareBlock(block) {
    var code = block.querySelector("pre > code");
    if (!code || block.hasAttribute("data-runnable")) return;
    block.setAttribute("data-runnable", "");
    code.setAttribute("contenteditable", "plaintext-only");
    code.setAttribute("spellcheck", "false");
    code.setAttribute("aria-label", "Python code, editable");
    var bar = document.createElement("div");
    bar.className = "rlhf-run-bar";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "md-button rlhf-run";
    button.setAttribute("data-action", "run");
    button.textContent = "Run";
    var status = document.createElement("span");
    status.className = "rlhf-run-status";
    status.setAttribute("role", "status");
    var output = document.createElement("pre");
    output.className = "rlhf-run-output";
    output.setAttribute("data-output", "run");
    output.setAttribute("aria-live", "polite");
    output.hidden = true;
    bar.appendChild(button);
    bar.appendChild(status);
    block.after(bar);
    bar.after(output);
    var entry = { button: button, status: status };
    blocks.push(entry);
    syncBlock(entry);
    button.addEventListener("click", function () {
      if (state !== "ready") return;
      var result = runtime.run(code.innerText);
      output.textContent = result.output || "(no output)";
      output.classList.toggle("rlhf-run-error", !result.ok);
      output.hidden = false;
    });
  }

  function syncBlock(entry) {
    entry.button.disabled = state !== "ready";
    entry.status.textContent = state === "loading" ? "Python is loading\u2026"
      : state === "failed" ? failure : "";
  }

  // --- state changes -----------------------------------------------------------------------
  function ready(run, check) {
    if (state === "failed") return;
    booting = false;
    clearTimeout(timer);
    state = "ready";
    runner = run;
    checker = check || null;
    runtime.mark("ready");
    blocks.forEach(syncBlock);
    document.dispatchEvent(new CustomEvent("rlhf:ready"));
  }

  function fail(message) {
    if (state === "failed") return;
    booting = false;
    clearTimeout(timer);
    state = "failed";
    failure = message;
    document.querySelectorAll(".rlhf-widget").forEach(function (w) {
      prepareWidget(w);
      showFailure(w);
    });
    blocks.forEach(syncBlock);
    document.dispatchEvent(new CustomEvent("rlhf:failed", { detail: message }));
  }

  function prepare(spec) {
    document.querySelectorAll(".rlhf-widget").forEach(prepareWidget);
    if (spec.runnable) {
      document.querySelectorAll(".md-content .language-python.highlight").forEach(function (b) {
        // not in a widget, nor an exercise's hint or solution (only its starter is edited)
        if (!b.closest(".rlhf-widget, .rlhf-exercise details")) prepareBlock(b);
      });
    }
  }

  // --- each page: the first one, and each one swapped in --------------------------------
  var pages = 0;
  function page() {
    var spec = readSpec();
    pages += 1;
    blocks = [];
    if (pages > 1) {
      Object.keys(marks).forEach(function (k) { delete marks[k]; });
      runtime.mark("page");
    }
    if (state === "failed") { // the runtime failed on an earlier page: say so here too
      if (spec) {
        prepare(spec);
        document.querySelectorAll(".rlhf-widget").forEach(showFailure);
      }
      return;
    }
    if (!spec) { // the page before's widgets stop; nothing to mount
      if (remount) remount();
      return;
    }
    if (started && spec.wheels.map(abs).join(" ") !== startedWheels) {
      location.reload(); // a new deploy's library: never mounted by the old one's Python
      return;
    }
    if (pages > 1) state = "loading";
    if (css && !css.isConnected) document.head.appendChild(css);
    current = spec;
    prepare(spec);
    if (!started) start(spec); // the first page of this visit that has Python
    else if (remount) remount(); // Python runs: it mounts this page's widgets, then ready()
    // else Python is still starting: its start() mounts what the document then holds
  }

  if (current) start(current);
  window.rlhfPages.each(page); // this page and each page swapped in later (navigation.js)
})();
