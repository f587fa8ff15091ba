/* Draws the admin home's charts from the JSON the page carries (#dashboard-data), with
   the Chart.js the admin theme serves from our own static files. */
(function () {
  "use strict";

  const PALETTE = ["#7c3aed", "#0ea5e9", "#16a34a", "#f59e0b", "#dc2626", "#64748b", "#db2777", "#0d9488", "#a16207", "#4f46e5"];
  const OUTCOME_COLOURS = { generated: "#7c3aed", extractive: "#0ea5e9", cached: "#16a34a", refused: "#f59e0b", error: "#dc2626" };
  const STAGE_COLOURS = { retrieve: "#0ea5e9", generate: "#7c3aed", total: "#64748b" };

  const money = (v) => (v === null || v === undefined ? "—" : v === 0 ? "$0" : "$" + (Math.abs(v) >= 0.01 ? v.toFixed(2) : v.toFixed(4)));
  const pct = (v) => (v === null || v === undefined ? "—" : Math.round(v * 100) + "%");
  const ms = (v) => (v === null || v === undefined ? "—" : v >= 1000 ? (v / 1000).toFixed(2) + " s" : Math.round(v) + " ms");
  const shortDay = (iso) => {
    const [, m, d] = iso.split("-");
    return d + "/" + m;
  };

  function base(extra) {
    const grid = getComputedStyle(document.documentElement).getPropertyValue("--color-base-200").trim() || "#e5e7eb";
    const options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 10, boxHeight: 10, color: "#6b7280" } } },
      scales: {
        x: { grid: { display: false }, ticks: { color: "#9ca3af", maxRotation: 0, autoSkip: true } },
        y: { beginAtZero: true, grid: { color: grid }, ticks: { color: "#9ca3af" } },
      },
    };
    return Object.assign(options, extra || {});
  }

  function stackedBars(days, series, colours, format) {
    const keys = Object.keys(series);
    const options = base();
    options.scales.x.stacked = true;
    options.scales.y.stacked = true;
    if (!format) options.scales.y.ticks.precision = 0;
    if (format) {
      options.scales.y.ticks.callback = (v) => format(v);
      options.plugins.tooltip = { callbacks: { label: (c) => c.dataset.label + ": " + format(c.parsed.y) } };
    }
    return {
      type: "bar",
      data: {
        labels: days.map(shortDay),
        datasets: keys.map((k, i) => ({ label: k, data: series[k], backgroundColor: (colours && colours[k]) || PALETTE[i % PALETTE.length], borderRadius: 3, maxBarThickness: 28 })),
      },
      options: options,
    };
  }

  const builders = {
    questions: (d) => stackedBars(d.days, d.questions, OUTCOME_COLOURS),
    people: (d) => {
      const options = base();
      options.plugins.legend.display = false;
      options.scales.y.ticks.precision = 0;
      return { type: "bar", data: { labels: d.days.map(shortDay), datasets: [{ label: "people", data: d.people, backgroundColor: "#a78bfa", borderRadius: 3, maxBarThickness: 28 }] }, options: options };
    },
    cost_by_model: (d) => stackedBars(d.days, d.cost_by_model, null, money),
    cost_by_tier: (d) => stackedBars(d.days, d.cost_by_tier, null, money),
    cache: (d) => {
      const options = base();
      options.scales.y = { beginAtZero: true, position: "left", ticks: { color: "#9ca3af", callback: (v) => money(v) }, grid: { display: false } };
      options.scales.rate = { beginAtZero: true, max: 1, position: "right", ticks: { color: "#9ca3af", callback: (v) => pct(v) }, grid: { color: "rgba(156,163,175,.2)" } };
      options.plugins.tooltip = { callbacks: { label: (c) => c.dataset.label + ": " + (c.dataset.yAxisID === "rate" ? pct(c.parsed.y) : money(c.parsed.y)) } };
      return {
        type: "bar",
        data: {
          labels: d.days.map(shortDay),
          datasets: [
            { type: "line", label: "hit rate", data: d.cache.hit_rate, yAxisID: "rate", borderColor: "#16a34a", backgroundColor: "#16a34a", spanGaps: true, tension: 0.25, pointRadius: 2 },
            { type: "bar", label: "money saved", data: d.cache.saved, yAxisID: "y", backgroundColor: "rgba(22,163,74,.3)", borderRadius: 3, maxBarThickness: 28 },
          ],
        },
        options: options,
      };
    },
    latency: (d) => {
      const options = base();
      options.scales.y.ticks.callback = (v) => ms(v);
      options.plugins.tooltip = { callbacks: { label: (c) => c.dataset.label + ": " + ms(c.parsed.y) } };
      const datasets = [];
      for (const stage of Object.keys(d.latency)) {
        for (const q of ["p50", "p95"]) {
          datasets.push({ label: stage + " " + q, data: d.latency[stage][q], borderColor: STAGE_COLOURS[stage], backgroundColor: STAGE_COLOURS[stage], borderDash: q === "p95" ? [6, 4] : [], spanGaps: true, tension: 0.2, pointRadius: 2 });
        }
      }
      return { type: "line", data: { labels: d.days.map(shortDay), datasets: datasets }, options: options };
    },
    stages: (d) => {
      const stages = Object.keys(d.stages).filter((s) => d.stages[s].p50 !== null);
      const options = base({ indexAxis: "y" });
      options.scales = { x: { beginAtZero: true, ticks: { color: "#9ca3af", callback: (v) => ms(v) } }, y: { grid: { display: false }, ticks: { color: "#6b7280" } } };
      options.plugins.tooltip = { callbacks: { label: (c) => c.dataset.label + ": " + ms(c.parsed.x) } };
      return {
        type: "bar",
        data: {
          labels: stages,
          datasets: [
            { label: "p50", data: stages.map((s) => d.stages[s].p50), backgroundColor: "#7c3aed", borderRadius: 3 },
            { label: "p95", data: stages.map((s) => d.stages[s].p95), backgroundColor: "rgba(124,58,237,.35)", borderRadius: 3 },
          ],
        },
        options: options,
      };
    },
    sets: (d) => {
      const sets = d.sets;
      const options = base({ indexAxis: "y" });
      options.plugins.legend.display = false;
      options.scales = { x: { beginAtZero: true, ticks: { color: "#9ca3af", precision: 0 } }, y: { grid: { display: false }, ticks: { color: "#6b7280" } } };
      return { type: "bar", data: { labels: sets.map((s) => s[0]), datasets: [{ label: "questions", data: sets.map((s) => s[1]), backgroundColor: "#0ea5e9", borderRadius: 3, maxBarThickness: 22 }] }, options: options };
    },
    feedback: (d) => stackedBars(d.days, { helpful: d.feedback.up, "not helpful": d.feedback.down }, { helpful: "#16a34a", "not helpful": "#dc2626" }),
    evaluation: (d) => {
      const e = d.evaluation;
      const options = base();
      options.scales.y.max = 1;
      options.scales.y.ticks.callback = (v) => pct(v);
      options.plugins.tooltip = { callbacks: { title: (items) => items[0].label + " · " + e.sets[items[0].dataIndex], label: (c) => c.dataset.label + ": " + pct(c.parsed.y) } };
      const names = { fact_recall: "fact recall", hit_at_k: "hit@k", refusal_accuracy: "refusals right" };
      return {
        type: "line",
        data: { labels: e.labels, datasets: Object.keys(names).map((k, i) => ({ label: names[k], data: e[k], borderColor: PALETTE[i], backgroundColor: PALETTE[i], spanGaps: true, tension: 0.2, pointRadius: 3 })) },
        options: options,
      };
    },
  };

  function draw() {
    const source = document.getElementById("dashboard-data");
    if (!source || typeof Chart === "undefined") return;
    const data = JSON.parse(source.textContent);
    for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
      const build = builders[canvas.dataset.chart];
      if (!build) continue;
      canvas.chart = new Chart(canvas.getContext("2d"), build(data));
      canvas.dataset.drawn = "1";
    }
  }

  function customDays() {
    const period = document.querySelector("#dashboard-filters select[name=period]");
    const custom = document.querySelector("#dashboard-filters .dash-custom");
    if (!period || !custom) return;
    period.addEventListener("change", () => {
      custom.hidden = period.value !== "custom";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    customDays();
    draw();
  });
})();
