/* Render math with the KaTeX copy served from this site: pymdownx.arithmatex's generic
 * output (\( \) inline, \[ \] display) in the lessons, and $...$ / $$...$$ in notebooks'
 * Markdown cells. A display formula wider than the page scrolls; it is made focusable so
 * keyboard users can scroll it too. */
(function () {
  "use strict";
  var ARITHMATEX = [
    { left: "\\(", right: "\\)", display: false },
    { left: "\\[", right: "\\]", display: true },
  ];
  var NOTEBOOK = [
    { left: "$$", right: "$$", display: true },
    { left: "$", right: "$", display: false },
  ].concat(ARITHMATEX);
  function render() {
    if (typeof renderMathInElement !== "function") return;
    document.querySelectorAll(".arithmatex").forEach(function (el) {
      renderMathInElement(el, { delimiters: ARITHMATEX, throwOnError: false });
    });
    document.querySelectorAll(".jupyter-wrapper .jp-RenderedMarkdown").forEach(function (el) {
      renderMathInElement(el, { delimiters: NOTEBOOK, throwOnError: false });
    });
    document.querySelectorAll("div.arithmatex, .katex-display").forEach(function (el) {
      if (el.scrollWidth > el.clientWidth && !el.hasAttribute("tabindex")) {
        el.setAttribute("tabindex", "0");
      }
    });
  }
  if (typeof document$ !== "undefined") document$.subscribe(render);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", render);
  else render();
})();
