// The assignments page: an attempt's row shows its grade the moment the grading worker
// stores it (server-sent events from /api/me/notifications/stream), without a reload.
(function () {
  "use strict";
  const script = document.currentScript;
  if (!script || !window.EventSource) return;
  const stream = new EventSource(script.dataset.stream);

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

  stream.addEventListener("notification", (message) => {
    const event = JSON.parse(message.data);
    if (event.kind === "submission_graded") showGrade(event.payload);
  });
})();
