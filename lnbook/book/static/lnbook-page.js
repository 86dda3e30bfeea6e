// Every page: a wide equation or table that scrolls sideways becomes a tab stop, so a
// keyboard reader can scroll it with the arrow keys (WCAG 2.1.1; axe-core's
// scrollable-region-focusable), and says what it is to a screen reader. And a link to the
// folded "Run this chapter" panel (#run-this-chapter, lnbook/book/launch.py) unfolds it.
"use strict";
(function () {
  function mark() {
    var wide = "div.math, .pst-scrollable-table-container, .table-wrapper";
    document.querySelectorAll(wide).forEach(function (el) {
      if (el.scrollWidth > el.clientWidth + 1 && !el.hasAttribute("tabindex")) {
        el.setAttribute("tabindex", "0");
        el.setAttribute("role", "region");
        el.setAttribute("aria-label", el.matches("div.math") ? "equation, scrolls sideways" : "table, scrolls sideways");
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mark);
  else mark();
  // An equation may overflow only once KaTeX's fonts are in, or after a rotation.
  if (document.fonts) document.fonts.ready.then(mark);
  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(mark, 200);
  });
  function unfold(hash) {
    var id;
    try {
      id = decodeURIComponent(hash.slice(1));
    } catch (e) {
      return; // a malformed hash names no element
    }
    var target = hash && document.getElementById(id);
    if (target && target.matches("details.lnbook-launch")) target.open = true;
  }
  unfold(location.hash);
  // A click, not hashchange: following the link a second time changes no hash.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest('a[href^="#"]');
    if (link) unfold(link.hash);
  });
})();
