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

  const CourseHub = (window.CourseHub = window.CourseHub || {});
  CourseHub.api = { jsonCaller: jsonCaller };
})();
