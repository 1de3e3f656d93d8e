// The source check card of an assignment's edit page: while the check is queued or running,
// ask for its state every few seconds; once it is done, replace the card with the page's
// new one (the rest of the page, and whatever is being typed in its forms, stays as it is).
(() => {
  const busy = (state) => ["queued", "running"].includes(state);
  const first = document.getElementById("source_check");
  if (!first || !busy(first.dataset.state)) return;
  const url = first.dataset.url;
  const poll = async () => {
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok && !busy((await response.json()).state)) {
        const page = await fetch(window.location.href, { credentials: "same-origin" });
        const fresh = new DOMParser()
          .parseFromString(await page.text(), "text/html")
          .getElementById("source_check");
        const card = document.getElementById("source_check");
        if (fresh && card) card.replaceWith(document.importNode(fresh, true));
        return;
      }
    } catch (error) {
      // A network hiccup: try again at the next tick.
    }
    window.setTimeout(poll, 3000);
  };
  window.setTimeout(poll, 3000);
})();
