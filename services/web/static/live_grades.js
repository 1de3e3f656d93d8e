// The assignments page: an attempt's row shows its grade the moment the grading worker
// stores it (server-sent events from /api/me/notifications/stream), without a reload.
(function () {
  "use strict";
  const script = document.currentScript;
  if (!script) return;

  function round(value) {
    return Math.round(Number(value) * 100) / 100;
  }

  function showGrade(payload) {
    const row = document.querySelector(
      `tr.attempt[data-submission-id="${Number(payload.submission_id)}"]`
    );
    if (!row) return;
    row.querySelector(".attempt-status").textContent = "graded";
    const score = row.querySelector(".attempt-score");
    score.textContent = `${round(payload.final_score)} / ${round(payload.max_score)} · `;
    const link = document.createElement("a");
    link.href = row.dataset.feedback;
    link.textContent = "feedback";
    score.appendChild(link);
    row.classList.add("table-success");
    row.dataset.graded = "true";
  }

  function heard(event) {
    if (event.kind === "submission_graded") showGrade(event.payload);
  }

  if (document.getElementById("notification_bell")) {
    // The bell keeps the page's one notification stream and passes each notification on.
    document.addEventListener("coursehub:notification", (event) => heard(event.detail));
  } else if (window.EventSource) {
    const stream = new EventSource(script.dataset.stream);
    stream.addEventListener("notification", (message) => heard(JSON.parse(message.data)));
  }
})();
