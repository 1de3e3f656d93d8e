// Runs inside the sandboxed lesson frame (an origin of its own): tells the course player how
// tall the lesson is and when Voilà shows it, so the player can size the frame to the lesson
// (one scroll bar) and know when the end of the lesson is really on screen; and which kernel
// the page runs on, so the player can stop it when the student leaves (Voilà's own
// "beforeunload" call reads document.cookie, which a sandboxed page may not).
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

  function report() {
    var height = Math.ceil(document.documentElement.scrollHeight);
    var message = { coursehub: "lesson-frame", height: height, shown: shown(), kernelId: kernelId };
    var key = height + ":" + message.shown;
    if (key !== reported) {
      reported = key;
      window.parent.postMessage(message, "*");
    }
  }

  if (window.ResizeObserver) {
    new ResizeObserver(report).observe(document.documentElement);
  }
  window.addEventListener("load", report);
  setInterval(report, 500);
  report();
})();
