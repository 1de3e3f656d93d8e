// CourseHub grading pages: grading runs with a live progress bar, releasing feedback,
// grading answers with a rubric and the comment bank, overrides and flags. Plain script,
// no build step. Students' answers are shown by the server (sanitised, outputs in script-less
// sandboxed iframes); nothing here puts their text into the page as HTML.
(function () {
  "use strict";

  const root = document.querySelector("[data-grading]");
  if (!root) { return; }
  const xsrf = root.dataset.xsrf;
  const POLL_MS = 1000;

  const callJSON = window.CourseHub.api.jsonCaller(xsrf); // api.js

  function say(node, message, isError) {
    if (!node) { return; }
    node.textContent = message;
    node.classList.toggle("text-danger", Boolean(isError));
    node.classList.toggle("text-success", !isError);
  }

  // -- grading runs and their progress ---------------------------------------------------------
  function showProgress(box, run) {
    const bar = box.querySelector("[data-run-done]");
    const failedBar = box.querySelector("[data-run-failed]");
    const label = box.querySelector("[data-run-label]");
    const total = Math.max(run.total, 1);
    box.hidden = false;
    bar.style.width = (100 * run.done / total) + "%";
    failedBar.style.width = (100 * run.failed / total) + "%";
    box.querySelector(".progress").setAttribute("aria-valuenow", String(run.done + run.failed));
    box.querySelector(".progress").setAttribute("aria-valuemax", String(run.total));
    box.dataset.finished = run.finished ? "true" : "false";
    let text = (run.kind === "REGRADE" ? "Regrade" : "Autograde") + ": " + run.done + " of " +
      run.total + " graded";
    if (run.failed) { text += ", " + run.failed + " failed"; }
    if (run.skipped) { text += " (" + run.skipped + " already being graded)"; }
    text += run.finished ? ". Finished." : "…";
    label.textContent = text;
  }

  async function follow(box, url) {
    for (;;) {
      let run;
      try {
        run = await callJSON("GET", url);
      } catch (error) {
        say(box.querySelector("[data-run-label]"), error.message, true);
        return;
      }
      showProgress(box, run);
      if (run.finished) { return; }
      await new Promise(function (resolve) { setTimeout(resolve, POLL_MS); });
    }
  }

  document.querySelectorAll("[data-run-kind]").forEach(function (button) {
    button.addEventListener("click", async function () {
      const section = button.closest("[data-runs]");
      const box = section.querySelector("[data-run-progress]");
      const reason = section.querySelector("[data-run-reason]");
      const status = section.querySelector("[data-run-status]");
      button.disabled = true;
      say(status, "", false);
      try {
        const run = await callJSON("POST", section.dataset.runs, {
          kind: button.dataset.runKind,
          reason: reason ? reason.value : "",
        });
        showProgress(box, run);
        await follow(box, section.dataset.runUrl.replace("RUN_ID", run.id));
      } catch (error) {
        say(status, error.message, true);
      } finally {
        button.disabled = false;
      }
    });
  });

  document.querySelectorAll("[data-release]").forEach(function (button) {
    button.addEventListener("click", async function () {
      const status = button.parentElement.querySelector("[data-release-status]");
      button.disabled = true;
      try {
        const answer = await callJSON("POST", button.dataset.release);
        say(status, "Feedback released; " + answer.notified + " student(s) notified.", false);
      } catch (error) {
        say(status, error.message, true);
      } finally {
        button.disabled = false;
      }
    });
  });

  // -- one question across all students ------------------------------------------------------
  function rubricScore(form) {
    const max = Number(form.dataset.maxPoints);
    let sum = 0;
    let ticked = 0;
    form.querySelectorAll("input[data-rubric-item]:checked").forEach(function (box) {
      sum += Number(box.dataset.points);
      ticked += 1;
    });
    return ticked ? Math.min(Math.max(sum, 0), max) : null;
  }

  function showRubricScore(form) {
    const input = form.querySelector("input[name=score]");
    const fromRubric = rubricScore(form);
    input.placeholder = fromRubric === null ? "not scored" : String(fromRubric) + " (rubric)";
  }

  document.querySelectorAll("form[data-answer]").forEach(function (form) {
    const status = form.querySelector("[data-answer-status]");
    const comment = form.querySelector("textarea[name=comment]");
    showRubricScore(form);
    form.querySelectorAll("input[data-rubric-item]").forEach(function (box) {
      box.addEventListener("change", function () { showRubricScore(form); });
    });
    const insert = form.querySelector("[data-insert-comment]");
    if (insert) {
      insert.addEventListener("click", function () {
        const chosen = form.querySelector("select[data-comment-bank]").value;
        if (!chosen) { return; }
        comment.value = comment.value.trim() ? comment.value.trimEnd() + "\n\n" + chosen : chosen;
      });
    }
    const bank = form.querySelector("[data-save-to-bank]");
    if (bank) {
      bank.addEventListener("click", async function () {
        try {
          await callJSON("POST", root.dataset.commentBank, { text: comment.value });
          say(status, "Saved to the comment bank; reload to use it in other answers.", false);
        } catch (error) {
          say(status, error.message, true);
        }
      });
    }
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const typed = form.querySelector("input[name=score]").value.trim();
      const items = Array.from(form.querySelectorAll("input[data-rubric-item]:checked"))
        .map(function (box) { return Number(box.value); });
      try {
        const attempt = await callJSON("PUT", form.dataset.answer, {
          score: typed === "" ? null : Number(typed),
          rubric_item_ids: items,
          comment: comment.value,
        });
        const grade = attempt.submission.grade;
        const cell = attempt.cells.find(function (c) { return c.grade_id === form.dataset.gradeId; });
        const score = cell && cell.manual ? cell.manual.score : null;
        say(status, "Saved: " + (score === null ? "not scored" : score + " / " + form.dataset.maxPoints) +
          (grade ? "; attempt total " + grade.final_score + " / " + grade.max_score : "") + ".", false);
      } catch (error) {
        say(status, error.message, true);
      }
    });
  });

  // -- rubric items --------------------------------------------------------------------------
  const rubricForm = document.querySelector("form[data-rubric-add]");
  if (rubricForm) {
    rubricForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      try {
        await callJSON("POST", rubricForm.dataset.rubricAdd, {
          grade_id: rubricForm.dataset.gradeId,
          label: rubricForm.querySelector("input[name=label]").value,
          points: Number(rubricForm.querySelector("input[name=points]").value),
        });
        window.location.reload();
      } catch (error) {
        say(rubricForm.querySelector("[data-rubric-status]"), error.message, true);
      }
    });
  }
  document.querySelectorAll("[data-rubric-item-url]").forEach(function (row) {
    const status = row.querySelector("[data-rubric-status]");
    row.querySelector("[data-rubric-save]").addEventListener("click", async function () {
      try {
        const item = await callJSON("PATCH", row.dataset.rubricItemUrl, {
          label: row.querySelector("input[name=label]").value,
          points: Number(row.querySelector("input[name=points]").value),
        });
        say(status, "Saved; " + item.rescored + " answer(s) rescored.", false);
      } catch (error) {
        say(status, error.message, true);
      }
    });
    row.querySelector("[data-rubric-delete]").addEventListener("click", async function () {
      if (!window.confirm("Delete this rubric item? Answers with it ticked are rescored.")) { return; }
      try {
        await callJSON("DELETE", row.dataset.rubricItemUrl);
        window.location.reload();
      } catch (error) {
        say(status, error.message, true);
      }
    });
  });

  // -- one attempt: override and flags -------------------------------------------------------
  const override = document.querySelector("form[data-override]");
  if (override) {
    const status = override.querySelector("[data-override-status]");
    override.addEventListener("submit", async function (event) {
      event.preventDefault();
      const remove = event.submitter && event.submitter.dataset.removeOverride !== undefined;
      const reason = override.querySelector("input[name=reason]").value;
      try {
        if (remove) {
          await callJSON("DELETE", override.dataset.override, { reason: reason });
        } else {
          await callJSON("PUT", override.dataset.override, {
            score: Number(override.querySelector("input[name=score]").value),
            reason: reason,
          });
        }
        window.location.reload();
      } catch (error) {
        say(status, error.message, true);
      }
    });
  }
  const flags = document.querySelector("[data-flags-reviewed]");
  if (flags) {
    flags.addEventListener("click", async function () {
      try {
        await callJSON("POST", flags.dataset.flagsReviewed, {});
        window.location.reload();
      } catch (error) {
        say(document.querySelector("[data-flags-status]"), error.message, true);
      }
    });
  }

  // -- local times -----------------------------------------------------------------------------
  document.querySelectorAll("time[data-local-time]").forEach(function (node) {
    const moment = new Date(node.getAttribute("datetime"));
    if (!isNaN(moment)) {
      node.textContent = window.CourseHub.formatTime(moment); // api.js: the reader's zone
      node.title = node.getAttribute("datetime");
    }
  });
})();
