// A course's analytics page: the "Message" buttons write to students at risk through the
// Messages API (times are shown in the reader's time zone by api.js on every page).
(function () {
  "use strict";
  const api = window.CourseHub.api;

  const box = document.getElementById("at_risk_message");
  if (!box) return;
  const callJSON = api.jsonCaller(box.dataset.xsrf);
  const url = box.dataset.prefix + "/api/messages/conversations";
  const status = document.getElementById("at_risk_status");

  async function send(username, button) {
    const body = document.getElementById("at_risk_text").value.trim();
    if (!body) { status.textContent = "Write a message first."; return false; }
    button.disabled = true;
    try {
      await callJSON("POST", url, { username: username, body: body });
      button.textContent = "Sent";
      return true;
    } catch (error) {
      button.disabled = false;
      status.textContent = error.message;
      return false;
    }
  }

  for (const button of document.querySelectorAll("[data-message-to]")) {
    button.addEventListener("click", async function () {
      if (await send(button.dataset.messageTo, button)) {
        status.textContent = "Message sent to " + button.dataset.messageTo + ".";
      }
    });
  }
  document.getElementById("message_all_at_risk").addEventListener("click", async function () {
    let sent = 0;
    for (const button of document.querySelectorAll("[data-message-to]:not(:disabled)")) {
      if (await send(button.dataset.messageTo, button)) sent += 1;
    }
    status.textContent = "Message sent to " + sent + " student" + (sent === 1 ? "" : "s") + ".";
  });
})();
