// The success page after a checkout: asks how the purchase stands until the payment
// provider's webhook has enrolled the buyer (or recorded a problem), then shows it.
// For the first seconds (data-patience-ms, 20 s) it asks often and shows its progress;
// past them it says in one sentence what is happening and that the buyer may leave, and
// goes on asking less and less often. A failed or cancelled payment says so.
// Plain script, no build step.
(function () {
  "use strict";
  const box = document.getElementById("purchase_state");
  if (!box || box.dataset.state !== "pending") return;
  const parts = ["pending", "enrolled", "paid", "refunded", "failed", "not_paid"];
  const settled = ["enrolled", "paid", "refunded"];
  const patience = Number(box.dataset.patienceMs) || 20000;
  const bar = document.getElementById("purchase_progress_bar");
  const progress = document.getElementById("purchase_progress");
  const checked = document.getElementById("purchase_checked");
  const slow = document.getElementById("purchase_slow");
  const started = Date.now();
  let delay = 1000;
  let providerState = "";
  let ticker = null;

  function elapsed() { return Date.now() - started; }

  // After the first seconds: every 10 s for five minutes, then every 30 s, then every 2 min.
  function nextDelay() {
    const waited = elapsed();
    if (waited < patience) {
      delay = Math.min(delay * 1.5, 3000);
      return Math.min(delay, Math.max(patience - waited, 250));
    }
    if (waited < 5 * 60000) return 10000;
    if (waited < 60 * 60000) return 30000;
    return 120000;
  }

  function drawProgress() {
    const waited = elapsed();
    const share = Math.min(waited / patience, 1);
    bar.style.width = Math.round(share * 100) + "%";
    progress.setAttribute("aria-valuenow", String(Math.round(share * 100)));
    if (waited >= patience) {
      bar.classList.add("progress-bar-striped", "progress-bar-animated");
      showSlow();
    }
  }

  function showSlow() {
    const known = ["paid", "processing"].includes(providerState) ? providerState : "unknown";
    for (const line of slow.querySelectorAll("[data-provider-state]")) {
      line.hidden = line.dataset.providerState !== known;
    }
    slow.hidden = false;
  }

  function show(state) {
    for (const part of parts) {
      document.getElementById("purchase_" + part).hidden = part !== state.state;
    }
    document.getElementById("purchase_catalog_link").hidden =
      !["failed", "not_paid"].includes(state.state);
    if (state.course_title) document.getElementById("purchase_course").textContent = state.course_title;
    if (state.course_url) document.getElementById("purchase_course_link").href = state.course_url;
    document.getElementById("purchase_set_password").hidden = !state.set_password;
    box.dataset.state = state.state;
    box.dataset.providerState = state.provider_state || "";
  }

  async function ask() {
    try {
      const response = await fetch(box.dataset.url, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) {
        const state = await response.json();
        providerState = state.provider_state || "";
        show(state);
        if (settled.includes(state.state)) {
          window.clearInterval(ticker);
          return;
        }
        if (state.state === "pending") drawProgress();
      }
    } catch (ignored) { /* the network blinked: ask again */ }
    checked.textContent = "Last checked at " + new Date().toLocaleTimeString() + ".";
    window.setTimeout(ask, nextDelay());
  }

  ticker = window.setInterval(function () {
    if (box.dataset.state === "pending") drawProgress();
  }, 250);
  window.setTimeout(ask, 500);
})();
