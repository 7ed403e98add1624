// Enhancement only: every page works without this file. With an error summary on the page,
// move the focus to it so keyboard and screen-reader users hear what to fix first.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector("[data-errors]");
  if (summary) {
    summary.focus();
  }
  document.documentElement.setAttribute("data-js", "on");
  dropZones();
});

// Each kind's upload form is a drop zone: files dropped on it go into its own plain file
// input, and the form is sent as if they had been chosen and "上传" pressed. Without this
// script (or without DataTransfer) the input and the button do the same.
function dropZones() {
  if (typeof DataTransfer === "undefined") {
    return;
  }
  var zones = document.querySelectorAll("form[data-dropzone]");
  Array.prototype.forEach.call(zones, function (form) {
    var input = form.querySelector("input[type=file]");
    if (!input) {
      return;
    }
    var depth = 0;
    form.addEventListener("dragenter", function (e) {
      e.preventDefault();
      depth += 1;
      form.classList.add("dragging");
    });
    form.addEventListener("dragover", function (e) {
      e.preventDefault();
    });
    form.addEventListener("dragleave", function () {
      // Leaving a child element also fires: only the zone's own edge ends the highlight.
      depth = Math.max(0, depth - 1);
      if (depth === 0) {
        form.classList.remove("dragging");
      }
    });
    form.addEventListener("drop", function (e) {
      e.preventDefault();
      depth = 0;
      form.classList.remove("dragging");
      if (!e.dataTransfer || !e.dataTransfer.files || e.dataTransfer.files.length === 0 || form.hasAttribute("data-busy")) {
        return;
      }
      input.files = e.dataTransfer.files;
      // Once only: a second drop while the first is sent would upload twice.
      form.setAttribute("data-busy", "");
      if (form.requestSubmit) {
        form.requestSubmit();
      } else {
        form.submit();
      }
    });
    form.setAttribute("data-drop-ready", "");
  });
}
