// The quiz builder's "Questions from other LMSs" card: a Moodle XML, GIFT or Canvas QTI file
// is sent for a preview (what would be imported, what is skipped and why), then, confirmed,
// imported all or nothing into the bank and onto the end of this quiz; the page then shows
// the quiz again. Plain script, no build step.
(function () {
  "use strict";

  const root = document.getElementById("question_files");
  if (!root) { return; }
  const $ = function (id) { return document.getElementById(id); };
  const status = $("import_status");
  let previewed = null; // the file and format the shown preview is of

  function say(message, isError) {
    status.textContent = message;
    status.classList.toggle("text-danger", Boolean(isError));
  }

  async function send(path) {
    const body = new FormData();
    body.append("file", $("import_file").files[0]);
    const params = new URLSearchParams({ quiz_id: root.dataset.quiz });
    if ($("import_format").value) { params.set("format", $("import_format").value); }
    const response = await fetch(root.dataset.api + path + "?" + params.toString(), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-XSRFToken": root.dataset.xsrf },
      body: body,
    });
    let payload = {};
    try { payload = await response.json(); } catch (ignored) { payload = {}; }
    if (!response.ok) {
      throw new Error(payload.error || "The server answered " + response.status + ".");
    }
    return payload;
  }

  function item(parts) {
    const li = document.createElement("li");
    li.className = "list-group-item";
    parts.forEach(function (part) {
      const node = document.createElement(part[0]);
      node.textContent = part[1];
      if (part[2]) { node.className = part[2]; }
      li.appendChild(node);
      li.appendChild(document.createTextNode(" "));
    });
    return li;
  }

  function showPreview(preview) {
    const list = $("import_questions");
    const skipped = $("import_skipped");
    list.replaceChildren();
    skipped.replaceChildren();
    preview.questions.forEach(function (question) {
      const li = item([
        ["strong", question.title],
        ["span", "(" + question.kind.replace("_", " ").toLowerCase() + ", " + question.points + " points)", "text-body-secondary"],
        ["span", question.source, "small text-body-secondary"],
      ]);
      question.notes.forEach(function (note) {
        const p = document.createElement("div");
        p.className = "small text-warning-emphasis";
        p.textContent = note;
        li.appendChild(p);
      });
      list.appendChild(li);
    });
    preview.skipped.forEach(function (skip) {
      skipped.appendChild(item([["strong", skip.source + ":"], ["span", skip.reason]]));
    });
    $("import_skipped_part").classList.toggle("d-none", preview.skipped.length === 0);
    $("import_confirm").disabled = preview.questions.length === 0;
    $("import_confirm").textContent = "Import " + preview.questions.length + " question" +
      (preview.questions.length === 1 ? "" : "s");
    $("import_result").classList.remove("d-none");
    say(preview.format_label + ": " + preview.questions.length + " understood, " +
      preview.skipped.length + " skipped.", false);
  }

  $("import_form").addEventListener("submit", async function (event) {
    event.preventDefault();
    say("Reading the file…", false);
    $("import_result").classList.add("d-none");
    try {
      showPreview(await send("/import/preview"));
      previewed = [$("import_file").files[0], $("import_format").value];
    } catch (error) {
      say(error.message, true);
    }
  });

  $("import_confirm").addEventListener("click", async function () {
    if (!previewed || previewed[0] !== $("import_file").files[0] || previewed[1] !== $("import_format").value) {
      say("The file changed since the preview; preview it again.", true);
      return;
    }
    say("Importing…", false);
    $("import_confirm").disabled = true;
    try {
      const done = await send("/import");
      say("Imported " + done.questions.length + " questions.", false);
      window.location.reload();
    } catch (error) {
      say(error.message, true);
      $("import_confirm").disabled = false;
    }
  });
})();
