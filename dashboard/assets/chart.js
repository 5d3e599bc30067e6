// The overview's main chart, drawn with uPlot from the table beside it
// (the table stays: it is the chart for screen readers and without
// JavaScript). Times are the site's local times, written as if UTC.
(() => {
  "use strict";
  const table = document.querySelector("table[data-chart]");
  const box = document.getElementById("chart-canvas");
  if (!table || !box || !window.uPlot) return;
  const rows = [...table.tBodies[0].rows];
  if (rows.length === 0) return;
  const xs = rows.map((row) => Number(row.dataset.t));
  const columns = rows[0].querySelectorAll("td").length;
  const values = [];
  for (let c = 0; c < columns; c += 1) {
    values.push(rows.map((row) => {
      const cell = row.querySelectorAll("td")[c];
      return cell && cell.dataset.v !== undefined ? Number(cell.dataset.v) : null;
    }));
  }
  const style = getComputedStyle(document.documentElement);
  const color = (name) => style.getPropertyValue(name).trim();
  const lang = document.documentElement.lang || "fr";
  const bucket = table.dataset.bucket;
  const format = new Intl.DateTimeFormat(lang, bucket === "hour"
    ? { hour: "2-digit", minute: "2-digit", timeZone: "UTC" }
    : bucket === "month"
      ? { month: "short", year: "numeric", timeZone: "UTC" }
      : { day: "numeric", month: "short", timeZone: "UTC" });
  const number = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  const axis = {
    stroke: color("--muted"),
    grid: { stroke: color("--line"), width: 1 },
    ticks: { stroke: color("--line"), width: 1 },
  };
  const series = [{ label: table.dataset.x, value: (_, t) => (t == null ? "" : format.format(new Date(t * 1000))) }];
  series.push({ label: table.dataset.now, stroke: color("--accent"), width: 2, value: (_, v) => (v == null ? "–" : number.format(v)) });
  if (columns > 1) {
    series.push({ label: table.dataset.then, stroke: color("--muted"), width: 1.5, dash: [6, 4], value: (_, v) => (v == null ? "–" : number.format(v)) });
  }
  // The notes listed under the chart, numbered as the list numbers them.
  // Each is drawn at the point of the bucket (hour, day, week, month) that
  // holds its date.
  const notes = [...document.querySelectorAll("[data-note]")].map((item, i) => {
    const day = Date.parse(`${item.dataset.note}T00:00:00Z`) / 1000;
    return { t: xs.filter((x) => x <= day).pop(), n: String(i + 1) };
  });
  const drawNotes = (u) => {
    const { ctx, bbox } = u;
    const [min, max] = [u.scales.x.min, u.scales.x.max];
    let drawn = 0;
    ctx.save();
    ctx.strokeStyle = color("--focus");
    ctx.fillStyle = color("--focus");
    ctx.lineWidth = Math.max(1, devicePixelRatio);
    ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
    ctx.font = `${12 * devicePixelRatio}px sans-serif`;
    for (const note of notes) {
      if (note.t === undefined || note.t < min || note.t > max) continue;
      const x = Math.round(u.valToPos(note.t, "x", true));
      ctx.beginPath();
      ctx.moveTo(x, bbox.top);
      ctx.lineTo(x, bbox.top + bbox.height);
      ctx.stroke();
      ctx.fillText(note.n, x + 3 * devicePixelRatio, bbox.top + 12 * devicePixelRatio);
      drawn += 1;
    }
    ctx.restore();
    box.dataset.notes = String(drawn);
  };
  const size = () => ({ width: Math.max(box.clientWidth, 280), height: 240 });
  const chart = new window.uPlot({
    ...size(),
    series,
    scales: { x: { time: true }, y: { range: (_, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [
      { ...axis, values: (_, splits) => splits.map((t) => format.format(new Date(t * 1000))) },
      { ...axis, values: (_, splits) => splits.map((v) => number.format(v)), size: 60 },
    ],
    tzDate: (t) => window.uPlot.tzDate(new Date(t * 1000), "Etc/UTC"),
    legend: { live: true },
    hooks: { draw: [drawNotes] },
  }, [xs, ...values], box);
  box.dataset.drawn = "true";
  addEventListener("resize", () => chart.setSize(size()));
})();
