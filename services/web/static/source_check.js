// The source check card of an assignment's edit page: while the check is queued or running,
// ask for its state every few seconds and reload the page once it is done.
(() => {
  const card = document.getElementById("source_check");
  if (!card || !["queued", "running"].includes(card.dataset.state)) return;
  const poll = async () => {
    try {
      const response = await fetch(card.dataset.url, { credentials: "same-origin" });
      if (response.ok) {
        const check = await response.json();
        if (!["queued", "running"].includes(check.state)) {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // A network hiccup: try again at the next tick.
    }
    window.setTimeout(poll, 3000);
  };
  window.setTimeout(poll, 3000);
})();
