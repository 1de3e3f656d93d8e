// Instructors' assignment pages: a new assignment from an uploaded nbgrader source notebook
// (on the course's assignments page), and its edit page (settings, release, dates,
// extensions, a corrected source, a regrade). Everything goes through the JSON API; an
// error answer's sentence is shown beside the form that caused it. Plain script, no build.
(function () {
  "use strict";

  // An ISO date-time as the value of a datetime-local input, in the person's time zone
  // (their profile's, else the browser's: api.js).
  function toLocalInput(iso) {
    return window.CourseHub.toZonedInput(iso);
  }

  // A datetime-local input's value (the person's time zone) as ISO 8601 in UTC, or null.
  function fromLocalInput(input) {
    return input ? window.CourseHub.fromZonedInput(input.value) : null;
  }

  // (Shown times are written in local time by api.js for every page.)
  function showLocalTimes() {
    document.querySelectorAll("input[type=datetime-local][data-iso]").forEach(function (input) {
      input.value = toLocalInput(input.dataset.iso);
    });
  }

  function say(node, text) {
    if (!node) return;
    node.textContent = text || "";
    node.hidden = !text;
  }

  // The chosen data files as multipart parts named by their path beside the notebook.
  function addDataFiles(form, data, filesInput, folderInput) {
    const folder = (folderInput.value || "").trim().replace(/^\/+|\/+$/g, "");
    Array.from(filesInput.files || []).forEach(function (file) {
      data.append("files", file, folder ? `${folder}/${file.name}` : file.name);
    });
  }

  async function send(method, url, xsrf, body) {
    const response = await fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "X-XSRFToken": xsrf },
      body: body,
    });
    let payload = {};
    try { payload = await response.json(); } catch (ignored) { payload = {}; }
    if (!response.ok) {
      throw new Error(
        payload.error || `The server answered ${response.status}. Reload the page and try again.`
      );
    }
    return payload;
  }

  function reloadWith(done) {
    const url = new URL(window.location.href);
    url.search = "";
    url.searchParams.set("done", done);
    window.location.assign(url.toString());
  }

  // -- a new assignment ----------------------------------------------------------------------

  function setUpNewAssignment(form) {
    const error = document.getElementById("new_assignment_error");
    const status = document.getElementById("new_assignment_status");
    const button = document.getElementById("new_assignment_submit");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      say(error, "");
      const title = form.elements.title.value.trim();
      const notebook = form.elements.notebook.files[0];
      if (!title) {
        say(error, "Give the assignment a title.");
        form.elements.title.focus();
        return;
      }
      if (!notebook) {
        say(error, "Choose the source notebook (.ipynb) to upload.");
        form.elements.notebook.focus();
        return;
      }
      const data = new FormData();
      data.append("notebook", notebook, notebook.name);
      addDataFiles(form, data, form.elements.files, form.elements.folder);
      button.disabled = true;
      status.textContent = "Checking the notebook with nbgrader's rules…";
      try {
        const url = `${form.dataset.api}?title=${encodeURIComponent(title)}`;
        const made = await send("POST", url, form.dataset.xsrf, data);
        status.textContent = "Created.";
        window.location.assign(`${form.dataset.edit.replace("ID", made.id)}?created=1`);
      } catch (problem) {
        status.textContent = "";
        say(error, problem.message);
        button.disabled = false;
      }
    });
  }

  // -- the edit page -------------------------------------------------------------------------

  function settingsBody(form) {
    const body = {
      title: form.elements.title.value.trim(),
      due_at: fromLocalInput(form.elements.due_at),
      cutoff_at: fromLocalInput(form.elements.cutoff_at),
      late_penalty_unit: form.elements.late_penalty_unit.value,
    };
    const attempts = form.elements.max_attempts.value.trim();
    body.max_attempts = attempts === "" ? null : Number(attempts);
    const penalty = form.elements.late_penalty_percent.value.trim();
    body.late_penalty_percent = penalty === "" ? 0 : Number(penalty);
    const release = form.querySelector("input[name=release]:checked");
    const choice = release ? release.value : "keep";
    if (choice === "draft") body.released_at = null;
    if (choice === "now") {
      // The server's clock decides "now" (a scheduled time is cleared first).
      body.released_at = null;
      body.release = true;
    }
    if (choice === "scheduled") {
      body.released_at = fromLocalInput(form.elements.released_at);
      if (!body.released_at) throw new Error("Choose the time to release it, or release it now.");
    }
    return body;
  }

  function setUpSettings(root, callJSON) {
    const form = document.getElementById("settings_form");
    const error = document.getElementById("settings_error");
    const status = document.getElementById("settings_status");
    form.elements.released_at.addEventListener("input", function () {
      document.getElementById("release_scheduled").checked = true;
    });
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      say(error, "");
      try {
        const body = settingsBody(form);
        status.textContent = "Saving…";
        await callJSON("PATCH", root.dataset.api, body);
        reloadWith("settings");
      } catch (problem) {
        status.textContent = "";
        say(error, problem.message);
      }
    });
  }

  function setUpExtensions(root, callJSON) {
    const form = document.getElementById("extension_form");
    const error = document.getElementById("extension_error");
    if (form) {
      form.addEventListener("submit", async function (event) {
        event.preventDefault();
        say(error, "");
        const student = form.elements.student.value;
        const due = fromLocalInput(form.elements.due_at);
        if (!student) return say(error, "Choose the student who gets the extension.");
        if (!due) return say(error, "Give the student's own due date.");
        try {
          await callJSON("PUT", `${root.dataset.api}/extensions/${encodeURIComponent(student)}`, {
            due_at: due,
            cutoff_at: fromLocalInput(form.elements.cutoff_at),
            reason: form.elements.reason.value,
          });
          reloadWith("extension");
        } catch (problem) {
          say(error, problem.message);
        }
      });
    }
    document.querySelectorAll("button.remove-extension").forEach(function (button) {
      button.addEventListener("click", async function () {
        try {
          await callJSON("DELETE", button.dataset.url);
          reloadWith("removed");
        } catch (problem) {
          say(error, problem.message);
          if (error) error.hidden = false;
        }
      });
    });
  }

  function setUpSource(root) {
    const form = document.getElementById("source_form");
    const error = document.getElementById("source_error");
    const status = document.getElementById("source_status");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      say(error, "");
      const notebook = form.elements.notebook.files[0];
      if (!notebook) return say(error, "Choose the corrected source notebook (.ipynb).");
      const data = new FormData();
      data.append("notebook", notebook, notebook.name);
      addDataFiles(form, data, form.elements.files, form.elements.folder);
      status.textContent = "Checking the notebook with nbgrader's rules…";
      try {
        await send("PUT", `${root.dataset.api}/source`, root.dataset.xsrf, data);
        reloadWith("source");
      } catch (problem) {
        status.textContent = "";
        say(error, problem.message);
      }
    });
  }

  function setUpRegrade(root, callJSON) {
    const button = document.getElementById("regrade_all");
    if (!button) return;
    const status = document.getElementById("regrade_status");
    button.addEventListener("click", async function () {
      button.disabled = true;
      status.textContent = "Queuing…";
      try {
        const reason = document.getElementById("regrade_reason").value;
        const run = await callJSON("POST", root.dataset.runs, { kind: "REGRADE", reason: reason });
        status.textContent =
          `Regrading ${run.total} attempt${run.total === 1 ? "" : "s"}` +
          (run.skipped ? ` (${run.skipped} still being graded were left as they are)` : "") +
          "; the grading queue shows the progress.";
      } catch (problem) {
        status.textContent = problem.message;
        button.disabled = false;
      }
    });
  }

  showLocalTimes();
  const newForm = document.getElementById("new_assignment");
  if (newForm) setUpNewAssignment(newForm);
  const root = document.getElementById("assignment_edit");
  if (root) {
    const callJSON = window.CourseHub.api.jsonCaller(root.dataset.xsrf);
    setUpSettings(root, callJSON);
    setUpExtensions(root, callJSON);
    setUpSource(root);
    setUpRegrade(root, callJSON);
  }
})();
