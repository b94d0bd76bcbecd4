/* The offline copy of the course: registers the service worker (sw.js, at the site's root)
 * and shows, on the home page ([data-offline]), what this browser keeps and a button that
 * fetches the rest with a progress bar.
 *
 * window.rlhfOffline:
 *   supported           service workers available (a secure context: https or localhost)
 *   status()            Promise of {build, groups: {core|runtime|rest: {cached, total,
 *                       bytes, totalBytes}}, complete}
 *   cache(groups, onProgress)   Promise of {done, total, bytes, totalBytes, failed}
 * After the page's Python has started (rlhf:ready), the runtime it loaded is kept for
 * offline use, so one visit to an interactive lesson makes every lesson work offline.
 */
(function () {
  "use strict";
  var root = window.rlhfPages.root;
  var supported = "serviceWorker" in navigator && window.isSecureContext;

  // Registered once per page; a refusal (storage off, blocked) leaves the site online-only.
  // Never an unhandled rejection: boot.js would take one for a failing Python runtime.
  var registered = null;
  function register() {
    if (!registered) {
      // A page the worker already controls needs no new registration (the browser checks
      // sw.js for a new build on every navigation anyway).
      var controlled = navigator.serviceWorker.controller !== null;
      registered = (controlled ? navigator.serviceWorker.getRegistration(root)
                                : navigator.serviceWorker.register(root + "sw.js", { scope: root }))
        .catch(function (err) {
          console.warn("The offline copy is unavailable: " + err);
          return null;
        });
    }
    return registered;
  }

  /** Send ``msg`` to the active worker; ``onMessage`` sees each reply until it returns true. */
  function ask(msg, onMessage) {
    if (!supported) return Promise.reject(new Error("no service worker in this browser"));
    return register().then(function (registration) {
      if (!registration) throw new Error("the service worker could not be registered");
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      return new Promise(function (resolve) {
        var channel = new MessageChannel();
        channel.port1.onmessage = function (event) {
          if (onMessage(event.data, resolve)) channel.port1.close();
        };
        registration.active.postMessage(msg, [channel.port2]);
      });
    });
  }

  var api = {
    supported: supported,
    status: function () {
      return ask({ type: "status" }, function (reply, resolve) {
        resolve(reply.status);
        return true;
      });
    },
    cache: function (groups, onProgress) {
      return ask({ type: "cache", groups: groups }, function (reply, resolve) {
        if (reply.type === "progress") {
          if (onProgress) onProgress(reply.progress);
          return false;
        }
        resolve(reply.report);
        return true;
      });
    },
  };
  window.rlhfOffline = api;

  if (supported) {
    // The worker's first install downloads the lessons (a few MB): not while this page still
    // loads. A page with Python waits for it to be ready (or to fail), any other for "load".
    var python = document.getElementById("rlhf-runtime") !== null;
    var state = function () { return window.rlhfRuntime ? window.rlhfRuntime.state() : "loading"; };
    if (python && state() === "loading") {
      document.addEventListener("rlhf:failed", function () { register(); });
    } else if (!python && document.readyState !== "complete") {
      window.addEventListener("load", function () { register(); });
    } else {
      register();
    }
    // A page that started Python: keep the runtime it just loaded (from the HTTP cache, or
    // the worker's own fetches), so that the next lesson opens offline too.
    var keepRuntime = function () {
      api.cache(["runtime"]).catch(function () { /* stays online-only */ });
    };
    if (state() === "ready") keepRuntime();
    else document.addEventListener("rlhf:ready", keepRuntime);
  }

  // --- the home page's panel ------------------------------------------------------------
  function mb(bytes) { return (bytes / 1e6).toFixed(1) + " MB"; }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  function describe(s) {
    var g = s.groups;
    var part = function (name, what) {
      var x = g[name];
      if (!x) return null;
      return what + (x.cached === x.total ? " \u2713" : x.cached ? " (partly)" : " \u2717");
    };
    if (s.complete) {
      var total = Object.keys(g).reduce(function (n, k) { return n + g[k].totalBytes; }, 0);
      return "The whole course is available offline in this browser (" + mb(total) + ").";
    }
    return "Kept in this browser for offline use: " + [
      part("core", "the lessons"),
      part("runtime", "the Python that runs the widgets and code"),
      part("rest", "the notebooks and the API reference"),
    ].filter(Boolean).join(", ") + ".";
  }

  function panel(box) {
    box.replaceChildren();
    var status = el("p", { role: "status", "data-output": "offline-status" }, "Checking\u2026");
    var button = el("button", { type: "button", class: "md-button", "data-action": "make-offline" },
                    "Make the whole course available offline");
    var bar = el("progress", { max: "1", value: "0", hidden: "", "data-output": "offline-progress",
                               "aria-label": "Downloading the course" });
    var line = el("p", { "data-output": "offline-count" });
    box.append(status, el("div", { class: "rlhf-row" }), bar, line);
    box.querySelector(".rlhf-row").appendChild(button);
    function refresh() {
      return api.status().then(function (s) {
        status.textContent = describe(s);
        box.setAttribute("data-complete", String(s.complete));
        button.disabled = s.complete;
      });
    }
    button.addEventListener("click", function () {
      button.disabled = true;
      bar.hidden = false;
      status.textContent = "Downloading the course\u2026";
      api.cache(["core", "runtime", "rest"], function (p) {
        bar.value = p.totalBytes ? p.bytes / p.totalBytes : 1;
        line.textContent = p.done + " of " + p.total + " files (" + mb(p.bytes) + " of " +
          mb(p.totalBytes) + ")";
      }).then(function (report) {
        bar.hidden = true;
        if (report.failed && report.failed.length) {
          line.textContent = report.failed.length + " file(s) could not be downloaded: " +
            "are you online? Try again later.";
        }
        return refresh();
      }).catch(function (err) {
        status.textContent = "The course could not be kept offline (" + err + ").";
        button.disabled = false;
      });
    });
    refresh().catch(function (err) {
      status.textContent = "This browser does not keep an offline copy of the course (" +
        err.message + ").";
      button.disabled = true;
    });
  }

  function start() {
    var box = document.querySelector("[data-offline]");
    if (!box) return;
    if (!supported) {
      box.replaceChildren(el("p", {}, "This browser cannot keep a copy of the course for " +
        "offline use (it needs service workers, which need https)."));
      return;
    }
    panel(box);
  }
  window.rlhfPages.each(start); // this page and each page swapped in later (navigation.js)
})();
