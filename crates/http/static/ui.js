// Renkei — progressive enhancement only; every page works without this file.
// 1. Enter never submits while an input method (IME) is composing (ui.md §3 C4).
// 2. A form marked data-once is sent once (a double click sends nothing more; the
//    server's idempotency key covers the case without JavaScript).
// 3. FIM / Barthel totals follow the radios as you type (the server computes them again).
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var composing = false;
  document.addEventListener("compositionstart", function () { composing = true; }, true);
  document.addEventListener("compositionend", function () {
    // The Enter that ends a composition comes before compositionend in some browsers.
    setTimeout(function () { composing = false; }, 0);
  }, true);
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" && e.keyCode !== 13 && e.keyCode !== 229) { return; }
    var t = e.target;
    if (!t || t.tagName !== "INPUT") { return; }
    if (e.isComposing || composing || e.keyCode === 229) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (composing) { e.preventDefault(); return; }
    if (f.hasAttribute("data-once")) {
      if (f.getAttribute("data-sent") === "1") { e.preventDefault(); return; }
      f.setAttribute("data-sent", "1");
    }
  }, true);

  function totals() {
    var outs = document.querySelectorAll("output[data-sum]");
    Array.prototype.forEach.call(outs, function (o) {
      var names = o.getAttribute("data-sum").split(" ");
      var sum = 0, all = true;
      names.forEach(function (n) {
        var c = document.querySelector('input[name="' + n + '"]:checked');
        if (!c || c.value === "") { all = false; return; }
        sum += parseInt(c.value, 10);
      });
      o.textContent = all ? String(sum) : "—";
    });
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.type === "radio") { totals(); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    totals();
    var s = document.getElementById("error-summary");
    if (s) { s.focus(); }
  });
})();
