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

  // The reader's time zone: the one in their profile (the base template writes it on <body>
  // as data-time-zone when they have one), else the browser's.
  let checkedZone = null; // [the attribute's value, the zone to use], checked once per value
  function timeZone() {
    const zone = document.body ? document.body.dataset.timeZone || "" : "";
    if (checkedZone && checkedZone[0] === zone) return checkedZone[1];
    let usable;
    try {
      if (zone) new Intl.DateTimeFormat([], { timeZone: zone });
      usable = zone || undefined;
    } catch (ignored) {
      usable = undefined; // a zone this browser does not know: its own is better than nothing
    }
    checkedZone = [zone, usable];
    return usable;
  }

  // The one way a page shows a moment: in the reader's time zone, as "7 Dec 2026, 14:05".
  // Times are stored and sent in UTC (RFC 3339); a value that is not a time is left as it is.
  function formatTime(value) {
    return format(value, { dateStyle: "medium", timeStyle: "short" });
  }

  // The same for a day alone ("7 Dec 2026"), in the reader's time zone.
  function formatDate(value) {
    return format(value, { dateStyle: "medium" });
  }

  function format(value, style) {
    const moment = value instanceof Date ? value : new Date(value);
    if (Number.isNaN(moment.getTime())) return String(value);
    return moment.toLocaleString([], Object.assign({ timeZone: timeZone() }, style));
  }

  // A moment's wall-clock fields in the reader's time zone, as numbers.
  function wallClock(moment) {
    const parts = {};
    const format = new Intl.DateTimeFormat("en-US", {
      timeZone: timeZone(), hourCycle: "h23", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
    for (const part of format.formatToParts(moment)) parts[part.type] = Number(part.value);
    return parts;
  }

  // An ISO moment as the value of a datetime-local input ("2026-12-07T14:05"), in the
  // reader's time zone, so what a form shows agrees with what the page shows; "" if none.
  function toZonedInput(iso) {
    if (!iso) return "";
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) return "";
    const p = wallClock(moment);
    const pad = (n) => String(n).padStart(2, "0");
    return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`;
  }

  // A datetime-local input's value, read in the reader's time zone, as ISO 8601 in UTC
  // (null when empty or not a time).
  function fromZonedInput(value) {
    const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
    if (!match) return null;
    const [year, month, day, hour, minute] = match.slice(1).map(Number);
    const asUtc = Date.UTC(year, month - 1, day, hour, minute);
    // The zone's offset at that moment; asked twice, as the first guess may sit across a
    // daylight-saving change.
    const offsetAt = function (instant) {
      const p = wallClock(new Date(instant));
      return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - instant;
    };
    let instant = asUtc - offsetAt(asUtc);
    instant = asUtc - offsetAt(instant);
    return new Date(instant).toISOString();
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
  CourseHub.formatDate = formatDate;
  CourseHub.timeZone = timeZone;
  CourseHub.toZonedInput = toZonedInput;
  CourseHub.fromZonedInput = fromZonedInput;
  CourseHub.localiseTimes = localiseTimes;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { localiseTimes(); });
  } else {
    localiseTimes();
  }
})();
