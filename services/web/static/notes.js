// "My notes": edit and delete notes in place, through the notes API (XSRF token from the page).
(function () {
  "use strict";
  var root = document.getElementById("my_notes");
  if (!root) return;
  var xsrf = root.getAttribute("data-xsrf");
  var api = root.getAttribute("data-api");

  function request(url, method, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-XSRFToken": xsrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      if (response.status === 204) return { ok: true, body: {} };
      return response.json().then(function (json) { return { ok: response.ok, body: json }; });
    });
  }

  root.querySelectorAll(".note-item").forEach(function (item) {
    var id = item.getAttribute("data-note-id");
    var editor = item.querySelector(".note-editor");
    var html = item.querySelector(".note-html");
    var edit = item.querySelector(".note-edit");
    edit.addEventListener("click", function () {
      if (editor.classList.contains("d-none")) {
        editor.classList.remove("d-none");
        edit.textContent = "Save";
        editor.focus();
        return;
      }
      request(api + "/" + id, "PATCH", { body: editor.value }).then(function (result) {
        if (!result.ok) { window.alert(result.body.error || "The note was not saved."); return; }
        html.innerHTML = result.body.html; // sanitised by the server
        editor.classList.add("d-none");
        edit.textContent = "Edit";
      });
    });
    item.querySelector(".note-delete").addEventListener("click", function () {
      request(api + "/" + id, "DELETE").then(function (result) {
        if (result.ok) item.remove();
      });
    });
  });
})();
