// Runs inside the sandboxed lesson frame (an origin of its own): tells the course player how
// tall the lesson is and when Voilà shows it, so the player can size the frame to the lesson
// (one scroll bar) and know when the end of the lesson is really on screen; and which kernel
// the page runs on, so the player can stop it when the student leaves (Voilà's own
// "beforeunload" call reads document.cookie, which a sandboxed page may not).
//
// The height is the bottom of the lesson's own content, never the document's scroll height:
// that one is at least the frame's height, and parts of Voilà's page are sized from the
// viewport (its spinner is 75vh), so reporting it made the frame follow itself down to the
// player's minimum, a few pixels at a time. Measured from the content, the height does not
// depend on the frame's, so setting it cannot change it again.
(function () {
  "use strict";
  var reported = "";
  var kernelId = "";
  try {
    kernelId = JSON.parse(document.getElementById("jupyter-config-data").textContent).kernelId || "";
  } catch (error) {
    kernelId = "";
  }

  function shown() {
    var cells = document.getElementById("rendered_cells");
    return !!cells && window.getComputedStyle(cells).display !== "none";
  }

  function bottomOf(element) {
    var bottom = element.getBoundingClientRect().bottom;
    for (var i = 0; i < element.children.length; i++) {
      var child = element.children[i];
      if (window.getComputedStyle(child).display === "none") continue;
      var margin = parseFloat(window.getComputedStyle(child).marginBottom) || 0;
      bottom = Math.max(bottom, child.getBoundingClientRect().bottom + margin);
    }
    return bottom;
  }

  function contentHeight() {
    var root = shown() ? document.getElementById("rendered_cells") : document.getElementById("loading");
    if (!root) root = document.body;
    var padding = parseFloat(window.getComputedStyle(document.body).paddingBottom) || 0;
    return Math.ceil(bottomOf(root) + window.scrollY + padding);
  }

  // Voila replaces a cell that raised with this sentence (students never get tracebacks).
  var CELL_FAILED = "There was an error when executing cell";

  function failed() {
    var cells = document.getElementById("rendered_cells");
    return shown() && !!cells && cells.textContent.indexOf(CELL_FAILED) !== -1;
  }

  function report() {
    var height = contentHeight();
    var message = {
      coursehub: "lesson-frame", height: height, shown: shown(), failed: failed(), kernelId: kernelId,
    };
    var key = height + ":" + message.shown + ":" + message.failed;
    if (key !== reported) {
      reported = key;
      window.parent.postMessage(message, "*");
    }
  }

  if (window.ResizeObserver) {
    var watched = new ResizeObserver(report);
    watched.observe(document.body);
    var cells = document.getElementById("rendered_cells");
    if (cells) watched.observe(cells);
  }
  window.addEventListener("load", report);
  setInterval(report, 500);
  report();
})();
