// switchpoint's built-in dashboard: polls /ui/api/snapshot and draws it with inline SVG.
// No dependencies and no network access beyond the gateway that serves it.
"use strict";

const POLL_MS = 2000;
const SVG_NS = "http://www.w3.org/2000/svg";
const PALETTE = ["#58a6ff", "#3fb950", "#d29922", "#f778ba", "#a371f7", "#ff7b72",
                 "#79c0ff", "#56d364", "#e3b341", "#db61a2"];
const colours = new Map();

function colourFor(name) {
  if (!colours.has(name)) colours.set(name, PALETTE[colours.size % PALETTE.length]);
  return colours.get(name);
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

function fmtTime(epochS) {
  const d = new Date(epochS * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
function fmtClock(epochS) {
  const d = new Date(epochS * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
function fmtUsd(v) {
  if (v === null || v === undefined) return "–";
  if (v === 0) return "$0";
  return v < 0.01 ? "$" + v.toFixed(5) : "$" + v.toFixed(v < 10 ? 3 : 2);
}
function fmtPct(v) { return v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%"; }
function fmtMs(v) {
  if (v === null || v === undefined) return "–";
  return v >= 1000 ? (v / 1000).toFixed(2) + " s" : v.toFixed(0) + " ms";
}
// The axis top: four gridline steps of 1, 2, 2.5 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const raw = v / 4;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return 4 * m * p;
  return 40 * p;
}
function short(v) { return String(Number(v.toPrecision(3))); }

// A line chart over the snapshot's time axis. series: [{name, values, colour, dashed}].
function lineChart(svg, times, series, opts) {
  clear(svg);
  const width = svg.clientWidth || 600;
  const height = svg.clientHeight || 190;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const left = 46, right = 8, top = 8, bottom = 20;
  const plotW = width - left - right, plotH = height - top - bottom;
  let max = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  max = niceMax(opts.max !== undefined ? Math.max(opts.max, max) : max);
  const x = (i) => left + (times.length <= 1 ? 0 : (i / (times.length - 1)) * plotW);
  const y = (v) => top + plotH - (v / max) * plotH;
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    svg.appendChild(svgEl("line", { class: "grid", x1: left, x2: width - right, y1: y(v), y2: y(v) }));
    svg.appendChild(svgEl("text", { x: left - 4, y: y(v) + 3, "text-anchor": "end" }, opts.format(v)));
  }
  for (let i = 0; i < times.length; i += Math.max(1, Math.floor(times.length / 6))) {
    svg.appendChild(svgEl("text", { x: x(i), y: height - 4, "text-anchor": "middle" }, fmtClock(times[i])));
  }
  let points = 0;
  for (const s of series) {
    let d = "";
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) { pen = false; return; }
      d += (pen ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1) + " ";
      pen = true;
      points += 1;
    });
    if (d) {
      const path = svgEl("path", { d: d.trim(), class: "series" + (s.dashed ? " dashed" : ""), stroke: s.colour });
      path.appendChild(svgEl("title", {}, s.name));
      svg.appendChild(path);
    }
  }
  svg.dataset.points = String(points);
  if (points === 0) {
    svg.appendChild(svgEl("text", { class: "empty", x: left + plotW / 2, y: top + plotH / 2, "text-anchor": "middle" }, "no traffic yet"));
  }
}

// Horizontal bars. items: [{label, value, colour}].
function barChart(svg, items, format) {
  clear(svg);
  const width = svg.clientWidth || 400;
  const row = 20;
  const height = Math.max(row, items.length * row) + 4;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.style.height = height + "px";
  const labelW = Math.min(220, width * 0.45), valueW = 70;
  const max = Math.max(...items.map((i) => i.value), 0) || 1;
  items.forEach((item, index) => {
    const yTop = index * row + 2;
    svg.appendChild(svgEl("text", { x: labelW - 6, y: yTop + 13, "text-anchor": "end" }, item.label));
    const w = Math.max(item.value > 0 ? 2 : 0, ((width - labelW - valueW) * item.value) / max);
    const bar = svgEl("rect", { class: "bar", x: labelW, y: yTop + 2, width: w.toFixed(1), height: row - 6, fill: item.colour, rx: 2 });
    bar.appendChild(svgEl("title", {}, `${item.label}: ${format(item.value)}`));
    svg.appendChild(bar);
    svg.appendChild(svgEl("text", { x: labelW + w + 4, y: yTop + 13 }, format(item.value)));
  });
  svg.dataset.bars = String(items.length);
  if (items.length === 0) {
    svg.appendChild(svgEl("text", { class: "empty", x: width / 2, y: 14, "text-anchor": "middle" }, "nothing yet"));
  }
}

function legend(node, entries) {
  clear(node);
  for (const [name, colour, suffix] of entries) {
    const item = el("span", {}, name + (suffix || ""));
    item.style.setProperty("--swatch", colour);
    node.appendChild(item);
  }
}

function sum(values) { return values.reduce((a, b) => a + (b || 0), 0); }

function renderKpis(s) {
  const recent = s.traffic.rps.slice(-30);
  const last = s.traffic.rps.slice(-2);
  document.getElementById("version").textContent = `v${s.version} · up ${Math.round(s.uptime_s)} s` +
    (s.worker ? ` · worker ${s.worker.index + 1} of ${s.worker.count} (this page shows one worker; /metrics covers all)` : "");
  document.getElementById("kpi-rps").textContent = (sum(last) / Math.max(1, last.length)).toFixed(1);
  document.getElementById("kpi-inflight").textContent = s.in_flight === null ? "–" : s.in_flight;
  const requests = sum(recent) * s.bucket_s;
  const errors = sum(s.errors.slice(-30));
  document.getElementById("kpi-errors").textContent = requests ? fmtPct(errors / requests) : "–";
  document.getElementById("kpi-fallback").textContent = fmtPct(s.fallback.rate_now);
  document.getElementById("kpi-cost").textContent = fmtUsd(sum(s.costs.since_start.map((r) => r.cost_usd)));
  const open = s.breakers.targets.filter((t) => t.state !== "closed").length;
  const node = document.getElementById("kpi-breakers");
  node.textContent = String(open);
  node.className = "value " + (open ? "bad" : "ok");
}

function renderTraffic(s) {
  const rps = short;
  for (const [key, id] of [["by_workload", "traffic-workload"], ["by_model", "traffic-model"]]) {
    const entries = Object.entries(s.traffic[key]);
    const series = entries.map(([name, values]) => ({ name, values, colour: colourFor(name) }));
    lineChart(document.getElementById("chart-" + id), s.times, series, { format: rps });
    legend(document.getElementById("legend-" + id), entries.map(([name]) => [name, colourFor(name)]));
  }
}

function renderLatency(s) {
  const series = [];
  const body = document.querySelector("#table-latency tbody");
  clear(body);
  for (const [provider, data] of Object.entries(s.latency)) {
    const colour = colourFor("provider:" + provider);
    series.push({ name: provider + " p95", values: data.p95_ms, colour });
    series.push({ name: provider + " p50", values: data.p50_ms, colour, dashed: true });
    const row = el("tr");
    row.appendChild(el("td", {}, provider));
    row.appendChild(el("td", { class: "num" }, fmtMs(data.p50_now_ms)));
    row.appendChild(el("td", { class: "num" }, fmtMs(data.p95_now_ms)));
    row.appendChild(el("td", { class: "num" }, data.attempts_now));
    body.appendChild(row);
  }
  lineChart(document.getElementById("chart-latency"), s.times, series, { format: (v) => fmtMs(v) });
  legend(document.getElementById("legend-latency"),
    Object.keys(s.latency).map((p) => [p, colourFor("provider:" + p)]));
}

function renderFallback(s) {
  lineChart(document.getElementById("chart-fallback"), s.times,
    [{ name: "fallback rate", values: s.fallback.rate, colour: "#d29922" }],
    { format: (v) => short(v * 100) + "%", max: 0.1 });
  const items = Object.entries(s.fallback.reasons).map(([reason, count]) =>
    ({ label: reason, value: count, colour: colourFor("reason:" + reason) }));
  barChart(document.getElementById("chart-fallback-reasons"), items, (v) => String(v));
}

function renderBreakers(s) {
  const box = document.getElementById("breakers");
  clear(box);
  for (const t of s.breakers.targets) {
    const tile = el("div", { class: "breaker", "data-state": t.state,
                             "data-target": `${t.provider}/${t.model}` });
    tile.appendChild(el("div", { class: "target" }, t.model));
    tile.appendChild(el("div", { class: "muted" }, t.provider));
    tile.appendChild(el("div", { class: "state" }, t.state.replace("_", "-")));
    if (t.since) tile.appendChild(el("div", { class: "muted" }, "since " + fmtTime(t.since)));
    box.appendChild(tile);
  }
  const list = document.getElementById("transitions");
  clear(list);
  if (!s.breakers.transitions.length) list.appendChild(el("li", { class: "muted" }, "no transitions yet"));
  for (const t of s.breakers.transitions.slice(0, 30)) {
    const item = el("li");
    item.appendChild(el("span", { class: "muted" }, fmtTime(t.at) + " "));
    item.appendChild(el("strong", {}, `${t.provider}/${t.model} `));
    item.appendChild(el("span", { class: t.to === "open" ? "bad" : t.to === "closed" ? "ok" : "warn" },
      `${t.from.replace("_", "-")} → ${t.to.replace("_", "-")}`));
    item.appendChild(el("span", { class: "muted" }, " " + t.reason));
    list.appendChild(item);
  }
}

function renderCosts(s) {
  const rows = s.costs.since_start;
  barChart(document.getElementById("chart-cost"),
    rows.filter((r) => r.cost_usd > 0).map((r) => ({
      label: `${r.workload} · ${r.model}`, value: r.cost_usd, colour: colourFor(r.model) })),
    fmtUsd);
  const body = document.querySelector("#table-cost tbody");
  clear(body);
  for (const r of rows) {
    const row = el("tr");
    row.appendChild(el("td", {}, r.workload));
    row.appendChild(el("td", {}, r.model));
    row.appendChild(el("td", { class: "num" }, r.requests));
    row.appendChild(el("td", { class: "num" }, r.ok));
    row.appendChild(el("td", { class: "num" }, fmtUsd(r.cost_usd)));
    row.appendChild(el("td", { class: "num" }, fmtUsd(r.cost_per_ok_usd)));
    body.appendChild(row);
  }
  const box = document.getElementById("ledger");
  clear(box);
  const ledger = s.ledger;
  if (!ledger) {
    box.appendChild(el("p", { class: "note" },
      "No ledger is attached to this gateway, so cost per completed outcome (per task, " +
      "across its requests) is not available; the table above shows cost per successful request."));
    return;
  }
  box.appendChild(el("p", { class: "muted" },
    `${ledger.database} · ${ledger.available ? "writing" : "UNAVAILABLE"} · queue ` +
    `${ledger.queue_depth}/${ledger.max_queue} · written ${ledger.written} · dropped ${ledger.dropped}` +
    (ledger.stale ? " · figures stale (the ledger is slow to answer)" : "")));
  if (ledger.error) { box.appendChild(el("p", { class: "note" }, ledger.error)); return; }
  const hours = Math.round((ledger.window_s || 0) / 3600);
  for (const [key, title] of [["by_workload", "workload"], ["by_model", "model"]]) {
    const groups = ledger[key] || [];
    box.appendChild(el("h3", {}, `by ${title}, last ${hours} h`));
    const svg = svgEl("svg", { class: "bars", id: `chart-ledger-${title}`, role: "img" });
    box.appendChild(svg);
    barChart(svg, groups.filter((g) => g.cost_per_completed_outcome !== null).map((g) => ({
      label: g.key, value: g.cost_per_completed_outcome, colour: colourFor(g.key) })), fmtUsd);
    const table = el("table");
    const head = el("tr");
    for (const h of [title, "tasks", "completed", "success", "cost USD", "USD per completed outcome"]) {
      head.appendChild(el("th", {}, h));
    }
    table.appendChild(head);
    for (const g of groups) {
      const row = el("tr");
      row.appendChild(el("td", {}, g.key));
      row.appendChild(el("td", { class: "num" }, g.tasks));
      row.appendChild(el("td", { class: "num" }, g.completed_outcomes));
      row.appendChild(el("td", { class: "num" }, fmtPct(g.success_rate)));
      row.appendChild(el("td", { class: "num" }, fmtUsd(g.cost_usd)));
      row.appendChild(el("td", { class: "num" }, fmtUsd(g.cost_per_completed_outcome)));
      table.appendChild(row);
    }
    if (!groups.length) {
      const row = el("tr");
      row.appendChild(el("td", { colspan: "6", class: "muted" }, "no tasks recorded yet"));
      table.appendChild(row);
    }
    box.appendChild(table);
  }
}

function renderRecent(s) {
  const body = document.querySelector("#table-recent tbody");
  clear(body);
  for (const c of s.recent.slice(0, 25)) {
    const row = el("tr");
    row.appendChild(el("td", { title: c.request_id }, fmtTime(c.at)));
    row.appendChild(el("td", {}, (c.workload || "–") + (c.stream ? " (stream)" : "")));
    const served = el("td");
    served.appendChild(el("div", {}, c.model === "none" ? "–" : `${c.model}`));
    served.appendChild(el("div", { class: "muted" }, `${c.profile} · ${c.provider}`));
    row.appendChild(served);
    const why = el("td");
    for (const rule of c.rules) why.appendChild(el("span", { class: "tag fallback" }, rule));
    for (const reason of c.fallback_reasons) why.appendChild(el("span", { class: "tag error" }, reason));
    const text = c.explanations.length ? c.explanations.join("; ") : c.rationale;
    if (text) why.appendChild(el("div", { class: "rationale" }, text));
    row.appendChild(why);
    row.appendChild(el("td", { class: c.status === "ok" ? "ok" : "bad", title: c.error || "" },
      c.status === "ok" ? "ok" : `${c.http_status} ${c.status}`));
    row.appendChild(el("td", { class: "num" }, fmtMs(c.latency_ms)));
    row.appendChild(el("td", { class: "num" }, fmtUsd(c.cost_usd)));
    body.appendChild(row);
  }
}

function render(s) {
  renderKpis(s);
  renderTraffic(s);
  renderLatency(s);
  renderFallback(s);
  renderBreakers(s);
  renderCosts(s);
  renderRecent(s);
  document.body.dataset.generatedAt = String(s.generated_at);
}

function setStatus(text, kind) {
  const node = document.getElementById("status");
  node.textContent = text;
  node.className = "status " + kind;
}

let lastSnapshot = null;
async function poll() {
  try {
    const response = await fetch("/ui/api/snapshot", { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) { window.location.reload(); return; }
    if (!response.ok) throw new Error("HTTP " + response.status);
    lastSnapshot = await response.json();
    render(lastSnapshot);
    setStatus("live", "live");
  } catch (error) {
    setStatus("disconnected: " + error.message, "stale");
  } finally {
    window.setTimeout(poll, POLL_MS);
  }
}

window.addEventListener("resize", () => { if (lastSnapshot) render(lastSnapshot); });
poll();
