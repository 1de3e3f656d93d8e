// Calls from CourseHub's page scripts to its JSON API, in one place: JSON both ways, the
// page's XSRF token (JupyterHub accepts the sign-in cookie on a script's request only with
// it), and an error answer turned into an Error whose message is the server's sentence.
// Loaded by the base template before any page script, so pages use it as
//   const callJSON = window.CourseHub.api.jsonCaller(xsrf);
//   const quiz = await callJSON("PATCH", url, { title: "Week 1" }); // throws on an error answer
// Plain script, no build step.
(function () {
  "use strict";

  // A function (method, url, body?) that sends body as JSON with the token and resolves to
  // the answer's JSON ({} when it has none), or rejects with an Error to show the person.
  function jsonCaller(xsrf) {
    return async function callJSON(method, url, body) {
      const response = await fetch(url, {
        method: method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-XSRFToken": xsrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      let payload = {};
      try { payload = await response.json(); } catch (ignored) { payload = {}; }
      if (!response.ok) {
        throw new Error(payload.error || "The server answered " + response.status + ". Reload the page and try again.");
      }
      return payload;
    };
  }

  // The one way a page shows a moment: in the reader's own time zone, as "7 Dec 2026, 14:05".
  // Times are stored and sent in UTC (RFC 3339); a value that is not a time is left as it is.
  function formatTime(value) {
    const moment = value instanceof Date ? value : new Date(value);
    if (Number.isNaN(moment.getTime())) return String(value);
    return moment.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }

  // Every <time datetime="..."> on a page, written in the reader's time and this one format
  // (the UTC text the server wrote stays as the tooltip). Pages' scripts call it again for
  // what they add later.
  function localiseTimes(root) {
    for (const element of (root || document).querySelectorAll("time[datetime]")) {
      const moment = new Date(element.dateTime);
      if (Number.isNaN(moment.getTime())) continue;
      if (!element.title) element.title = element.textContent;
      element.textContent = formatTime(moment);
    }
  }

  const CourseHub = (window.CourseHub = window.CourseHub || {});
  CourseHub.api = { jsonCaller: jsonCaller };
  CourseHub.formatTime = formatTime;
  CourseHub.localiseTimes = localiseTimes;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { localiseTimes(); });
  } else {
    localiseTimes();
  }
})();
