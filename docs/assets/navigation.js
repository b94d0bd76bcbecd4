/* Moving from page to page without reloading: the page's Python keeps running.
 *
 * Starting Python costs a page about 1.5 s of CPU (the interpreter, numpy, the library) even
 * when every file comes from the browser's cache. So a click on a link to another page of the
 * course does not load that page: Material's instant navigation (``navigation.instant`` in
 * mkdocs.yml) fetches it and swaps its content, title and <head> into this document, and the
 * interpreter this page started serves the next page's widgets too.
 *
 * Material intercepts only the links its sitemap lists, and the sitemap holds absolute URLs
 * of the deployed site (``site_url``): on any other host (``make serve``, the tests) it would
 * intercept nothing. This script intercepts the other clicks on links to the course's pages
 * (same origin, under the site's root, a page rather than a file) and hands them to Material
 * through ``location$``, the subject Material's instant navigation listens to (public in its
 * bundle as ``window.location$``, like ``document$``). Back and forward are Material's.
 *
 * After a swap, Material re-runs the scripts inside the content, but not those of <head>: it
 * copies the new page's <head> elements in without running them. This script runs each head
 * script the session has not run yet (e.g. the chart library, on the first page with a
 * widget), in order, and then calls every per-page setup registered with
 * ``rlhfPages.each(setup)`` (boot.js, quiz.js, progress.js, offline.js, exercises.js), in the
 * order they registered. ``setup(signal)`` gets an AbortSignal that is aborted when the
 * reader leaves the page: listeners on ``document`` added with ``{signal}`` go with it.
 *
 * window.rlhfPages:
 *   each(setup)   run setup(signal) for this page (once it is parsed) and for every page the
 *                 reader moves to
 *   root          the site's root URL (the site may live under any path)
 *   count()       how many pages this document has shown (1 until the first swap)
 *   navigated     performance.now() when the reader clicked the last link (or null)
 */
(function () {
  "use strict";
  if (window.rlhfPages) return; // run again by a swap: the one from the first page stays

  var script = document.currentScript;
  // this script is assets/navigation.js: the site's root is two levels up
  var root = script && script.src ? script.src.replace(/assets\/navigation\.js(\?.*)?$/, "")
    : new URL("./", location.href).href;
  var setups = [];
  var settled = false; // the current page is parsed and its setups have run
  var controller = new AbortController();
  var pages = 1;
  var ran = {}; // absolute URLs of the classic scripts this document has run

  var api = {
    each: function (setup) {
      setups.push(setup);
      if (settled) setup(controller.signal);
    },
    root: root,
    count: function () { return pages; },
    navigated: null,
  };
  window.rlhfPages = api;

  function classic(s) {
    var type = (s.getAttribute("type") || "").toLowerCase();
    return s.src && (type === "" || type === "text/javascript");
  }

  function noteRan() {
    document.querySelectorAll("script[src]").forEach(function (s) {
      if (classic(s)) ran[s.src] = true;
    });
  }

  function runSetups() {
    settled = true;
    setups.slice().forEach(function (setup) {
      try {
        setup(controller.signal);
      } catch (e) {
        console.error(e);
      }
    });
  }

  function withoutQuery(url) { return url.split("?")[0]; }

  /** Run, one after the other, the new page's head scripts this document has not run. A
   * script this document ran under another URL (its ?h= content hash changed) means the
   * site was deployed anew since this visit began: the page is then loaded afresh, so old
   * and new code never mix. */
  function runNewHeadScripts() {
    var todo = Array.prototype.filter.call(document.head.querySelectorAll("script[src]"),
      function (s) { return classic(s) && !ran[s.src]; });
    var paths = {};
    Object.keys(ran).forEach(function (url) { paths[withoutQuery(url)] = true; });
    if (todo.some(function (s) { return paths[withoutQuery(s.src)]; })) {
      location.reload();
      return new Promise(function () {}); // the reload takes over
    }
    return todo.reduce(function (previous, old) {
      return previous.then(function () {
        return new Promise(function (resolve) {
          var s = document.createElement("script");
          for (var i = 0; i < old.attributes.length; i++) {
            s.setAttribute(old.attributes[i].name, old.attributes[i].value);
          }
          s.async = false;
          ran[old.src] = true;
          s.onload = s.onerror = function () { resolve(); };
          old.replaceWith(s);
        });
      });
    }, Promise.resolve());
  }

  // --- the first page -------------------------------------------------------------------
  function firstPage() {
    noteRan();
    runSetups();
    var documents = window.document$;
    if (!documents || typeof documents.subscribe !== "function") return;
    var first = true;
    documents.subscribe(function () {
      if (first) { first = false; return; } // document$ replays the page it started on
      // --- a swapped-in page ---------------------------------------------------------------
      pages += 1;
      settled = false;
      controller.abort(); // the page before's listeners go
      controller = new AbortController();
      runNewHeadScripts().then(runSetups);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", firstPage);
  else firstPage();

  // --- clicks on links to the course's pages ------------------------------------------------
  function coursePage(url) {
    if (url.origin !== location.origin || url.href.indexOf(root) !== 0) return false;
    var path = url.pathname;
    return path.slice(-1) === "/" || /\.html$/.test(path);
  }

  document.addEventListener("click", function (event) {
    var link = event.target instanceof Element ? event.target.closest("a[href]") : null;
    if (link && event.defaultPrevented) api.navigated = performance.now(); // Material's own
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey ||
        event.ctrlKey || event.shiftKey || event.altKey || link.target ||
        link.hasAttribute("download") || !window.location$) return;
    var url = new URL(link.href);
    if (!coursePage(url)) return;
    if (url.pathname === location.pathname && url.search === location.search) return; // an anchor
    event.preventDefault();
    api.navigated = performance.now();
    // what Material does for the links it intercepts: keep the offset to come back to
    history.replaceState({ x: window.scrollX, y: window.scrollY }, "");
    history.pushState(null, "", url.href);
    window.location$.next(url);
  });

})();
