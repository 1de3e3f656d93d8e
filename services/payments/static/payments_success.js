// The success page after a checkout: asks how the purchase stands until the payment
// provider's webhook has enrolled the buyer (or recorded a problem), then shows it.
// Plain script, no build step.
(function () {
  "use strict";
  const box = document.getElementById("purchase_state");
  if (!box || box.dataset.state !== "pending") return;
  const parts = ["pending", "enrolled", "paid", "refunded"];
  let delay = 1000;

  function show(state) {
    for (const part of parts) {
      document.getElementById("purchase_" + part).hidden = part !== state.state;
    }
    if (state.course_title) document.getElementById("purchase_course").textContent = state.course_title;
    if (state.course_url) document.getElementById("purchase_course_link").href = state.course_url;
    document.getElementById("purchase_set_password").hidden = !state.set_password;
    box.dataset.state = state.state;
  }

  async function ask() {
    try {
      const response = await fetch(box.dataset.url, { credentials: "same-origin" });
      if (response.ok) {
        const state = await response.json();
        if (state.state !== "pending") { show(state); return; }
      }
    } catch (ignored) { /* the network blinked: ask again */ }
    delay = Math.min(delay * 1.5, 5000);
    window.setTimeout(ask, delay);
  }
  window.setTimeout(ask, 500);
})();
