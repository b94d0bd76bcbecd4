/* The course's service worker: the site keeps working offline after one visit.
 *
 * docs/hooks/offline_cache.py writes this file to the site's root (its scope is the whole
 * site) with MANIFEST filled in: every file of the build with its site-relative URL (as the
 * pages request it, ?h= included), the first 16 hex digits of its sha256, its size, and its
 * group:
 *   core     the home page and the lessons, their figures, styles and scripts, the search
 *            index: fetched when the worker installs (a few MB);
 *   runtime  Pyodide, numpy, the course's wheels, PyScript, Chart.js: kept once a page has
 *            started Python (offline.js asks after rlhf:ready), or on request;
 *   rest     the notebooks, the API reference, downloads: on request ("Make the whole
 *            course available offline", offline.js).
 *
 * Versioning: MANIFEST.build is a hash of the whole manifest, so every deploy that changes any
 * file changes this script's bytes, the browser installs the new worker, and the new worker
 * works in a new cache (rlhf-mini:<scope path>:<build>). Cache keys carry each file's content
 * hash (?rlhf-sha=...), so the new worker copies every unchanged file from the old cache (no
 * download) and fetches only what changed; once active it deletes the old caches of this
 * site (no other cache of the origin). Anything fetched is checked against its hash before it
 * is kept: a deploy landing in the middle of a download is never cached under the old name.
 *
 * Serving: pages (navigated to, or fetched to be swapped in) network first, revalidated (a conditional request: the server answers 304
 * when nothing changed), so a reader online always gets the newest pages, and the cached copy
 * when the network fails or takes longer than NETWORK_TIMEOUT_MS; every other file of the manifest from the cache first (its URL and content belong to
 * this build), else from the network, kept for next time. Requests outside the manifest go
 * to the network untouched.
 */
"use strict";

// Replaced by docs/hooks/offline_cache.py:
var MANIFEST = { build: "unbuilt", files: [] };

var SCOPE = self.registration.scope;
var PREFIX = "rlhf-mini:" + new URL(SCOPE).pathname + ":";
var CACHE = PREFIX + MANIFEST.build;
var NETWORK_TIMEOUT_MS = 4000;
var FETCH_TIMEOUT_MS = 120000;
var PARALLEL = 4;

var byUrl = {};
MANIFEST.files.forEach(function (f) {
  f.abs = new URL(f.url, SCOPE).href;
  byUrl[f.abs] = f;
});

// This build's cache, opened once per worker start (not once per request).
var opened = null;
function openCache() {
  if (!opened) opened = caches.open(CACHE);
  return opened;
}

function keyOf(f) {
  return f.abs + (f.abs.indexOf("?") < 0 ? "?" : "&") + "rlhf-sha=" + f.hash;
}

function inGroups(groups) {
  return MANIFEST.files.filter(function (f) { return groups.indexOf(f.group) >= 0; });
}

function hex(buffer) {
  return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
    return ("0" + b.toString(16)).slice(-2);
  }).join("");
}

/** Keep ``response`` (the body of ``f``) in ``cache`` if its content is ``f``'s. */
function keep(cache, f, response) {
  return response.arrayBuffer().then(function (body) {
    return crypto.subtle.digest("SHA-256", body).then(function (digest) {
      if (hex(digest).slice(0, 16) !== f.hash) {
        throw new Error(f.url + " on the server is not the one of this build");
      }
      var headers = new Headers(response.headers);
      return cache.put(keyOf(f), new Response(body, { status: 200, headers: headers }));
    });
  });
}

/** Make every file of ``files`` present in this build's cache; ``onProgress`` is told how far
 * it got. Resolves with {done, total, bytes, totalBytes, failed: [url]}; with ``strict`` the
 * first failure rejects instead. */
function fill(files, onProgress, strict) {
  var total = files.length;
  var totalBytes = files.reduce(function (s, f) { return s + f.size; }, 0);
  var report = { done: 0, total: total, bytes: 0, totalBytes: totalBytes, failed: [] };
  var queue = files.slice();
  return openCache().then(function (cache) {
    function one(f) {
      return cache.match(keyOf(f)).then(function (hit) {
        if (hit) return null;
        // A server that accepts and never answers must not keep this worker busy for ever
        // (a busy worker holds back the next build's).
        var abort = new AbortController();
        var timer = setTimeout(function () { abort.abort(); }, FETCH_TIMEOUT_MS);
        return fetch(f.abs, { cache: "no-cache", signal: abort.signal }).then(function (response) {
          if (!response.ok) throw new Error(f.url + ": HTTP " + response.status);
          return keep(cache, f, response);
        }).finally(function () { clearTimeout(timer); });
      }).then(function () {
        report.done += 1;
        report.bytes += f.size;
      }, function (err) {
        if (strict) throw err;
        report.failed.push(f.url);
      }).then(function () {
        if (onProgress) onProgress(report);
      });
    }
    function worker() {
      var f = queue.shift();
      return f ? one(f).then(worker) : Promise.resolve();
    }
    var workers = [];
    for (var i = 0; i < PARALLEL; i++) workers.push(worker());
    return Promise.all(workers).then(function () { return report; });
  });
}

/* One listing of the cache, not a lookup per file: a page polling the status must not keep
 * this worker busy (the browser activates a new build's worker only once the old one is idle;
 * a lookup per file, under load, took longer than a poll's interval). */
function status() {
  return openCache().then(function (cache) { return cache.keys(); }).then(function (requests) {
    var kept = {};
    requests.forEach(function (r) { kept[r.url] = true; });
    var groups = {};
    MANIFEST.files.forEach(function (f) {
      var g = groups[f.group] || (groups[f.group] = { cached: 0, total: 0, bytes: 0, totalBytes: 0 });
      g.total += 1;
      g.totalBytes += f.size;
      if (kept[keyOf(f)]) { g.cached += 1; g.bytes += f.size; }
    });
    var complete = Object.keys(groups).every(function (k) { return groups[k].cached === groups[k].total; });
    return { build: MANIFEST.build, groups: groups, complete: complete };
  });
}

self.addEventListener("install", function (event) {
  event.waitUntil(
    carryOver()
      .then(function () { return fill(inGroups(["core"]), null, true); })
      .then(function () { return self.skipWaiting(); })
  );
});

/** Copy into this build's cache every file an older cache of this site holds with the same
 * content: a new deploy downloads only what changed. */
function carryOver() {
  return Promise.all([openCache(), caches.keys()]).then(function (both) {
    var cache = both[0];
    var older = both[1].filter(function (n) { return n.indexOf(PREFIX) === 0 && n !== CACHE; });
    return Promise.all(older.map(function (name) {
      return caches.open(name).then(function (old) {
        return Promise.all(MANIFEST.files.map(function (f) {
          return old.match(keyOf(f)).then(function (hit) {
            return hit ? cache.put(keyOf(f), hit) : null;
          });
        }));
      });
    }));
  });
}

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) {
        return n.indexOf(PREFIX) === 0 && n !== CACHE;
      }).map(function (n) { return caches.delete(n); }));
    }).then(function () {
      return self.clients.claim();
    })
  );
});

function cached(f) {
  return openCache().then(function (cache) { return cache.match(keyOf(f)); });
}

function offlinePage() {
  var html = "<!doctype html><meta charset=utf-8><title>Offline</title><p>You are offline, " +
    "and this page is not kept in this browser. <a href=\"" + SCOPE + "\">The course's home " +
    "page</a> lists what is.</p>";
  return new Response(html, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

function navigate(event) {
  var url = event.request.url.split("#")[0].split("?")[0];
  var f = byUrl[url] || byUrl[url + "/"] || byUrl[url.replace(/index\.html$/, "")];
  // no-cache: never an old page from the HTTP cache (a heuristic freshness can last minutes)
  var request = fetch(url, { cache: "no-cache", credentials: "same-origin" });
  var fromNetwork = request.then(function (response) {
    if (f && response.ok) { // a page opened: kept for offline use (if it is this build's)
      event.waitUntil(openCache().then(function (cache) {
        return cache.match(keyOf(f)).then(function (hit) {
          return hit ? null : keep(cache, f, response.clone()).catch(function () { return null; });
        });
      }));
    }
    return response;
  });
  if (!f) return fromNetwork.catch(offlinePage);
  return new Promise(function (resolve) {
    var settled = false;
    function done(response) {
      if (!settled && response) { settled = true; resolve(response); }
    }
    fromNetwork.then(done, function () {
      cached(f).then(function (hit) { done(hit || offlinePage()); });
    });
    setTimeout(function () { cached(f).then(done); }, NETWORK_TIMEOUT_MS);
  });
}

function fromCacheFirst(event, f) {
  return openCache().then(function (cache) {
    return cache.match(keyOf(f)).then(function (hit) {
      if (hit) return hit;
      return fetch(event.request).then(function (response) {
        if (response.ok && response.status === 200 && response.type === "basic") {
          event.waitUntil(keep(cache, f, response.clone()).catch(function () { return null; }));
        }
        return response;
      });
    });
  });
}

/** A page of the site (the home page's URL is "" or "index.html", the others end in "/"). */
function isPage(f) {
  return f.url === "" || f.url === "index.html" || /\/$/.test(f.url) || f.url === "404.html";
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = request.url.split("#")[0];
  if (url.indexOf(SCOPE) !== 0) return;
  var f = byUrl[url];
  // A page: network first, whether the browser navigates to it or navigation.js fetches it
  // to swap it in (Material's instant navigation).
  if (request.mode === "navigate" || (f && isPage(f))) {
    event.respondWith(navigate(event));
    return;
  }
  if (!f || request.headers.has("range")) return; // not this build's: the network, as usual
  event.respondWith(fromCacheFirst(event, f));
});

self.addEventListener("message", function (event) {
  var msg = event.data || {};
  var port = event.ports && event.ports[0];
  function reply(m) { if (port) port.postMessage(m); }
  if (msg.type === "status") {
    event.waitUntil(status().then(function (s) { reply({ type: "status", status: s }); }));
  } else if (msg.type === "cache") {
    var files = inGroups(msg.groups || []);
    event.waitUntil(fill(files, function (p) {
      reply({ type: "progress", progress: p });
    }, false).then(function (report) {
      reply({ type: "done", report: report });
    }, function (err) {
      reply({ type: "done", report: { failed: [String(err)] } });
    }));
  }
});
