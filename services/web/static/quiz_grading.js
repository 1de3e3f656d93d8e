// The quiz grading page: saving a score and comment for one answer at a time.
(function () {
  "use strict";

  const root = document.getElementById("quiz_grading");
  if (!root) { return; }

  root.querySelectorAll(".grade-form").forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const item = form.closest(".grading-item");
      const status = form.querySelector(".grade-status");
      const url = root.dataset.api + "/attempts/" + item.dataset.attemptId + "/answers/" + item.dataset.position + "/grade";
      status.textContent = "Saving…";
      const response = await fetch(url, {
        method: "PUT",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-XSRFToken": root.dataset.xsrf },
        body: JSON.stringify({
          score: Number(form.querySelector(".grade-score").value),
          comment: form.querySelector(".grade-comment").value,
        }),
      });
      let payload = {};
      try { payload = await response.json(); } catch (ignored) { payload = {}; }
      if (!response.ok) {
        status.textContent = payload.error || "Not saved (" + response.status + "); reload the page and try again.";
        status.classList.add("text-danger");
        return;
      }
      status.classList.remove("text-danger");
      status.textContent = "Saved. The attempt's score is " +
        (payload.attempt_score === null ? "still waiting for other answers." : payload.attempt_score + ".");
      const badge = item.querySelector(".state");
      badge.textContent = "Graded";
      badge.className = "badge state text-bg-success";
    });
  });
})();
