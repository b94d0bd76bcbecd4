/* Starts the page's Python runtime (PyScript + Pyodide, all served from this site).
 *
 * docs/hooks/runtime.py puts this script, and a JSON description of the runtime with URLs
 * relative to the page (#rlhf-runtime), into the <head> of every page that has a widget or
 * a runnable lesson code block. This script runs at once (before the body is parsed):
 * it makes the URLs absolute (the site may live under any path), adds the one
 * <script type="py"> of the page with its PyScript config, and loads PyScript, so the
 * interpreter and numpy download while the page renders. When the body is there it puts a
 * loading state and an (empty) error element into each widget, and a Run button under each
 * lesson code block. Python (rlhf_widgets.start) mounts the widgets and calls
 * rlhfRuntime.ready(run, check); if anything fails first, rlhfRuntime.fail(message) shows
 * the message in every widget's data-error element and next to the Run buttons.
 * rlhfRuntime.check(exerciseId, source) runs an exercise's hidden tests (exercises.js).
 *
 * A page that uses the language model lists package files served apart from the library's
 * wheel (spec.deferred: its weights). They are fetched once the page has been painted, in
 * parallel with the interpreter, and handed to Python by rlhfRuntime.deferredFiles(), a
 * promise of [{path, sha256, data: Uint8Array}] (Python checks each sha256).
 */
(function () {
  "use strict";
  var spec = JSON.parse(document.getElementById("rlhf-runtime").textContent);
  var abs = function (url) { return new URL(url, document.baseURI).href; };
  var TIMEOUT_MS = 120000;
  var state = "loading";
  var failure = "";
  var runner = null;
  var checker = null;
  var marks = {};
  var runtime = {
    // performance.now() (ms since navigation start) at each step, for bench/browser.py
    marks: marks,
    mark: function (name) { marks[name] = performance.now(); },
    state: function () { return state; },
    failure: function () { return failure; },
    ready: ready,
    fail: fail,
    run: function (source) { return runner ? JSON.parse(runner(source)) : null; },
    check: function (id, source) { return checker ? JSON.parse(checker(id, source)) : null; },
    deferredFiles: function () { return deferred; },
  };
  window.rlhfRuntime = runtime;

  // --- package files served apart (the language model's weights), after first paint ------
  var deferred = null;
  if (spec.deferred && spec.deferred.length) {
    deferred = new Promise(function (resolve, reject) {
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
      // after the first paint: the callback of the next animation frame runs before that
      // paint, and a task it queues runs after it
      function afterPaint() { requestAnimationFrame(function () { setTimeout(fetchAll, 0); }); }
      if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", afterPaint);
      else afterPaint();
    });
  }

  // --- the Python script and PyScript --------------------------------------------------
  var config = {
    interpreter: abs(spec.interpreter),
    packages: spec.packages.concat(spec.wheels.map(abs)),
    // Load the wheels with Pyodide's loader together with the interpreter (no micropip).
    packages_cache: "passthrough",
    plugins: ["!codemirror", "!donkey", "!py-editor", "!py-game", "!py-terminal",
              "!deprecations-manager"],
  };
  var css = document.createElement("link");
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

  // Failures PyScript reports without throwing at us: a rejected promise while loading,
  // a blocked script/module, its .py-error box, or no answer at all.
  window.addEventListener("unhandledrejection", function (event) {
    if (state === "loading") fail("The Python runtime failed to start (" + event.reason + ").");
  });
  window.addEventListener("error", function (event) {
    var t = event.target;
    if (state === "loading" && t && t !== window && (t.src || t.href)) {
      fail("Part of the Python runtime could not be loaded (" + (t.src || t.href) + ").");
    }
  }, true);
  var timer = setTimeout(function () {
    fail("The Python runtime did not start within " + TIMEOUT_MS / 1000 + " s.");
  }, TIMEOUT_MS);
  new MutationObserver(function (records) {
    for (var i = 0; i < records.length; i++) {
      var nodes = records[i].addedNodes;
      for (var j = 0; j < nodes.length; j++) {
        var n = nodes[j];
        if (state === "loading" && n.nodeType === 1 && n.classList.contains("py-error")) {
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
    loading.textContent = "Loading Python in your browser\u2026 (the first visit downloads about " +
      spec.download_mb + " MB)";
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
    if (state !== "loading") return;
    state = "ready";
    runner = run;
    checker = check || null;
    runtime.mark("ready");
    clearTimeout(timer);
    blocks.forEach(syncBlock);
    document.dispatchEvent(new CustomEvent("rlhf:ready"));
  }

  function fail(message) {
    if (state !== "loading") return;
    state = "failed";
    failure = message;
    clearTimeout(timer);
    document.querySelectorAll(".rlhf-widget").forEach(function (w) {
      prepareWidget(w);
      showFailure(w);
    });
    blocks.forEach(syncBlock);
    document.dispatchEvent(new CustomEvent("rlhf:failed", { detail: message }));
  }

  function prepare() {
    document.querySelectorAll(".rlhf-widget").forEach(prepareWidget);
    if (spec.runnable) {
      document.querySelectorAll(".md-content .language-python.highlight").forEach(function (b) {
        // not in a widget, nor an exercise's hint or solution (only its starter is edited)
        if (!b.closest(".rlhf-widget, .rlhf-exercise details")) prepareBlock(b);
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", prepare);
  else prepare();
})();
