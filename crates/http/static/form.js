// Renkei — the entry and registration forms; every form works without this file.
// 1. Sheet tabs (評価・検査値 / FIM / バーセル) only show and hide the sheets of the one
//    form: nothing typed is lost (without JavaScript the tabs send the form back to the
//    server, which shows it again with every value kept).
// 2. Leaving a form with unsaved input asks first (only after something was typed).
// 3. A prefilled value (前回値) loses its mark once it is changed.
(function () {
  "use strict";
  var form = document.querySelector("form[data-unsaved-warning]");
  if (!form) { return; }
  var dirty = false;
  var submitting = false;

  function showSheet(key) {
    var sheets = document.querySelectorAll(".sheet[data-sheet]");
    Array.prototype.forEach.call(sheets, function (s) {
      s.hidden = s.getAttribute("data-sheet") !== key;
    });
    var tabs = document.querySelectorAll("button.sheet-tab");
    Array.prototype.forEach.call(tabs, function (t) {
      if (t.getAttribute("data-sheet") === key) {
        t.setAttribute("aria-current", "true");
      } else {
        t.removeAttribute("aria-current");
      }
    });
    var current = form.querySelector('input[type="hidden"][name="sheet"]');
    if (current) { current.value = key; }
  }

  document.addEventListener("click", function (e) {
    var tab = e.target && e.target.closest ? e.target.closest("button.sheet-tab") : null;
    if (tab) {
      e.preventDefault();
      showSheet(tab.getAttribute("data-sheet"));
      tab.focus();
      return;
    }
    // A link of the error summary opens the sheet that holds the field.
    var link = e.target && e.target.closest ? e.target.closest("#error-summary a[href^='#']") : null;
    if (link) {
      var target = document.getElementById(link.getAttribute("href").slice(1));
      var sheet = target && target.closest ? target.closest(".sheet[data-sheet]") : null;
      if (sheet && sheet.hidden) { showSheet(sheet.getAttribute("data-sheet")); }
    }
  });

  function typed(e) {
    var t = e.target;
    if (!t || !t.form || t.form !== form || t.type === "hidden") { return; }
    dirty = true;
    var mark = t.closest ? t.closest(".prefilled") : null;
    if (mark) {
      mark.classList.remove("prefilled");
      var badge = mark.querySelector(".prefill-mark");
      if (badge) { badge.parentNode.removeChild(badge); }
    }
  }
  form.addEventListener("input", typed);
  form.addEventListener("change", typed);
  form.addEventListener("submit", function () { submitting = true; });
  window.addEventListener("beforeunload", function (e) {
    if (!dirty || submitting) { return; }
    e.preventDefault();
    e.returnValue = "";
    return "";
  });
})();
