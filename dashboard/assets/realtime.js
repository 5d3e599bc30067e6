// Realtime page: the figures refreshed every 10 seconds without reloading.
// Values are written as text, never as markup.
(() => {
  "use strict";
  const root = document.querySelector("[data-realtime]");
  if (!root) return;
  const number = new Intl.NumberFormat(document.documentElement.lang);
  const none = root.dataset.none || "";
  const set = (id, value) => {
    const node = document.getElementById(id);
    if (node) node.textContent = number.format(value);
  };
  const fill = (id, rows, key) => {
    const body = document.getElementById(id);
    if (!body) return;
    body.replaceChildren(...rows.map((row) => {
      const line = document.createElement("tr");
      const label = document.createElement("td");
      label.textContent = row[key] || none;
      const count = document.createElement("td");
      count.className = "n";
      count.textContent = number.format(row.visitors);
      line.append(label, count);
      return line;
    }));
    const empty = document.getElementById(id + "-empty");
    if (empty) empty.hidden = rows.length > 0;
  };
  const refresh = async () => {
    try {
      const answer = await fetch(root.dataset.source, { headers: { accept: "application/json" } });
      if (!answer.ok) return;
      const figures = await answer.json();
      set("rt-5m", figures.visitors_5m);
      set("rt-30m", figures.visitors_30m);
      fill("rt-pages", figures.pages, "page");
      fill("rt-sources", figures.sources, "source");
      root.dataset.updated = String(Date.now());
    } catch (_) {
      // The next tick tries again.
    }
  };
  setInterval(refresh, Number(root.dataset.every || 10000));
})();
