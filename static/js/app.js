// Small page behaviours, in a file rather than inline so the Content-Security-Policy can forbid
// every inline script.
"use strict";

// The patient page: open the schedule at this month rather than at course 1, years ago.
(function () {
  const timeline = document.getElementById("timeline");
  const current = timeline && timeline.querySelector(".is-current");
  if (current) {
    timeline.scrollTop = current.offsetTop - timeline.offsetTop;
  }
})();

// A form marked data-submit-once: a second click while the first submit is on its way does
// nothing. The server also stores a submission once, by its key, if a resubmission gets through.
document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
  });
});

// A table wider than a phone scrolls inside its .table-responsive box; a box that does so is
// made focusable, so it can be scrolled with the arrow keys, and named for screen readers.
document.querySelectorAll(".table-responsive").forEach(function (box) {
  if (box.scrollWidth > box.clientWidth && !box.hasAttribute("tabindex")) {
    box.tabIndex = 0;
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", "Table (scrolls sideways)");
  }
});
