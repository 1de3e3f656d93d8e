// The assignments page: a student submits from the page and stays on it. The attempt's row
// appears at once, its status follows the grading (queued, grading, then the score, or the
// sentence saying why grading failed) from the notification stream
// (/api/me/notifications/stream) and by asking the submission API every few seconds while
// it is unsettled; a refusal (past the cut-off, attempts used, not a notebook) shows beside
// the form.
(function () {
  "use strict";
  const script = document.currentScript;
  if (!script) return;
  const POLL_MS = 2000;
  const WORDS = { QUEUED: "queued", GRADING: "grading", GRADED: "graded", FAILED: "grading failed" };
  const polling = new Set();

  function round(value) {
    return Math.round(Number(value) * 100) / 100;
  }

  function rowOf(id) {
    return document.querySelector(`tr.attempt[data-submission-id="${Number(id)}"]`);
  }

  function showScore(row, finalScore, maxScore, extra) {
    row.querySelector(".attempt-status").textContent = "graded";
    const score = row.querySelector(".attempt-score");
    score.textContent = `${round(finalScore)} / ${round(maxScore)}${extra || ""} · `;
    const link = document.createElement("a");
    link.href = row.dataset.feedback;
    link.textContent = "feedback";
    score.appendChild(link);
    row.classList.remove("table-danger");
    row.classList.add("table-success");
    row.dataset.status = "GRADED";
    row.dataset.graded = "true";
  }

  // A submission as the API answers it, shown in its row.
  function showAttempt(row, attempt) {
    row.dataset.status = attempt.status;
    if (attempt.status === "GRADED" && attempt.grade) {
      let extra = attempt.grade.needs_manual ? " (a person grades the rest)" : "";
      if (attempt.grade.message) extra += ` · ${attempt.grade.message}`;
      showScore(row, attempt.grade.final_score, attempt.grade.max_score, extra);
      return;
    }
    let words = WORDS[attempt.status] || String(attempt.status).toLowerCase();
    if (attempt.late_penalty_percent) words += ` (late: −${round(attempt.late_penalty_percent)} %)`;
    if (attempt.status_message) words += `: ${attempt.status_message}`;
    row.querySelector(".attempt-status").textContent = words;
    row.classList.toggle("table-danger", attempt.status === "FAILED");
  }

  function settled(row) {
    return row.dataset.status === "GRADED" || row.dataset.status === "FAILED";
  }

  function poll(row) {
    const id = row.dataset.submissionId;
    if (polling.has(id) || settled(row)) return;
    polling.add(id);
    const ask = async function () {
      try {
        const response = await fetch(row.dataset.url, { credentials: "same-origin" });
        const attempt = response.ok ? await response.json() : null;
        // The stream may have brought the grade while the question was on its way.
        if (attempt && !settled(row)) showAttempt(row, attempt);
      } catch (ignored) {
        // The network blinked: ask again next time.
      }
      if (settled(row)) polling.delete(id);
      else window.setTimeout(ask, POLL_MS);
    };
    window.setTimeout(ask, POLL_MS);
  }

  function newRow(section, attempt) {
    const table = section.querySelector("table.attempts");
    const submissions = section.querySelector("form.submit-form").dataset.submissions;
    const row = document.createElement("tr");
    row.className = "attempt";
    row.dataset.submissionId = attempt.id;
    row.dataset.url = `${submissions}/${attempt.id}`;
    row.dataset.feedback = `${submissions}/${attempt.id}/feedback`;
    const received = new Date(attempt.received_at);
    const cells = [String(attempt.attempt), window.CourseHub.formatTime(received), "", "–"];
    ["attempt-number", "attempt-received", "attempt-status", "attempt-score"].forEach(
      function (name, index) {
        const cell = document.createElement("td");
        cell.className = name;
        cell.textContent = cells[index];
        row.appendChild(cell);
      }
    );
    table.querySelector("tbody").appendChild(row);
    table.hidden = false;
    return row;
  }

  function setUpSubmit(form) {
    const section = form.closest("section.assignment");
    const error = section.querySelector(".submit-error");
    const status = section.querySelector(".submit-status");
    const button = form.querySelector("button[type=submit]");
    const xsrf = form.querySelector("input[name=_xsrf]").value;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      error.hidden = true;
      const file = form.querySelector("input[type=file]").files[0];
      if (!file) {
        error.textContent = "Choose your notebook (.ipynb) first.";
        error.hidden = false;
        return;
      }
      const data = new FormData();
      data.append("notebook", file, file.name);
      button.disabled = true;
      status.textContent = "Sending…";
      try {
        const response = await fetch(form.dataset.submissions, {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-XSRFToken": xsrf },
          body: data,
        });
        let answer = {};
        try { answer = await response.json(); } catch (ignored) { answer = {}; }
        if (!response.ok) {
          throw new Error(answer.error || `The server answered ${response.status}. Try again.`);
        }
        const row = rowOf(answer.id) || newRow(section, answer);
        showAttempt(row, answer);
        status.textContent = answer.created
          ? `Attempt ${answer.attempt} received; its status below changes as it is graded.`
          : `That notebook was just sent as attempt ${answer.attempt}; it was not counted twice.`;
        form.reset();
        poll(row);
      } catch (problem) {
        status.textContent = "";
        error.textContent = problem.message;
        error.hidden = false;
      } finally {
        button.disabled = false;
      }
    });
  }

  function heard(event) {
    if (event.kind !== "submission_graded") return;
    const row = rowOf(event.payload.submission_id);
    if (row) showScore(row, event.payload.final_score, event.payload.max_score);
  }

  document.querySelectorAll("form.submit-form").forEach(setUpSubmit);
  document.querySelectorAll("tr.attempt").forEach(poll);

  if (document.getElementById("notification_bell")) {
    // The bell keeps the page's one notification stream and passes each notification on.
    document.addEventListener("coursehub:notification", (event) => heard(event.detail));
  } else if (window.EventSource) {
    const stream = new EventSource(script.dataset.stream);
    stream.addEventListener("notification", (message) => heard(JSON.parse(message.data)));
  }
})();
