// The lesson editor's list of a notebook lesson's data files: read from the JSON API, each
// with a "Remove" button that posts the editor's own form (no build step, no inline script).
(function () {
  "use strict";

  var list = document.getElementById("lesson_files");
  if (!list) return;

  function sizeOf(bytes) {
    if (bytes >= 1e6) return (bytes / 1e6).toFixed(1) + " MB";
    if (bytes >= 1e3) return Math.round(bytes / 1e3) + " kB";
    return bytes + " bytes";
  }

  function item(file) {
    var row = document.createElement("li");
    row.className = "list-group-item d-flex flex-wrap align-items-center gap-2 lesson-file";
    var name = document.createElement("code");
    name.textContent = file.path;
    var size = document.createElement("span");
    size.className = "small text-body-secondary";
    size.textContent = sizeOf(file.size);
    var form = document.createElement("form");
    form.method = "post";
    form.action = list.getAttribute("data-delete") + file.id + "/delete";
    form.className = "ms-auto";
    var xsrf = document.createElement("input");
    xsrf.type = "hidden";
    xsrf.name = "_xsrf";
    xsrf.value = list.getAttribute("data-xsrf");
    var remove = document.createElement("button");
    remove.type = "submit";
    remove.className = "btn btn-sm btn-outline-danger";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", "Remove " + file.path);
    form.appendChild(xsrf);
    form.appendChild(remove);
    row.appendChild(name);
    row.appendChild(size);
    row.appendChild(form);
    return row;
  }

  fetch(list.getAttribute("data-api"), { credentials: "same-origin" })
    .then(function (response) { return response.ok ? response.json() : { files: [] }; })
    .then(function (body) {
      if (!body.files.length) {
        var none = document.createElement("li");
        none.className = "list-group-item small text-body-secondary";
        none.id = "no_lesson_files";
        none.textContent = "No data files yet.";
        list.appendChild(none);
        return;
      }
      body.files.forEach(function (file) { list.appendChild(item(file)); });
    });
})();
