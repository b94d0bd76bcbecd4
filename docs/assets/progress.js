/* The reader's progress, kept in this browser only: no account, no cookie, no network.
 *
 * docs/hooks/progress.py puts this script into the <head> of every page (it runs before the
 * page's other scripts, so quiz.js, exercises.js and the widgets' Python find
 * window.rlhfProgress), and the course's outline (#rlhf-course: each lesson's URL, title,
 * quick check and exercises) into the home page and the lessons.
 *
 * Storage: localStorage, every key prefixed with "rlhf-mini:<site root path>:" (two copies
 * of the site on one origin keep apart; "Reset my progress" erases this prefix only). Values
 * are JSON:
 *   visit:<lesson url>    {"at": ms}                                  a lesson was opened
 *   quiz:<quiz id>        {"answer": option text, "correct": bool, "at": ms}
 *   exercise:<id>         {"status": "tried"|"passed", "code": text|null, "base": starter
 *                          hash the code was written against, "hints": n, "solution": bool}
 *   widget:<name>         the widget's own settings (rlhf_widgets._dom.Widget.save)
 * A browser that refuses storage (private modes, storage off) gets a working page that
 * forgets; the home page says so.
 *
 * What it shows: under each lesson's title, the reader's progress in it; on the home page
 * ([data-progress="course"]), a table of every lesson, quick check and exercise, with a
 * "Reset my progress" button.
 */
(function () {
  "use strict";
  var root = window.rlhfPages.root;
  var PREFIX = "rlhf-mini:" + new URL(root).pathname + ":";

  function openStorage() {
    try {
      var s = window.localStorage;
      s.setItem(PREFIX + "probe", "1");
      s.removeItem(PREFIX + "probe");
      return s;
    } catch (e) {
      return null;
    }
  }
  var store = openStorage();

  function changed(key) {
    document.dispatchEvent(new CustomEvent("rlhf:progress", { detail: { key: key } }));
  }

  var api = {
    available: !!store,
    prefix: PREFIX,
    root: root,
    getItem: function (key) {
      try { return store ? store.getItem(PREFIX + key) : null; } catch (e) { return null; }
    },
    setItem: function (key, text) {
      if (!store) return false;
      try {
        store.setItem(PREFIX + key, String(text));
      } catch (e) {
        return false; // quota exceeded: keep working, forget this one
      }
      changed(key);
      return true;
    },
    get: function (key) {
      var text = api.getItem(key);
      if (text === null) return null;
      try { return JSON.parse(text); } catch (e) { return null; }
    },
    set: function (key, value) { return api.setItem(key, JSON.stringify(value)); },
    remove: function (key) {
      if (!store) return;
      try { store.removeItem(PREFIX + key); } catch (e) { /* nothing kept */ }
      changed(key);
    },
    /** This site's keys, without the prefix. */
    keys: function () {
      var out = [];
      if (!store) return out;
      for (var i = 0; i < store.length; i++) {
        var k = store.key(i);
        if (k && k.indexOf(PREFIX) === 0) out.push(k.slice(PREFIX.length));
      }
      return out;
    },
    /** Erase everything this site keeps in this browser (nothing else). */
    reset: function () {
      api.keys().forEach(function (k) {
        try { store.removeItem(PREFIX + k); } catch (e) { /* already gone */ }
      });
      changed(null);
    },
  };
  window.rlhfProgress = api;
  // Another tab of the same site changed something: show it here too.
  window.addEventListener("storage", function (event) {
    if (!event.key || event.key.indexOf(PREFIX) === 0) changed(event.key);
  });

  // --- the course and where this page is in it -------------------------------------------
  function course() {
    var el = document.getElementById("rlhf-course");
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function pageUrl() {
    var here = location.href.split("#")[0].split("?")[0];
    if (here.indexOf(root) !== 0) return null;
    return here.slice(root.length).replace(/index\.html$/, "");
  }

  /** What the reader has done in one lesson. */
  function lessonState(lesson) {
    var quizzes = lesson.quizzes.map(function (q) { return api.get("quiz:" + q); });
    var exercises = lesson.exercises.map(function (e) { return api.get("exercise:" + e.id); });
    return {
      visited: !!api.get("visit:" + lesson.url),
      quizRight: quizzes.filter(function (q) { return q && q.correct; }).length,
      quizAnswered: quizzes.filter(function (q) { return q; }).length,
      passed: exercises.filter(function (e) { return e && e.status === "passed"; }).length,
      tried: exercises.filter(function (e) { return e && e.status; }).length,
    };
  }

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

  function quizWords(lesson, s) {
    if (!lesson.quizzes.length) return null;
    if (s.quizRight === lesson.quizzes.length) return "quick check answered right";
    if (s.quizAnswered) return "quick check not yet answered right";
    return "quick check not answered yet";
  }

  function exerciseWords(lesson, s) {
    if (!lesson.exercises.length) return null;
    return s.passed + " of " + lesson.exercises.length + " exercises passed";
  }

  // --- under a lesson's title ---------------------------------------------------------------
  function showLessonProgress(lesson, signal) {
    var h1 = document.querySelector(".md-content h1");
    if (!h1) return;
    var line = el("p", { class: "rlhf-lesson-progress", "data-output": "lesson-progress" });
    h1.after(line);
    function update() {
      var s = lessonState(lesson);
      var parts = [quizWords(lesson, s), exerciseWords(lesson, s)].filter(Boolean);
      line.replaceChildren(
        el("strong", { text: "Your progress: " }),
        document.createTextNode(parts.join("; ") + ". "),
        el("a", { href: root + "#your-progress", text: "All lessons" }),
      );
      line.setAttribute("data-value", JSON.stringify(s));
    }
    update();
    document.addEventListener("rlhf:progress", update, { signal: signal });
  }

  // --- the home page's table ----------------------------------------------------------------
  function showCourseProgress(box, outline, signal) {
    box.replaceChildren();
    var summary = el("p", { "data-output": "course-summary" });
    var table = el("table", { class: "rlhf-progress-table" });
    var head = el("tr", {}, ["Lesson", "Opened", "Quick check", "Exercises"].map(function (t) {
      return el("th", { scope: "col", text: t });
    }));
    var body = el("tbody");
    table.append(el("thead", {}, [head]), body);
    var scroll = el("div", { class: "rlhf-scroll", tabindex: "0", role: "region",
                             "aria-label": "Your progress, lesson by lesson" }, [table]);
    var resetButton = el("button", { type: "button", class: "md-button",
                                     "data-action": "reset-progress",
                                     text: "Reset my progress" });
    var confirmBox = el("div", { class: "rlhf-row", hidden: "" }, [
      el("p", { text: "This erases what this site keeps in this browser: your quick-check " +
                      "answers, your exercises and their code, and your widget settings. " +
                      "Nothing else is touched." }),
      el("button", { type: "button", class: "md-button md-button--primary",
                     "data-action": "confirm-reset", text: "Erase my progress" }),
      el("button", { type: "button", class: "md-button", "data-action": "cancel-reset",
                     text: "Cancel" }),
    ]);
    var status = el("p", { role: "status", "data-output": "reset-status" });
    box.append(summary, scroll, el("div", { class: "rlhf-row" }, [resetButton]), confirmBox,
               status);
    if (!api.available) {
      summary.textContent = "This browser does not let the site keep data (private " +
        "browsing, or storage turned off), so your progress is not kept between visits.";
      resetButton.disabled = true;
    }

    function update() {
      var totals = { lessons: 0, opened: 0, quizzes: 0, right: 0, exercises: 0, passed: 0 };
      body.replaceChildren();
      outline.lessons.forEach(function (lesson) {
        var s = lessonState(lesson);
        totals.lessons += 1;
        totals.opened += s.visited ? 1 : 0;
        totals.quizzes += lesson.quizzes.length;
        totals.right += s.quizRight;
        totals.exercises += lesson.exercises.length;
        totals.passed += s.passed;
        var quiz = !lesson.quizzes.length ? "–" : s.quizRight === lesson.quizzes.length
          ? "\u2713 right" : s.quizAnswered ? "\u2717 not yet right" : "not answered";
        var done = lesson.exercises.filter(function (e) {
          var st = api.get("exercise:" + e.id);
          return st && st.status === "passed";
        }).map(function (e) { return e.number; });
        var ex = !lesson.exercises.length ? "–" : s.passed + " of " + lesson.exercises.length +
          (done.length ? " (" + done.join(", ") + ")" : "");
        var row = el("tr", { "data-lesson": lesson.url }, [
          el("td", {}, [el("a", { href: root + lesson.url, text: lesson.title })]),
          el("td", { text: s.visited ? "\u2713 yes" : "not yet" }),
          el("td", { text: quiz }),
          el("td", { text: ex }),
        ]);
        body.appendChild(row);
      });
      if (api.available) {
        summary.textContent = "Lessons opened: " + totals.opened + " of " + totals.lessons +
          ". Quick checks answered right: " + totals.right + " of " + totals.quizzes +
          ". Exercises passed: " + totals.passed + " of " + totals.exercises +
          ". Kept in this browser only.";
      }
      summary.setAttribute("data-value", JSON.stringify(totals));
    }
    resetButton.addEventListener("click", function () {
      confirmBox.hidden = false;
      status.textContent = "";
      confirmBox.querySelector("[data-action='confirm-reset']").focus();
    });
    confirmBox.querySelector("[data-action='cancel-reset']").addEventListener("click", function () {
      confirmBox.hidden = true;
      resetButton.focus();
    });
    confirmBox.querySelector("[data-action='confirm-reset']").addEventListener("click", function () {
      api.reset();
      confirmBox.hidden = true;
      status.textContent = "Your progress was erased.";
      resetButton.focus();
    });
    update();
    document.addEventListener("rlhf:progress", update, { signal: signal });
  }

  function start(signal) {
    var outline = course();
    if (!outline) return;
    var url = pageUrl();
    var lesson = outline.lessons.filter(function (l) { return l.url === url; })[0];
    if (lesson) {
      api.set("visit:" + lesson.url, { at: Date.now() });
      showLessonProgress(lesson, signal);
    }
    var box = document.querySelector("[data-progress='course']");
    if (box) showCourseProgress(box, outline, signal);
  }
  // this page, and each page swapped in later (navigation.js): the listeners of a page go
  // with it (signal)
  window.rlhfPages.each(start);
})();
