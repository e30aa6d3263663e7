// Progressive enhancement only: every page works without this script.
// A filter form marked data-autosubmit is submitted when a select changes.
"use strict";
document.documentElement.classList.add("js");
document.addEventListener("change", function (ev) {
  var el = ev.target;
  if (el && el.tagName === "SELECT" && el.form && el.form.hasAttribute("data-autosubmit")) {
    el.form.submit();
  }
});
