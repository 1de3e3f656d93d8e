// The course page: the course's latest announcements, and each new one as soon as it is
// posted (the notification stream's "announcement" events for this course, heard through
// the notification bell's stream), no reload.
(function () {
  "use strict";
  const script = document.currentScript;
  const box = document.getElementById("course_announcements");
  if (!script || !box) return;
  const list = box.querySelector(".announcement-items");
  const shown = Number(box.dataset.shown || 5);
  const xsrfInput = box.querySelector("input[name=_xsrf]");
  const xsrf = xsrfInput ? xsrfInput.value : "";

  function item(announcement) {
    const article = document.createElement("article");
    article.className = "border-start border-3 ps-2 mb-3 course-announcement";
    if (announcement.is_pinned) article.classList.add("border-info");
    article.dataset.announcementId = announcement.id;
    const title = document.createElement("h3");
    title.className = "h6 mb-1 announcement-title";
    if (announcement.is_pinned) {
      const badge = document.createElement("span");
      badge.className = "badge text-bg-info me-1";
      badge.textContent = "Pinned";
      title.append(badge);
    }
    title.append(document.createTextNode(announcement.title));
    const meta = document.createElement("p");
    meta.className = "small text-body-secondary mb-1";
    const when = new Date(announcement.created_at);
    const author = announcement.author ? announcement.author.name : "The course staff";
    meta.textContent = `${author} · ${window.CourseHub.formatTime(when)}`;
    const body = document.createElement("div");
    body.className = "small announcement-body";
    body.innerHTML = announcement.html; // sanitised by the server (services/content/markdown.py)
    article.append(title, meta, body);
    return article;
  }

  async function load() {
    // JupyterHub accepts the sign-in cookie on a script's request only with the XSRF token.
    const response = await fetch(box.dataset.api, {
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-XSRFToken": xsrf },
    });
    if (!response.ok) return;
    const data = await response.json();
    const items = data.announcements.slice(0, shown).map(item);
    if (items.length) list.replaceChildren(...items);
    box.dataset.count = String(data.announcements.length);
  }

  function heard(event) {
    const payload = event.payload || {};
    if (event.kind === "announcement" && payload.course_slug === box.dataset.course) load();
  }

  load();
  if (document.getElementById("notification_bell")) {
    // The bell keeps the page's one notification stream and passes each notification on.
    document.addEventListener("coursehub:notification", (event) => heard(event.detail));
  } else if (window.EventSource && script.dataset.stream) {
    const url = `${script.dataset.stream}?_xsrf=${encodeURIComponent(xsrf)}`;
    const stream = new EventSource(url);
    stream.addEventListener("notification", (message) => heard(JSON.parse(message.data)));
  }
})();
