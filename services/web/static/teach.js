// CourseHub teaching pages: ordering by drag and drop or by buttons, markdown previews,
// video uploads, confirmations and local times. Plain script, no build step.
(function () {
  "use strict";

  const root = document.getElementById("teach");
  const xsrf = root ? root.dataset.xsrf : "";
  const prefix = root ? root.dataset.prefix : "/services/coursehub";

  const callJSON = window.CourseHub.api.jsonCaller(xsrf); // api.js

  // -- local times ----------------------------------------------------------------------------
  document.querySelectorAll("time[data-local-time]").forEach(function (node) {
    const moment = new Date(node.getAttribute("datetime"));
    if (!isNaN(moment)) {
      node.textContent = window.CourseHub.formatTime(moment); // api.js: the reader's zone
      node.title = node.getAttribute("datetime");
    }
  });

  // -- confirmations --------------------------------------------------------------------------
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });

  // -- markdown previews ----------------------------------------------------------------------
  document.querySelectorAll("[data-markdown-preview]").forEach(function (button) {
    button.addEventListener("click", async function () {
      const source = document.getElementById(button.dataset.markdownPreview);
      const target = document.getElementById(button.dataset.markdownPreview + "_preview");
      target.hidden = false;
      try {
        const answer = await callJSON("POST", prefix + "/api/teach/markdown-preview", { markdown: source.value });
        // The server sanitised this HTML (markdown.to_safe_html).
        target.innerHTML = answer.html || "<p><em>Nothing to show yet.</em></p>";
      } catch (error) {
        target.textContent = error.message;
      }
    });
  });

  // -- ordering -------------------------------------------------------------------------------
  const status = document.getElementById("order_status");

  function say(message, isError) {
    if (!status) { return; }
    status.textContent = message;
    status.classList.toggle("text-danger", Boolean(isError));
  }

  function itemsOf(list) {
    return Array.from(list.children).filter(function (node) { return node.dataset && node.dataset.id; });
  }

  function listOf(item) { return item.parentElement; }

  function snapshot(item) { return { list: listOf(item), next: item.nextElementSibling }; }

  function restore(item, place) { place.list.insertBefore(item, place.next); }

  async function saveOrder(list) {
    const body = {};
    body[list.dataset.reorderKey] = itemsOf(list).map(function (node) { return Number(node.dataset.id); });
    await callJSON("PUT", list.dataset.reorderUrl, body);
  }

  function describe(item) {
    const list = listOf(item);
    const position = itemsOf(list).indexOf(item) + 1;
    const where = list.dataset.sortable === "lessons"
      ? " in " + list.closest("[data-id]").dataset.title : "";
    return "Moved " + item.dataset.title + " to position " + position + " of " + itemsOf(list).length + where + ".";
  }

  async function persistMove(item, before) {
    try {
      await saveOrder(listOf(item));
      say(describe(item) + " Saved.");
    } catch (error) {
      restore(item, before);
      say("The order was not saved: " + error.message, true);
    }
  }

  function neighbourList(list, step) {
    // A lesson moved past the first or last place goes to the module before or after.
    if (list.dataset.sortable !== "lessons") { return null; }
    const lists = Array.from(document.querySelectorAll('[data-sortable="lessons"]'));
    return lists[lists.indexOf(list) + step] || null;
  }

  document.querySelectorAll("[data-move]").forEach(function (button) {
    button.addEventListener("click", function () {
      const item = button.closest("[data-id]");
      const list = listOf(item);
      const before = snapshot(item);
      if (button.dataset.move === "up") {
        const previous = item.previousElementSibling;
        if (previous) { list.insertBefore(item, previous); }
        else {
          const target = neighbourList(list, -1);
          if (!target) { say(item.dataset.title + " is first already."); return; }
          target.appendChild(item);
        }
      } else {
        const next = item.nextElementSibling;
        if (next) { list.insertBefore(next, item); }
        else {
          const target = neighbourList(list, 1);
          if (!target) { say(item.dataset.title + " is last already."); return; }
          target.insertBefore(item, target.firstElementChild);
        }
      }
      button.focus();
      persistMove(item, before);
    });
  });

  let dragged = null;
  let draggedFrom = null;

  document.addEventListener("dragstart", function (event) {
    const handle = event.target.closest && event.target.closest(".teach-drag");
    if (!handle) { return; }
    dragged = handle.closest("[data-id]");
    draggedFrom = snapshot(dragged);
    dragged.classList.add("teach-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.title);
  });

  document.addEventListener("dragover", function (event) {
    if (!dragged) { return; }
    const group = listOf(dragged).dataset.sortable;
    const list = event.target.closest && event.target.closest('[data-sortable="' + group + '"]');
    if (!list) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    const after = itemsOf(list).find(function (node) {
      if (node === dragged) { return false; }
      const box = node.getBoundingClientRect();
      return event.clientY < box.top + box.height / 2;
    });
    if (after) {
      if (dragged.nextElementSibling !== after) { list.insertBefore(dragged, after); }
    } else if (list.lastElementChild !== dragged) {
      list.appendChild(dragged);
    }
  });

  document.addEventListener("drop", function (event) {
    if (dragged) { event.preventDefault(); }
  });

  document.addEventListener("dragend", function (event) {
    if (!dragged) { return; }
    const item = dragged;
    const before = draggedFrom;
    dragged = null;
    item.classList.remove("teach-dragging");
    if (event.dataTransfer.dropEffect === "none") {
      restore(item, before);  // dropped outside a list, or Escape pressed
      return;
    }
    if (listOf(item) === before.list && item.nextElementSibling === before.next) { return; }
    persistMove(item, before);
  });

  // -- video uploads --------------------------------------------------------------------------
  document.querySelectorAll("input[data-upload-purpose]").forEach(function (input) {
    const progress = document.getElementById(input.id.replace("_input", "_progress"));
    const note = document.getElementById(input.id.replace("_input", "_status"));
    input.addEventListener("change", function () {
      const file = input.files[0];
      if (!file) { return; }
      const url = prefix + "/api/uploads?purpose=" + encodeURIComponent(input.dataset.uploadPurpose) +
        "&filename=" + encodeURIComponent(file.name);
      const request = new XMLHttpRequest();
      request.open("POST", url);
      request.setRequestHeader("X-XSRFToken", xsrf);
      request.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      progress.hidden = false;
      note.textContent = "Uploading " + file.name + "…";
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) { progress.value = Math.round(100 * event.loaded / event.total); }
      });
      request.addEventListener("load", async function () {
        let answer = {};
        try { answer = JSON.parse(request.responseText); } catch (ignored) { answer = {}; }
        if (request.status !== 201) {
          note.textContent = answer.error || "The upload failed (" + request.status + ").";
          progress.hidden = true;
          return;
        }
        try {
          const body = {};
          body[input.dataset.attachField] = answer.id;
          await callJSON("PATCH", input.dataset.attachUrl, body);
          window.location.assign(window.location.pathname + "?done=lesson-saved");
        } catch (error) {
          note.textContent = error.message;
        }
      });
      request.addEventListener("error", function () {
        note.textContent = "The upload was interrupted. Check your connection and try again.";
        progress.hidden = true;
      });
      request.send(file);
    });
  });
})();
