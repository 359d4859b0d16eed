// wxp console: the charts page. Reads the page's JSON data block (#charts-data) and draws
// each chart with uPlot into its container; sets data-points (the non-zero values drawn)
// on the container once drawn. Loaded as a file: the CSP allows no inline script.
"use strict";
(() => {
  const block = document.getElementById("charts-data");
  if (!block || typeof uPlot === "undefined") return;
  const { series, labels } = JSON.parse(block.textContent);
  const COLORS = { new: "#07803f", lost: "#b42318", net: "#1a56db", active: "#7c3aed", baseline: "#4b5563" };
  const HEIGHT = 220;
  const drawn = [];

  const day = (_u, v) => (v == null ? "" : new Date(v * 1000).toISOString().slice(0, 10));
  const named = (names) => (_u, v) => (v == null ? "" : names[Math.round(v)] ?? "");
  const bars = (align) => uPlot.paths.bars({ size: [0.35, 48], align });
  const around = (u) => [-0.5, u.data[0].length - 0.5];

  function line(label, color, fill) {
    return { label, stroke: color, width: 2, fill, points: { show: true, size: 5 } };
  }

  function bar(label, color, align) {
    return { label, stroke: color, fill: color, width: 1, paths: bars(align), points: { show: false } };
  }

  function categories(names) {
    return {
      scales: { x: { time: false, range: around } },
      axes: [
        { values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? names[v] ?? "" : "")), incrs: [1, 2, 5, 10] },
        {},
      ],
    };
  }

  function draw(name, options, columns, keys) {
    const el = document.getElementById(`chart-${name}`);
    if (!el) return;
    const width = Math.max(280, el.clientWidth);
    const chart = new uPlot({ width, height: HEIGHT, ...options }, columns, el);
    let points = 0;
    for (const key of keys) points += series[name][key].filter((v) => v).length;
    el.dataset.points = String(points);
    drawn.push([el, chart]);
  }

  const f = series.followers;
  draw(
    "followers",
    {
      series: [
        { label: labels.date, value: day },
        line(labels.new, COLORS.new),
        line(labels.lost, COLORS.lost),
        line(labels.net, COLORS.net),
      ],
    },
    [f.x, f.new, f.lost, f.net],
    ["new", "lost"],
  );

  const a = series.active;
  draw(
    "active",
    { series: [{ label: labels.date, value: day }, line(labels.active, COLORS.active, "rgba(124,58,237,0.12)")] },
    [a.x, a.active],
    ["active"],
  );

  const c = series.channels;
  draw(
    "channels",
    {
      ...categories(c.names),
      series: [{ label: labels.channel, value: named(c.names) }, bar(labels.new, COLORS.new, -1), bar(labels.lost, COLORS.lost, 1)],
    },
    [c.x, c.new, c.lost],
    ["new", "lost"],
  );

  const b = series.broadcasts;
  draw(
    "broadcasts",
    {
      ...categories(b.names),
      series: [
        { label: labels.submitted, value: named(b.names) },
        bar(labels.unfollows, COLORS.lost, -1),
        bar(labels.baseline, COLORS.baseline, 1),
      ],
    },
    [b.x, b.unfollows, b.baseline],
    ["unfollows", "baseline"],
  );

  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      for (const [el, chart] of drawn) chart.setSize({ width: Math.max(280, el.clientWidth), height: HEIGHT });
    });
  });
})();
