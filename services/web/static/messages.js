// Messages: send, start conversations, and live updates. A new message arrives as a
// "direct_message" notification (from the bell's stream, /api/me/notifications/stream); the
// open conversation then fetches what it has not shown (which marks it read, and the
// notifications of it: the bell hears which, as a "coursehub:notifications-read" event) and
// the list refreshes its unread counts. Message HTML comes sanitised from the server;
// everything else is set as text.
(function () {
  "use strict";
  const root = document.getElementById("messages");
  if (!root) return;
  const api = root.dataset.api;
  const xsrf = root.dataset.xsrf;
  const openId = Number(root.dataset.conversation) || null;
  const thread = document.getElementById("message_list");

  function request(url, method, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-XSRFToken": xsrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then((response) =>
      response
        .json()
        .catch(() => ({}))
        .then((json) => ({ ok: response.ok, status: response.status, body: json }))
    );
  }

  function localTimes(scope) {
    scope.querySelectorAll("time[data-local-time]").forEach((node) => {
      const moment = new Date(node.getAttribute("datetime"));
      if (!isNaN(moment)) node.textContent = window.CourseHub.formatTime(moment);
    });
  }

  // -- the conversation list -------------------------------------------------------------

  function setTotal(total) {
    const badge = document.getElementById("unread_total");
    badge.textContent = String(total);
    badge.classList.toggle("text-bg-danger", total > 0);
    badge.classList.toggle("text-bg-secondary", total === 0);
  }

  function listItem(item) {
    const active = item.id === openId;
    const li = document.createElement("li");
    li.className = "list-group-item conversation-item position-relative";
    li.classList.toggle("active", active);
    li.dataset.conversationId = String(item.id);
    const top = document.createElement("div");
    top.className = "d-flex justify-content-between gap-2";
    const link = document.createElement("a");
    link.className = "stretched-link conversation-link fw-semibold";
    link.classList.add(active ? "link-light" : "link-body-emphasis");
    link.href = item.url;
    link.textContent = item.other.name;
    const count = document.createElement("span");
    count.className = "badge rounded-pill text-bg-danger unread-count";
    count.setAttribute("aria-label", "unread messages");
    count.textContent = String(item.unread);
    count.hidden = item.unread === 0;
    top.append(link, count);
    const preview = document.createElement("div");
    preview.className = "small text-truncate conversation-preview";
    preview.textContent = item.preview;
    li.append(top, preview);
    return li;
  }

  function refreshList() {
    return request(api + "/conversations", "GET").then((result) => {
      if (!result.ok) return;
      const list = document.getElementById("conversation_list");
      const items = result.body.conversations.map(listItem);
      if (items.length) list.replaceChildren(...items);
      setTotal(result.body.unread_total);
    });
  }

  // -- the open conversation -------------------------------------------------------------

  function lastShownId() {
    const shown = thread.querySelectorAll("li.message");
    return shown.length ? Number(shown[shown.length - 1].dataset.messageId) : 0;
  }

  function appendMessage(message) {
    if (thread.querySelector(`li.message[data-message-id="${Number(message.id)}"]`)) return;
    const empty = document.getElementById("no_messages");
    if (empty) empty.remove();
    const li = document.createElement("li");
    li.className = "message card " + (message.mine ? "mine ms-5 border-primary-subtle" : "me-5");
    li.dataset.messageId = String(message.id);
    const body = document.createElement("div");
    body.className = "card-body py-2";
    const meta = document.createElement("div");
    meta.className = "small text-body-secondary mb-1";
    const author = document.createElement("span");
    author.className = "message-author";
    author.textContent = message.mine ? "You" : thread.dataset.otherName;
    const time = document.createElement("time");
    time.setAttribute("datetime", message.created_at);
    time.dataset.localTime = "";
    meta.append(author, " · ", time);
    const html = document.createElement("div");
    html.className = "message-html";
    html.innerHTML = message.html; // sanitised by the server (nh3)
    body.append(meta, html);
    li.append(body);
    thread.append(li);
    localTimes(li);
    li.scrollIntoView({ block: "end" });
  }

  function fetchNew() {
    const url = `${api}/conversations/${openId}?after=${lastShownId()}`;
    return request(url, "GET").then((result) => {
      if (!result.ok) return;
      result.body.messages.forEach(appendMessage);
      const ids = result.body.notifications_read || [];
      if (ids.length) {
        document.dispatchEvent(new CustomEvent("coursehub:notifications-read", { detail: { ids } }));
      }
    });
  }

  function sendForm(form, textarea, errorBox, url, payload, done) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      errorBox.textContent = "";
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      request(url, "POST", { ...payload(), body: textarea.value })
        .then((result) => {
          if (!result.ok) {
            errorBox.textContent = result.body.error || "The message was not sent; try again.";
            return;
          }
          textarea.value = "";
          done(result.body);
        })
        .finally(() => {
          button.disabled = false;
        });
    });
  }

  const reply = document.getElementById("reply_form");
  if (reply && openId) {
    sendForm(
      reply,
      document.getElementById("reply_body"),
      document.getElementById("reply_error"),
      `${api}/conversations/${openId}/messages`,
      () => ({}),
      (message) => {
        appendMessage(message);
        refreshList();
      }
    );
  }

  const start = document.getElementById("new_message_form");
  if (start) {
    const recipient = document.getElementById("recipient");
    sendForm(
      start,
      document.getElementById("new_body"),
      document.getElementById("new_error"),
      `${api}/conversations`,
      () => ({ account_id: Number(recipient.value) }),
      (made) => {
        window.location.assign(made.url);
      }
    );
  }

  // -- course setting (staff) ------------------------------------------------------------

  document.querySelectorAll("input.students-may-message").forEach((box) => {
    box.addEventListener("change", () => {
      const errorBox = document.getElementById("setting_error");
      errorBox.textContent = "";
      request(`${api}/courses/${box.dataset.slug}`, "PATCH", {
        students_may_message: box.checked,
      }).then((result) => {
        if (!result.ok) {
          box.checked = !box.checked;
          errorBox.textContent = result.body.error || "The setting was not saved; try again.";
        }
      });
    });
  });

  // -- live ------------------------------------------------------------------------------

  function hear(notification) {
    if (!notification || notification.kind !== "direct_message") return;
    const here = openId && Number(notification.payload.conversation_id) === openId;
    (here ? fetchNew() : Promise.resolve()).then(refreshList);
  }

  function catchUp() {
    (openId ? fetchNew() : Promise.resolve()).then(refreshList);
  }

  localTimes(root);
  if (thread && thread.lastElementChild) thread.lastElementChild.scrollIntoView({ block: "end" });
  const bell = document.getElementById("notification_bell");
  if (bell) {
    // The bell keeps the page's one notification stream and passes each one on.
    document.addEventListener("coursehub:notification", (event) => hear(event.detail));
    // What arrived between this page's rendering and the bell's stream opening.
    if (bell.dataset.ready) catchUp();
    else {
      const watcher = new MutationObserver(() => {
        if (!bell.dataset.ready) return;
        watcher.disconnect();
        catchUp();
      });
      watcher.observe(bell, { attributes: true, attributeFilter: ["data-ready"] });
    }
  } else if (window.EventSource) {
    // An EventSource cannot send headers: the XSRF token goes as the _xsrf argument.
    const stream = new EventSource(`${root.dataset.stream}&_xsrf=${encodeURIComponent(xsrf)}`);
    stream.addEventListener("notification", (message) => hear(JSON.parse(message.data)));
  }
})();
