// The bell on the hub's own pages (hub/templates/page.html): how many notifications are
// unread, from the hub's /hub/coursehub/unread (the hub asks the course service). The bell
// links to the notifications page, where they are read. Plain script, no build step.
(function () {
  "use strict";

  async function showUnread() {
    const bell = document.getElementById("notification_bell_link");
    const badge = document.getElementById("notification_count");
    if (!bell || !badge) return;
    try {
      const answer = await fetch("/hub/coursehub/unread", { credentials: "same-origin" });
      if (!answer.ok) return;
      const unread = (await answer.json()).unread || 0;
      badge.textContent = String(unread);
      badge.hidden = unread === 0;
      bell.setAttribute("aria-label", unread ? "Notifications, " + unread + " unread" : "Notifications");
    } catch (ignored) {
      // The bell stays a plain link.
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", showUnread);
  } else {
    showUnread();
  }
})();
