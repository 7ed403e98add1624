// Enhancement only: every page works without this file. With an error summary on the page,
// move the focus to it so keyboard and screen-reader users hear what to fix first.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector("[data-errors]");
  if (summary) {
    summary.focus();
  }
  document.documentElement.setAttribute("data-js", "on");
});
