// Taking a quiz attempt: the countdown (the server keeps the real deadline), answers saved
// as they change, submitting once, and waiting for grading. Plain script, no build step.
(function () {
  "use strict";

  const root = document.getElementById("quiz_attempt");
  if (!root) { return; }
  const api = root.dataset.api;
  const xsrf = root.dataset.xsrf;
  const submitted = root.dataset.submitted === "true";
  const errorBox = document.getElementById("quiz_error");
  const timeUpBox = document.getElementById("time_up");
  let finished = submitted;

  async function call(method, url, body) {
    const response = await fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-XSRFToken": xsrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let payload = {};
    try { payload = await response.json(); } catch (ignored) { payload = {}; }
    return { ok: response.ok, status: response.status, payload: payload };
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.classList.toggle("d-none", !message);
  }

  // -- waiting for grading (results page) ------------------------------------------------------
  if (submitted) {
    if (document.querySelector('[data-state="AWAITING_WORKER"]')) {
      const poll = setInterval(async function () {
        const answer = await call("GET", api);
        const waiting = (answer.payload.answers || []).some(function (a) { return a.state === "AWAITING_WORKER"; });
        if (answer.ok && !waiting) { clearInterval(poll); window.location.reload(); }
      }, 3000);
    }
    return;
  }

  const form = document.getElementById("quiz_form");
  const questions = Array.from(form.querySelectorAll(".quiz-question"));
  if (root.dataset.mine !== "true") {
    // Staff looking at a student's attempt in progress: nothing to answer here.
    finished = true;
    form.querySelectorAll("input, textarea, button").forEach(function (node) { node.disabled = true; });
  }

  function responseOf(fieldset) {
    const kind = fieldset.dataset.kind;
    if (kind === "MULTIPLE_CHOICE") {
      return Array.from(fieldset.querySelectorAll("input:checked")).map(function (input) { return input.value; });
    }
    if (kind === "SINGLE_CHOICE" || kind === "TRUE_FALSE") {
      const checked = fieldset.querySelector("input:checked");
      if (!checked) { return null; }
      return kind === "TRUE_FALSE" ? checked.value === "true" : checked.value;
    }
    return fieldset.querySelector("input, textarea").value;
  }

  function setInputs(enabled) {
    form.querySelectorAll("input, textarea, button").forEach(function (node) { node.disabled = !enabled; });
  }

  // -- the clock ---------------------------------------------------------------------------------
  const secondsLeft = root.dataset.secondsLeft;
  const clock = document.getElementById("countdown");

  function timeUp() {
    if (finished) { return; }
    finished = true;
    setInputs(false);
    timeUpBox.textContent = "Time is up. Your answers saved before the deadline are submitted; your results follow.";
    timeUpBox.classList.remove("d-none");
    // The server closes the attempt at its deadline when it is next read; should this
    // computer's clock run a little ahead, the reloaded page counts the rest down again.
    setTimeout(function () { window.location.reload(); }, 2000);
  }

  if (secondsLeft !== "" && clock) {
    // Counted from this page's clock, so a wrong clock on this computer does not matter.
    const end = Date.now() + Number(secondsLeft) * 1000;
    const tick = function () {
      const left = Math.max(0, Math.round((end - Date.now()) / 1000));
      const minutes = Math.floor(left / 60);
      const seconds = left % 60;
      clock.textContent = minutes + ":" + String(seconds).padStart(2, "0");
      clock.parentElement.classList.toggle("is-low", left <= 60);
      if (left <= 0) { clearInterval(timer); timeUp(); }
    };
    const timer = setInterval(tick, 250);
    tick();
  }

  // -- saving ------------------------------------------------------------------------------------
  // One request at a time per question, always with its latest answer: a quick second
  // change waits for the first save and is then sent, so an older answer never lands last.
  async function saveOnce(fieldset) {
    const answer = await call("PUT", api + "/answers/" + fieldset.dataset.position, { response: responseOf(fieldset) });
    if (answer.ok) { return true; }
    fieldset.querySelector(".save-state").textContent = "Not saved";
    showError(answer.payload.error || "The answer was not saved (" + answer.status + "). Reload the page and try again.");
    if (answer.status === 409) {
      finished = true;
      setInputs(false);
      timeUpBox.classList.remove("d-none");
      setTimeout(function () { window.location.reload(); }, 4000);
    }
    return false;
  }

  function saver(fieldset) {
    const state = fieldset.querySelector(".save-state");
    let running = false;
    let again = false;
    return async function save() {
      if (finished) { return; }
      if (running) { again = true; return; }
      running = true;
      state.textContent = "Saving…";
      let ok = true;
      do {
        again = false;
        ok = await saveOnce(fieldset);
      } while (ok && again && !finished);
      running = false;
      if (ok) { state.textContent = "Saved"; }
    };
  }

  questions.forEach(function (fieldset) {
    const save = saver(fieldset);
    let pending = null;
    fieldset.addEventListener("change", function () { clearTimeout(pending); save(); });
    fieldset.addEventListener("input", function (event) {
      if (event.target.type === "radio" || event.target.type === "checkbox") { return; }
      clearTimeout(pending);
      pending = setTimeout(save, 800);
    });
  });

  // -- submitting --------------------------------------------------------------------------------
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (finished) { return; }
    const answers = {};
    questions.forEach(function (fieldset) { answers[fieldset.dataset.position] = responseOf(fieldset); });
    finished = true;
    setInputs(false);
    const answer = await call("POST", api + "/submit", { answers: answers });
    if (!answer.ok && answer.status !== 409) {
      finished = false;
      setInputs(true);
      showError(answer.payload.error || "The quiz was not submitted (" + answer.status + "). Try again.");
      return;
    }
    window.location.reload();
  });
})();
