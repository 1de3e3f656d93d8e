// The notification bell on every CourseHub page (and the notifications page): the unread
// count, the latest notifications, "mark read", and new ones live from the notification
// stream (server-sent events). Other scripts hear of each new one as a
// "coursehub:notification" event on document, and tell the bell of notifications their page
// marked read (a conversation opened) with a "coursehub:notifications-read" event whose
// detail is { ids: [...] }; notifications read on the person's other pages arrive as the
// stream's "read" events. Everything shown is text, never HTML.
//
// The menu's entries exist only while it is open, so a page's own text is never doubled by
// hidden copies. Only a visible tab keeps a stream open (browsers allow few connections per
// site); a tab shown again reopens it after the last notification it has, missing nothing.
//
// Notifications are reconciled by id: they may arrive in any order (#11 before #10, as the
// service's processes commit them), each is shown once, in its place by id, and every time
// the stream (re)opens the bell reads the latest list again and adds any it lacks.
// A notification's link is followed only when it is a page of the course service.
(function () {
  "use strict";
  const bell = document.getElementById("notification_bell");
  if (!bell) return;
  const prefix = bell.dataset.prefix;
  const api = `${prefix}/api/me/notifications`;
  const xsrfInput = bell.querySelector("input[name=_xsrf]");
  const xsrf = xsrfInput ? xsrfInput.value : "";
  const button = document.getElementById("notification_bell_button");
  const count = document.getElementById("notification_count");
  const items = document.getElementById("notification_items");
  const page = document.getElementById("notifications_page");
  const SHOWN = 8;
  let latest = []; // newest first
  let unread = 0;
  let lastId = 0; // the newest id the bell holds
  const known = new Set(); // every id the bell holds or has shown
  let stream = null;
  const arrivingRead = new Set(); // marked read by this page before the stream brought them
  const readElsewhere = new Set(); // read, and not among the latest the bell holds

  // The link as a path of the course service once the browser has normalised it (no other
  // site, no "//host", no "javascript:", no "/../" or "%2e%2e" walking out of the service).
  function safeUrl(url) {
    const fallback = `${prefix}/notifications`;
    if (typeof url !== "string" || !url.startsWith("/") || url.startsWith("//")) return fallback;
    if (/[\u0000-\u0020\u007f\\]/.test(url)) return fallback;
    let parsed;
    let rawPath;
    try {
      parsed = new URL(url, window.location.origin);
      rawPath = decodeURIComponent(url.split(/[?#]/)[0]);
    } catch (error) {
      return fallback;
    }
    const walks = rawPath.includes("//") || /(^|\/)\.\.?(\/|$)/.test(rawPath) || rawPath.includes("\\");
    if (parsed.origin !== window.location.origin || walks) return fallback;
    if (!(parsed.pathname === prefix || parsed.pathname.startsWith(`${prefix}/`))) return fallback;
    return parsed.pathname + parsed.search + parsed.hash;
  }

  function titleOf(n) {
    return n.title || (n.payload && n.payload.title) || "You have a new notification on CourseHub.";
  }

  function urlOf(n) {
    return safeUrl(n.url || (n.payload && n.payload.url));
  }

  function localTime(iso) {
    const when = new Date(iso);
    return Number.isNaN(when.getTime()) ? "" : window.CourseHub.formatTime(when);
  }

  function showCount() {
    unread = Math.max(0, unread);
    count.textContent = unread > 99 ? "99+" : String(unread);
    count.hidden = unread === 0;
    button.setAttribute("aria-label", unread ? `Notifications, ${unread} unread` : "Notifications");
    bell.dataset.unread = String(unread);
    const markAll = page && document.getElementById("notifications_mark_all");
    if (markAll) markAll.disabled = unread === 0;
  }

  function menuItem(n) {
    const li = document.createElement("li");
    li.className = "notification-item border-bottom";
    li.dataset.notificationId = String(n.id);
    const link = document.createElement("a");
    link.className = "dropdown-item text-wrap py-2" + (n.read_at ? "" : " fw-semibold");
    link.href = urlOf(n);
    const title = document.createElement("div");
    title.textContent = titleOf(n);
    const time = document.createElement("div");
    time.className = "small text-body-secondary";
    time.textContent = localTime(n.created_at);
    link.append(title, time);
    link.addEventListener("click", () => markRead([n.id]));
    li.appendChild(link);
    return li;
  }

  function renderMenu() {
    items.replaceChildren(...latest.slice(0, SHOWN).map(menuItem));
    if (!latest.length) {
      const none = document.createElement("li");
      none.className = "px-3 py-2 text-body-secondary";
      none.textContent = "No notifications yet.";
      items.appendChild(none);
    }
  }

  function pageItem(n) {
    const li = document.createElement("li");
    li.className = "list-group-item d-flex justify-content-between gap-3 notification-item";
    li.classList.toggle("list-group-item-primary", !n.read_at);
    li.dataset.notificationId = String(n.id);
    li.dataset.unread = String(!n.read_at);
    const link = document.createElement("a");
    link.className = "notification-link";
    link.href = urlOf(n);
    link.textContent = titleOf(n);
    const time = document.createElement("time");
    time.className = "small text-body-secondary text-nowrap";
    time.textContent = localTime(n.created_at);
    li.append(link, time);
    return li;
  }

  async function markRead(ids) {
    const answer = await fetch(`${api}/read`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-XSRFToken": xsrf },
      body: JSON.stringify(ids ? { ids } : {}),
    });
    if (answer.ok) showRead(ids);
  }

  // Shows notifications as read (all with ids null) once the server has marked them.
  function showRead(ids) {
    const now = new Date().toISOString();
    for (const n of latest) {
      if ((!ids || ids.includes(n.id)) && !n.read_at) {
        n.read_at = now;
        unread -= 1;
      }
    }
    if (!ids) unread = 0; // also those older than the newest 50
    if (page) {
      for (const row of page.querySelectorAll(".notification-item")) {
        if (!ids || ids.includes(Number(row.dataset.notificationId))) {
          row.classList.remove("list-group-item-primary");
          row.dataset.unread = "false";
        }
      }
    }
    showCount();
    if (bell.querySelector(".dropdown-menu.show")) renderMenu();
  }

  // The page marked these read (say, by opening the conversation they are about).
  function readHere(ids) {
    if (!Array.isArray(ids)) return;
    const numbers = ids.map(Number).filter(Number.isInteger);
    const oldest = latest.length ? latest[latest.length - 1].id : 0;
    for (const id of numbers) {
      if (known.has(id)) continue; // showRead counts it
      if (readElsewhere.has(id)) continue; // told twice (by the page, then by the stream)
      readElsewhere.add(id);
      // Newer than the oldest the bell holds (or the bell holds all): the stream has yet to
      // bring it, and it comes read; older ones are in the count only.
      if (id > oldest || latest.length < 50) arrivingRead.add(id);
      else unread -= 1;
    }
    showRead(numbers);
  }

  function receive(n) {
    if (!n || !Number.isInteger(n.id) || known.has(n.id)) return; // each once, by id
    known.add(n.id);
    lastId = Math.max(lastId, n.id);
    if (arrivingRead.delete(n.id) && !n.read_at) n.read_at = new Date().toISOString();
    // In its place by id (newest first), wherever it arrives in the stream.
    latest = [...latest, n].sort((a, b) => b.id - a.id).slice(0, 50);
    // Missed ones replayed after a pause may have been read meanwhile (in another tab).
    if (!n.read_at) unread += 1;
    showCount();
    if (bell.querySelector(".dropdown-menu.show")) renderMenu();
    if (page) {
      const empty = document.getElementById("notifications_empty");
      if (empty) empty.remove();
      const list = document.getElementById("notifications_list");
      const after = [...list.querySelectorAll(".notification-item")].find(
        (row) => Number(row.dataset.notificationId) < n.id
      );
      list.insertBefore(pageItem(n), after || null);
    }
    document.dispatchEvent(new CustomEvent("coursehub:notification", { detail: n }));
  }

  // Whenever the stream (re)opens: the latest list again, and any the bell lacks added (one
  // that committed while the stream was closed, or while it was opening).
  async function reconcile() {
    try {
      const answer = await fetch(api, { credentials: "same-origin", headers: { "X-XSRFToken": xsrf } });
      if (!answer.ok) return;
      const body = await answer.json();
      body.notifications.filter((n) => !known.has(n.id)).sort((a, b) => a.id - b.id).forEach(receive);
    } catch (error) {
      // The stream brings them, or the next opening does.
    }
  }

  // A stream refused outright (a 503 while a service process restarts) is given up by the
  // browser: the bell opens a new one itself, waiting longer each time (1 s … 30 s).
  let retryDelay = 1000;
  let retryTimer = null;

  function retryLater(failed) {
    if (stream !== failed) return;
    stream = null;
    if (retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      follow();
    }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  function follow() {
    if (stream || !window.EventSource || document.visibilityState === "hidden") return;
    // An EventSource cannot send headers: the XSRF token goes as the _xsrf argument.
    const opened = new EventSource(`${api}/stream?after=${lastId}&_xsrf=${encodeURIComponent(xsrf)}`);
    stream = opened;
    opened.addEventListener("open", () => {
      retryDelay = 1000;
      reconcile();
    });
    opened.addEventListener("error", () => {
      // CONNECTING: the browser retries by itself; CLOSED: it gave up, so the bell retries.
      if (opened.readyState === EventSource.CLOSED) retryLater(opened);
    });
    opened.addEventListener("notification", (message) => receive(JSON.parse(message.data)));
    // Read on another of the person's pages (or in JupyterLab): off this bell too.
    opened.addEventListener("read", (message) => {
      const marked = JSON.parse(message.data).read;
      if (marked === "all") showRead(null);
      else readHere(marked);
    });
  }

  function pause() {
    if (stream) stream.close();
    stream = null;
  }

  async function start() {
    try {
      // JupyterHub accepts the sign-in cookie on a script's request only with the XSRF token.
      const answer = await fetch(api, { credentials: "same-origin", headers: { "X-XSRFToken": xsrf } });
      if (!answer.ok) return;
      const body = await answer.json();
      latest = body.notifications;
      unread = body.unread; // counts those beyond the newest 50 too
      lastId = Math.max(0, ...latest.map((n) => n.id));
      for (const n of latest) known.add(n.id);
    } catch (error) {
      return;
    }
    // The page may have marked some read while this answer was on its way.
    for (const n of latest) {
      if (arrivingRead.delete(n.id) && !n.read_at) {
        n.read_at = new Date().toISOString();
        unread -= 1;
      }
    }
    showCount();
    bell.dataset.ready = "true";
    follow();
    document.addEventListener("visibilitychange", () =>
      document.visibilityState === "hidden" ? pause() : follow()
    );
  }

  bell.addEventListener("show.bs.dropdown", renderMenu);
  document.addEventListener("coursehub:notifications-read", (event) =>
    readHere(event.detail && event.detail.ids)
  );
  bell.addEventListener("hidden.bs.dropdown", () => items.replaceChildren());
  document.getElementById("notification_mark_all").addEventListener("click", () => markRead(null));
  if (page) {
    for (const time of page.querySelectorAll(".notification-item time[datetime]")) {
      time.textContent = localTime(time.getAttribute("datetime"));
    }
    document.getElementById("notifications_mark_all").addEventListener("click", () => markRead(null));
  }
  start();
})();
