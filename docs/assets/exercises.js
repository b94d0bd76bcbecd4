/* Exercises: the Check button, hints one at a time, the solution after a first try, and the
 * reader's own code kept in this browser.
 *
 * docs/hooks/exercises.py renders each exercise at build time (readable without JavaScript):
 *   <div class="rlhf-exercise" data-exercise="ID" data-starter-hash="H">
 *     task... <div class="language-python highlight">starter code</div>
 *     <details class="rlhf-exercise-hint">...</details> (one per hint)
 *     <details class="rlhf-exercise-solution">...</details>
 *   </div>
 * boot.js makes the starter block editable and runnable (Run); this script adds, once the
 * page is parsed: Check (next to Run), "Show a hint", "Show the solution" (after the first
 * check, or at once if Python cannot start here), "Reset to the original code", and the
 * check's answer ([data-output="check"]). Check calls rlhfRuntime.check(ID, code), which runs
 * the hidden tests in the page's Python (rlhf_widgets.exercises) and answers in words.
 *
 * Saved per exercise (rlhfProgress, key "exercise:ID"): status, the reader's code and the
 * starter hash H it was written against, hints shown, solution shown. If the lesson's starter
 * code changed since, the page shows the new starter and offers the saved copy: a changed
 * lesson is never hidden behind an old copy.
 */
(function () {
  "use strict";
  var store = window.rlhfProgress || null;
  var SAVE_DELAY_MS = 400;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function button(action, label, primary) {
    return el("button", { type: "button", class: "md-button" + (primary ? " md-button--primary" : ""),
                          "data-action": action, text: label });
  }

  function runtimeState() {
    return window.rlhfRuntime ? window.rlhfRuntime.state() : "failed";
  }

  function setup(ex, signal) {
    if (ex.hasAttribute("data-exercise-ready")) return;
    var id = ex.getAttribute("data-exercise");
    var starterHash = ex.getAttribute("data-starter-hash");
    var key = "exercise:" + id;
    var block = ex.querySelector(":scope > .language-python.highlight");
    var code = block && block.querySelector("pre > code");
    if (!code) return;
    var title = ex.previousElementSibling && /^H\d$/.test(ex.previousElementSibling.tagName)
      ? ex.previousElementSibling.textContent.replace(/\u00b6$/, "").trim() : "Exercise";
    var originalHTML = code.innerHTML;
    var originalText = code.textContent;
    var hints = Array.prototype.slice.call(ex.querySelectorAll(":scope > details.rlhf-exercise-hint"));
    var solution = ex.querySelector(":scope > details.rlhf-exercise-solution");
    var state = (store && store.get(key)) || {};

    function save() {
      if (store) store.set(key, state);
    }

    // --- the controls ----------------------------------------------------------------------
    var check = button("check", "Check", true);
    var hint = button("hint", "Show a hint");
    var reveal = button("solution", "Show the solution");
    var reset = button("reset-code", "Reset to the original code");
    var status = el("span", { class: "rlhf-run-status", "data-output": "exercise-status" });
    var bar = el("div", { class: "rlhf-row rlhf-exercise-bar", role: "group",
                          "aria-label": title + ": tools" }, [hint, reveal, reset]);
    var feedback = el("div", { class: "rlhf-exercise-feedback", "data-output": "check",
                               role: "status", "aria-live": "polite" });
    var notice = el("div", { class: "rlhf-exercise-notice", "data-output": "changed", hidden: "" });
    var runBar = block.nextElementSibling;
    if (runBar && runBar.classList.contains("rlhf-run-bar")) {
      runBar.insertBefore(check, runBar.querySelector(".rlhf-run-status"));
      runBar.appendChild(status);
    } else {
      runBar = el("div", { class: "rlhf-run-bar" }, [check, status]);
      block.after(runBar);
    }
    var anchor = runBar;
    if (anchor.nextElementSibling && anchor.nextElementSibling.classList.contains("rlhf-run-output")) {
      anchor = anchor.nextElementSibling;
    }
    anchor.after(notice);
    notice.after(bar);
    bar.after(feedback);

    // --- hints, one at a time; the solution after a try ------------------------------------
    function syncHints() {
      var shown = Math.min(state.hints || 0, hints.length);
      hints.forEach(function (d, i) { d.hidden = i >= shown; });
      hint.disabled = shown >= hints.length;
      hint.textContent = shown >= hints.length ? "All hints shown"
        : "Show hint " + (shown + 1) + " of " + hints.length;
      var unlocked = !!state.status || runtimeState() === "failed";
      if (solution) solution.hidden = !state.solution;
      reveal.disabled = !unlocked || !!state.solution;
      reveal.textContent = state.solution ? "Solution shown below"
        : unlocked ? "Show the solution" : "Show the solution (after one check)";
      ex.setAttribute("data-status", state.status || "new");
    }
    hint.addEventListener("click", function () {
      var k = Math.min(state.hints || 0, hints.length - 1);
      state.hints = k + 1;
      save();
      syncHints();
      hints[k].open = true;
      hints[k].querySelector("summary").focus();
    });
    reveal.addEventListener("click", function () {
      state.solution = true;
      save();
      syncHints();
      if (solution) {
        solution.open = true;
        solution.querySelector("summary").focus();
      }
    });

    // --- the reader's code -------------------------------------------------------------------
    function currentCode() { return code.innerText; }
    function same(a, b) { return a.replace(/\s+$/, "") === b.replace(/\s+$/, ""); }
    var timer = null;
    code.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var text = currentCode();
        state.code = same(text, originalText) ? null : text;
        state.base = starterHash;
        save();
      }, SAVE_DELAY_MS);
    });
    reset.addEventListener("click", function () {
      clearTimeout(timer);
      code.innerHTML = originalHTML;
      state.code = null;
      state.base = starterHash;
      notice.hidden = true;
      save();
      status.textContent = "The original code is back.";
      code.focus();
    });
    if (state.code) {
      if (state.base === starterHash) {
        code.textContent = state.code;
      } else {
        // The lesson changed this exercise since the reader saved: show the new starter,
        // offer the saved copy.
        var useSaved = button("use-saved", "Use my saved version");
        var keepNew = button("keep-new", "Keep the new starting code");
        notice.replaceChildren(
          el("p", { text: "This exercise's starting code has changed since you saved your " +
                          "own version. The page shows the new starting code; your version " +
                          "is below." }),
          el("details", {}, [el("summary", { text: "Your saved version" }),
                             el("pre", { class: "rlhf-run-output", text: state.code })]),
          el("div", { class: "rlhf-row" }, [useSaved, keepNew]),
        );
        notice.hidden = false;
        useSaved.addEventListener("click", function () {
          code.textContent = state.code;
          state.base = starterHash;
          save();
          notice.hidden = true;
          code.focus();
        });
        keepNew.addEventListener("click", function () {
          state.code = null;
          state.base = starterHash;
          save();
          notice.hidden = true;
          code.focus();
        });
      }
    }

    // --- Check ---------------------------------------------------------------------------------
    function syncCheck() {
      var s = runtimeState();
      check.disabled = s !== "ready";
      if (s === "failed") {
        status.textContent = "Python could not start in this browser, so Check is unavailable; " +
          "the hints and the solution are below.";
      } else if (s === "loading") {
        status.textContent = "Check is ready once Python has loaded\u2026";
      } else if (status.textContent.indexOf("Python") === 0 || status.textContent.indexOf("Check is") === 0) {
        status.textContent = "";
      }
      syncHints();
    }

    function show(result) {
      feedback.replaceChildren();
      feedback.classList.toggle("rlhf-exercise-passed", result.ok);
      feedback.classList.toggle("rlhf-exercise-failed", !result.ok);
      feedback.appendChild(el("p", {}, [el("strong", { text: result.ok ? "Passed. " : "Not yet. " }),
                                        result.message]));
      if (result.details && result.details.length) {
        var dl = el("dl", { class: "rlhf-readouts" });
        result.details.forEach(function (row) {
          dl.append(el("dt", { text: row[0] }), el("dd", { text: row[1] }));
        });
        feedback.appendChild(dl);
      }
      if (result.tip) feedback.appendChild(el("p", { class: "rlhf-exercise-tip", text: "Tip: " + result.tip }));
      feedback.setAttribute("data-ok", String(result.ok));
    }

    check.addEventListener("click", function () {
      if (runtimeState() !== "ready") return;
      check.disabled = true;
      status.textContent = "Checking\u2026";
      // Let the browser paint "Checking…" before Python takes the page's thread.
      setTimeout(function () {
        var result;
        try {
          result = window.rlhfRuntime.check(id, currentCode());
        } catch (e) {
          result = { ok: false, message: "The check could not run (" + e + ").", details: [], tip: "" };
        }
        if (!result) result = { ok: false, message: "Python is not ready yet.", details: [], tip: "" };
        state.status = result.ok || state.status === "passed" ? "passed" : "tried";
        state.last = result.ok;
        state.code = same(currentCode(), originalText) ? null : currentCode();
        state.base = starterHash;
        save();
        show(result);
        status.textContent = result.ok ? "Passed." : "Not yet: see below.";
        check.disabled = false;
        syncHints();
      }, 0);
    });

    document.addEventListener("rlhf:ready", syncCheck, { signal: signal });
    document.addEventListener("rlhf:failed", syncCheck, { signal: signal });
    syncCheck();
    ex.setAttribute("data-exercise-ready", "true");
  }

  // This page's exercises, and those of each page swapped in later (navigation.js), after
  // boot.js has added the Run bars (it registered its per-page setup first).
  window.rlhfPages.each(function (signal) {
    document.querySelectorAll(".rlhf-exercise").forEach(function (ex) { setup(ex, signal); });
  });
})();
