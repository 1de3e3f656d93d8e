// The forum and announcement pages: forms and buttons that call the forums' JSON API with
// the page's XSRF token, then show the result (reload, or go to the new post). Times are
// shown in the reader's own time zone.
(function () {
  "use strict";
  const holder = document.querySelector("[data-xsrf]");
  const xsrf = holder ? holder.dataset.xsrf : "";
  const thread = document.getElementById("forum_thread");

  function localTimes(scope) {
    scope.querySelectorAll("time[data-local-time]").forEach((node) => {
      const moment = new Date(node.getAttribute("datetime"));
      if (Number.isNaN(moment.getTime())) return;
      node.title = node.textContent;
      node.textContent = window.CourseHub.formatTime(moment); // api.js: the reader's zone
    });
  }

  async function call(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-XSRFToken": xsrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
    }
    if (!response.ok) {
      throw new Error(
        (data && data.error) ||
          `CourseHub answered ${response.status}. Reload the page and try again.`
      );
    }
    return data;
  }

  // A thread page sends each post without its buttons (pages of 100 posts are read often);
  // they are made here from the post's data-mine and the thread's data-moderator and
  // data-may-reply. The server checks every action again.
  function postActions() {
    if (!thread) return;
    const moderator = thread.dataset.moderator === "true";
    const mayReply = thread.dataset.mayReply === "true";
    thread.querySelectorAll("article[data-post-id]").forEach((post) => {
      const actions = post.querySelector(".post-actions");
      if (!actions) return; // a stub
      const mine = post.dataset.mine === "true";
      const hidden = post.dataset.state === "hidden";
      const add = (action, label, tone, value) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = `btn btn-link btn-sm p-0${tone ? ` ${tone}` : ""}`;
        button.dataset.action = action;
        if (value !== undefined) button.dataset.value = value;
        button.textContent = label;
        actions.append(button);
      };
      if (mayReply) add("reply", "Reply");
      if (mine) add("edit", "Edit");
      if (mine || moderator) add("delete", "Delete", "text-danger");
      if (!mine) add("report", "Report", "text-body-secondary");
      if (moderator) {
        add("post-hide", hidden ? "Show to students" : "Hide", "text-warning", String(!hidden));
      }
    });
  }

  function showProblem(box, message) {
    const target = box || document.getElementById("forum_problem");
    if (!target) return;
    target.textContent = message;
    target.hidden = false;
  }

  function go(url) {
    const next = new URL(url, window.location.href);
    const here = window.location;
    window.location.assign(next.href);
    if (next.pathname === here.pathname && next.search === here.search) {
      window.location.reload(); // only the #fragment changed: load the new post too
    }
  }

  function formBody(form) {
    const body = {};
    for (const field of form.elements) {
      if (!field.name) continue;
      if (field.type === "checkbox") body[field.name] = field.checked;
      else if (field.name === "parent_id") {
        if (field.value) body.parent_id = Number(field.value);
      } else body[field.name] = field.value;
    }
    return body;
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.forum-form");
    if (!form) return;
    event.preventDefault();
    const problem = form.querySelector(".forum-form-problem");
    if (problem) problem.hidden = true;
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      const data = await call(form.dataset.method || "POST", form.dataset.api, formBody(form));
      if (form.dataset.done) {
        const note = document.createElement("p");
        note.className = "small text-success mb-0 forum-form-done";
        note.textContent = form.dataset.done;
        form.replaceWith(note);
      } else if (data && data.url) go(data.url);
      else window.location.reload();
    } catch (error) {
      showProblem(problem, error.message);
    } finally {
      if (button) button.disabled = false;
    }
  });

  function armed(button) {
    // Destructive buttons ask for a second click instead of a dialog.
    if (button.dataset.armed) return true;
    const label = button.textContent;
    button.dataset.armed = "1";
    button.textContent = "Click again to confirm";
    setTimeout(() => {
      delete button.dataset.armed;
      button.textContent = label;
    }, 4000);
    return false;
  }

  function openForm(post, templateId, prepare) {
    const slot = post.querySelector(".post-slot");
    const form = document.getElementById(templateId).content.firstElementChild.cloneNode(true);
    slot.replaceChildren(form);
    prepare(form);
    const first = form.querySelector("textarea, input:not([type=hidden])");
    if (first) first.focus();
  }

  async function act(button) {
    const action = button.dataset.action;
    const post = button.closest("[data-post-id]");
    const postApi = post && thread ? `${thread.dataset.postsApi}/${post.dataset.postId}` : "";
    const value = button.dataset.value === "true";
    switch (action) {
      case "reply":
        openForm(post, "reply_template", (form) => {
          form.elements.parent_id.value = post.dataset.postId;
        });
        return;
      case "edit": {
        const own = await call("GET", postApi); // the markdown, sent to its author only
        openForm(post, "edit_template", (form) => {
          form.dataset.api = postApi;
          form.elements.body.value = own.body;
        });
        return;
      }
      case "report":
        openForm(post, "report_template", (form) => {
          form.dataset.api = `${postApi}/reports`;
        });
        return;
      case "cancel":
        button.closest("form").remove();
        return;
      case "delete": {
        if (!armed(button)) return;
        const done = await call("DELETE", postApi);
        if (done && done.deleted === "thread") window.location.assign(thread.dataset.forumUrl);
        else window.location.reload();
        return;
      }
      case "post-hide":
        await call("PATCH", postApi, { is_hidden: value });
        break;
      case "thread-flag":
        await call("PATCH", thread.dataset.threadApi, { [button.dataset.field]: value });
        break;
      case "thread-delete":
        if (!armed(button)) return;
        await call("DELETE", thread.dataset.threadApi);
        window.location.assign(thread.dataset.forumUrl);
        return;
      case "resolve":
        await call("POST", button.dataset.url, { action: button.dataset.value });
        break;
      case "announcement-pin":
        await call("PATCH", button.dataset.url, { is_pinned: value });
        break;
      case "announcement-delete":
        if (!armed(button)) return;
        await call("DELETE", button.dataset.url);
        break;
      default:
        return;
    }
    window.location.reload();
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    act(button).catch((error) => showProblem(null, error.message));
  });

  postActions();
  localTimes(document);
})();
