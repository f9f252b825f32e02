// eeg-edge live display: the ward overview and one page per bed, fed by server-sent events.
// The server sends a snapshot first, then deltas; everything here is rendering, no state is sent back.
"use strict";

const CLASSES_FALLBACK = ["seizure", "lpd", "gpd", "lrda", "grda", "other"];
const COLORS = ["#cc3333", "#ee9900", "#bb55bb", "#3388bb", "#33aa99", "#999999"];
const LEFT = ["LL", "LP"], RIGHT = ["RL", "RP"];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function fmt(x, digits = 2) { return typeof x === "number" ? x.toFixed(digits) : "-"; }

function connect(url, handlers) {
  const status = document.getElementById("connection");
  const source = new EventSource(url);
  source.onopen = () => { status.textContent = "live"; status.classList.remove("lost"); };
  source.onerror = () => {
    status.textContent = "connection lost, retrying"; status.classList.add("lost");
    if (source.readyState === EventSource.CLOSED) setTimeout(() => connect(url, handlers), 2000);  // e.g. 404
  };
  for (const [event, fn] of Object.entries(handlers)) {
    source.addEventListener(event, (e) => fn(JSON.parse(e.data)));
  }
}

function probBars(smoothed, classes) {
  const bars = el("div", { class: "bars" });
  for (const c of classes) {
    const p = smoothed ? smoothed[c] : null;
    const fill = el("span");
    fill.style.width = `${Math.round(100 * (p || 0))}%`;
    bars.append(el("span", { text: c }), el("div", { class: `bar ${c}` }, fill), el("span", { text: fmt(p) }));
  }
  return bars;
}

function burdenText(burden) {
  if (!burden || typeof burden !== "object") return null;
  const parts = Object.entries(burden).filter(([k, v]) => typeof v === "number" && !k.endsWith("_s"))
    .map(([k, v]) => `${k} ${Math.round(100 * v)}%`);
  const span = typeof burden.window_s === "number" ? ` over ${fmt(burden.window_s / 60, 0)} min` : "";
  return parts.length ? `burden${span}: ${parts.join(", ")}` : null;
}

function rejectedText(rejected) {
  // records the display could not read (edge/display/intake.py): counted and named, never shown as data
  if (!rejected || !rejected.count) return null;
  return `${rejected.count} bad record${rejected.count === 1 ? "" : "s"} ignored (last: ${rejected.last})`;
}

function tileFacts(tile) {
  const facts = [];
  if (tile.stale) facts.push(tile.age_s === null ? "no data yet" : `STALE: no data for ${fmt(tile.age_s, 0)} s`);
  if (tile.status && !tile.stale) facts.push(`${tile.status.kind}: ${tile.status.message}`);
  const quality = Object.entries(tile.quality || {}).map(([k, v]) => `${k}: ${v.join(" ")}`);
  if (quality.length) facts.push(`quality ${quality.join("; ")}`);
  if (tile.latency_ms !== null && tile.latency_ms !== undefined) facts.push(`latency ${fmt(tile.latency_ms, 1)} ms`);
  const rejected = rejectedText(tile.rejected);
  if (rejected) facts.push(rejected);
  return facts;
}

function wardTile(tile) {
  const link = el("a", { class: "tile", href: `/bed?stream=${encodeURIComponent(tile.stream)}`,
    "data-stream": tile.stream, "data-state": tile.state, "data-stale": String(tile.stale),
    "data-window-end": String(tile.window_end), "data-smoothed": JSON.stringify(tile.smoothed) });
  link.append(el("h2", {}, el("span", { text: tile.stream }),
    el("span", { class: "badge", "data-state": tile.state, text: tile.state })));
  if (tile.alarms.length) link.append(el("p", { class: "alarmtext", text: `ALARM ${tile.alarms.join(", ")}` }));
  const shown = tile.smoothed || tile.probs;  // a flagged window has no smoothed values
  link.append(probBars(shown, shown ? Object.keys(shown) : CLASSES_FALLBACK));
  if (!tile.smoothed && tile.probs) link.append(el("p", { class: "meta", text: "flagged window: its own probabilities, not smoothed" }));
  const burden = burdenText(tile.burden);
  if (burden) link.append(el("p", { class: "meta", text: burden }));
  for (const fact of tileFacts(tile)) link.append(el("p", { class: "meta", text: fact }));
  return link;
}

function tileKey(tile) {
  // what a tile shows: a live tile's age is not shown, so it is not rebuilt every second for it
  return JSON.stringify({ ...tile, age_s: tile.stale ? tile.age_s : null });
}

function initWard() {
  // The ward is pushed up to 5 times a second; only tiles whose content changed are rebuilt, so 32 beds
  // cost the page (often on the monitor's own machine) a few tiles a second, not the whole ward each time.
  const tiles = document.getElementById("tiles");
  const built = new Map();  // stream -> {key, node}
  const rejected = document.getElementById("rejected");
  connect("/events", {
    ward: (ward) => {
      const text = rejectedText(ward.rejected);
      rejected.textContent = text || "";
      rejected.dataset.count = String(ward.rejected ? ward.rejected.count : 0);
      const nodes = ward.tiles.map((tile) => {
        const key = tileKey(tile);
        let entry = built.get(tile.stream);
        if (!entry || entry.key !== key) built.set(tile.stream, entry = { key, node: wardTile(tile) });
        return entry.node;
      });
      const listed = new Set(ward.tiles.map((tile) => tile.stream));
      for (const stream of [...built.keys()]) if (!listed.has(stream)) built.delete(stream);
      const current = [...tiles.children];
      const sameOrder = current.length === nodes.length
        && current.every((node, i) => node.dataset.stream === nodes[i].dataset.stream);
      if (!sameOrder) tiles.replaceChildren(...nodes);
      else nodes.forEach((node, i) => { if (current[i] !== node) current[i].replaceWith(node); });
    },
  });
}

// ---- bed page -------------------------------------------------------------------------------------------

class Bed {
  constructor(stream) {
    this.stream = stream;
    this.points = [];
    this.alarms = [];
    this.trends = [];
    this.classes = CLASSES_FALLBACK;
    this.levels = { burden: [], window: [] };
    this.eeg = null;
    this.range = 3600;
    this.plots = {};
    this.drawHooks = {};
    document.getElementById("stream").textContent = stream;
    document.title = `eeg-edge ${stream}`;
    document.getElementById("sensitivity").addEventListener("change", () => this.drawEeg());
    for (const button of document.querySelectorAll(".ranges button")) {
      button.addEventListener("click", () => {
        for (const b of document.querySelectorAll(".ranges button")) b.classList.toggle("on", b === button);
        this.range = Number(button.dataset.range);
        this.drawCharts();
      });
    }
  }

  snapshot(s) {
    this.classes = s.classes;
    this.levels = { burden: s.burden_levels || [], window: s.window_thresholds || [] };
    this.points = s.points;
    this.alarms = s.alarms;
    this.trends = s.trends || [];
    this.eeg = s.eeg;
    this.render(s.tile, true, true);
  }

  delta(d) {
    const lastT = this.points.length ? this.points[this.points.length - 1].t : -Infinity;
    for (const p of d.points) if (p.t > lastT || p.t < lastT - 86400) this.points.push(p);
    const cut = this.points.length ? this.points[this.points.length - 1].t - 86400 : 0;
    while (this.points.length && this.points[0].t < cut) this.points.shift();
    const lastAlarm = this.alarms.length ? this.alarms[this.alarms.length - 1].received : -Infinity;
    for (const a of d.alarms) if (a.received > lastAlarm) this.alarms.push(a);
    const lastTrend = this.trends.length ? this.trends[this.trends.length - 1].t : -Infinity;
    for (const t of d.trends) if (t.t > lastTrend) this.trends.push(t);
    const trendCut = this.trends.length ? this.trends[this.trends.length - 1].t - 86400 : 0;
    while (this.trends.length && this.trends[0].t < trendCut) this.trends.shift();
    if (d.eeg) this.eeg = d.eeg;
    this.render(d.tile, Boolean(d.eeg), d.points.length + d.alarms.length + d.trends.length > 0);
  }

  render(tile, eeg, charts) {
    this.tile = tile;
    const state = document.getElementById("state");
    state.textContent = tile.alarms.length ? `alarm: ${tile.alarms.join(", ")}` : tile.state;
    state.dataset.state = tile.state;
    document.body.dataset.state = tile.state;
    const facts = [`model ${tile.model || "-"}`, ...tileFacts(tile)];
    document.getElementById("facts").textContent = facts.join(" | ");
    this.renderProbs(tile);
    this.renderQuality(tile);
    this.renderAlarms();
    if (eeg) this.drawEeg();
    if (charts) this.drawCharts();
  }

  renderProbs(tile) {
    const table = document.getElementById("probs");
    table.dataset.windowEnd = String(tile.window_end);
    table.dataset.smoothed = JSON.stringify(tile.smoothed);
    table.dataset.probs = JSON.stringify(tile.probs);
    const rows = [el("tr", {}, el("th", { text: "class" }), el("th", { text: "smoothed" }), el("th", { text: "this window" }))];
    for (const c of this.classes) {
      rows.push(el("tr", {}, el("td", { text: c }), el("td", { text: fmt(tile.smoothed && tile.smoothed[c], 3) }),
        el("td", { text: fmt(tile.probs && tile.probs[c], 3) })));
    }
    table.replaceChildren(...rows);
    const span = tile.label_start === null || tile.label_start === undefined ? "no prediction yet"
      : `newest prediction: labelled span ${fmt(tile.label_start, 1)} to ${fmt(tile.label_end, 1)} s (stream clock)`;
    const burden = burdenText(tile.burden);
    document.getElementById("label-span").textContent = burden ? `${span}; ${burden}` : span;
  }

  renderQuality(tile) {
    const byChannel = {};
    for (const [flag, channels] of Object.entries(tile.quality || {})) {
      for (const c of channels) (byChannel[c] = byChannel[c] || []).push(flag);
    }
    const rows = Object.entries(byChannel).sort()
      .map(([c, flags]) => el("tr", { class: "flag", "data-channel": c }, el("td", { text: c }), el("td", { text: flags.join(", ") })));
    if (!rows.length) rows.push(el("tr", {}, el("td", { text: tile.window_end === null ? "no window yet" : "all channels ok" })));
    document.getElementById("quality").replaceChildren(...rows);
  }

  renderAlarms() {
    const body = document.querySelector("#alarms tbody");
    const rows = this.alarms.slice(-50).reverse().map((a) => el("tr", {},
      el("td", { text: new Date(a.received * 1000).toLocaleTimeString() }),
      el("td", { text: a.level || a.class || "alarm" }), el("td", { text: a.state }),
      el("td", { text: fmt(a.p ?? a.burden, 2) }), el("td", { text: fmt(a.t, 1) })));
    body.replaceChildren(...rows);
  }

  drawEeg() {
    const canvas = document.getElementById("eeg");
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = "12px system-ui";
    if (!this.eeg) { ctx.fillText("no EEG window yet", 20, 30); return; }
    const { labels, rate_hz: rate } = this.eeg;
    const traces = decodeTraces(this.eeg);
    canvas.dataset.tEnd = String(this.eeg.t_end);
    canvas.dataset.pairs = String(labels.length);
    const uvPerTrace = Number(document.getElementById("sensitivity").value);
    const left = 70, right = 20, top = 10, rowH = (canvas.height - top - 30) / labels.length;
    const n = traces[0].length, dx = (canvas.width - left - right) / n, scale = rowH / uvPerTrace;
    ctx.strokeStyle = "#eee";
    for (let s = 0; s <= n / rate; s++) {  // one-second grid
      const x = left + s * rate * dx;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, canvas.height - 30); ctx.stroke();
    }
    labels.forEach((label, i) => {
      const y0 = top + (i + 0.5) * rowH;
      ctx.fillStyle = "#333"; ctx.fillText(label, 4, y0 + 4);
      ctx.strokeStyle = i < 8 ? "#124" : "#422";
      ctx.beginPath();
      const trace = traces[i];
      for (let k = 0; k < n; k++) {
        // negative up, the EEG convention
        const y = y0 - Math.max(-rowH * 2, Math.min(rowH * 2, trace[k] * scale));
        if (k === 0) ctx.moveTo(left, y); else ctx.lineTo(left + k * dx, y);
      }
      ctx.stroke();
    });
    const barX = canvas.width - right - 4, barY = canvas.height - 28;  // scale bar: uV/trace high, 1 s wide
    ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(barX, barY); ctx.lineTo(barX, barY - rowH); ctx.lineTo(barX - rate * dx, barY - rowH); ctx.stroke();
    ctx.lineWidth = 1; ctx.fillStyle = "#000";
    ctx.fillText(`${uvPerTrace} uV`, barX - 60, barY - rowH / 2);
    ctx.fillText("1 s", barX - rate * dx, barY - rowH - 4);
    ctx.fillText(`last ${fmt(n / rate, 0)} s, ends at stream t ${fmt(this.eeg.t_end, 1)} s`, left, canvas.height - 8);
  }

  visible() {
    if (!this.points.length) return [];
    return thin(this.points.filter((p) => p.t >= this.points[this.points.length - 1].t - this.range));
  }

  chart(id, series, data, opts = {}) {
    // Same layout as the chart on screen: new data into it (setData), no rebuild; the draw hooks are read
    // through this.drawHooks so they can change (the labelled span moves every update).
    this.drawHooks[id] = (opts.hooks && opts.hooks.draw) || [];
    const layout = JSON.stringify([series.map((s) => s.label), opts.height, opts.yRange, opts.yLabel,
      (opts.bands || []).length]);
    const plot = this.plots[id];
    if (plot && plot.layout === layout) { plot.setData(data); return; }
    if (plot) plot.destroy();
    const node = document.getElementById(id);
    const width = Math.max(300, node.clientWidth || 900);
    this.plots[id] = new uPlot({
      width, height: opts.height || 220, scales: { x: { time: false }, y: { range: opts.yRange || [0, 1] } },
      axes: [{ label: "minutes before the newest prediction" }, { label: opts.yLabel || "" }],
      series: [{}, ...series], bands: opts.bands || [],
      hooks: { draw: [(u) => this.drawHooks[id].forEach((hook) => hook(u))] },
    }, data, node);
    this.plots[id].layout = layout;
  }

  drawCharts() {
    if (typeof uPlot === "undefined") return;
    const points = this.visible();
    if (!points.length) return;
    const end = points[points.length - 1].t;
    const x = points.map((p) => (p.t - end) / 60);
    // stacked: series k is the sum of classes 0..k; bands fill between neighbours
    const stacked = [], running = points.map(() => 0);
    this.classes.forEach((_, k) => {  // a flagged window (no smoothed values) leaves a gap
      points.forEach((p, i) => { running[i] = p.smoothed ? running[i] + p.smoothed[k] : null; });
      stacked.push(running.slice());
    });
    const series = this.classes.map((c, k) => ({ label: c, stroke: COLORS[k], fill: `${COLORS[k]}88`, width: 1 }));
    const bands = this.classes.slice(1).map((_, k) => ({ series: [k + 2, k + 1] }));
    const span = this.spanHook(end);
    this.chart("timeline", series, [x, ...stacked], { bands, hooks: { draw: [span] }, yLabel: "smoothed, stacked" });
    this.drawBurden(points, x, span);
    this.drawTrends();
  }

  spanHook(end) {
    // the labelled 10 s span of the newest prediction, shaded (seconds wide: drawn at least 3 px)
    const { label_start: start, label_end: stop } = this.tile;
    return (u) => {
      if (typeof start !== "number") return;
      const x0 = u.valToPos((start - end) / 60, "x", true);
      const x1 = Math.max(x0 + 3, u.valToPos((stop - end) / 60, "x", true));
      u.ctx.fillStyle = "#0006";
      u.ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
    };
  }

  drawBurden(points, x, span) {
    const withBurden = points.filter((p) => p.burden);
    const levels = withBurden.length ? this.levels.burden : this.levels.window;
    const lines = (u) => {
      span(u);
      for (const [label, value] of levels) {
        const y = u.valToPos(value, "y", true);
        u.ctx.strokeStyle = "#c00"; u.ctx.setLineDash([4, 4]);
        u.ctx.beginPath(); u.ctx.moveTo(u.bbox.left, y); u.ctx.lineTo(u.bbox.left + u.bbox.width, y); u.ctx.stroke();
        u.ctx.setLineDash([]); u.ctx.fillStyle = "#c00"; u.ctx.textAlign = "left"; u.ctx.textBaseline = "bottom";
        u.ctx.font = `${12 * devicePixelRatio}px system-ui`; u.ctx.fillText(label, u.bbox.left + 4, y - 2);
      }
    };
    if (withBurden.length) {
      const keys = Object.keys(withBurden[withBurden.length - 1].burden)
        .filter((k) => typeof withBurden[withBurden.length - 1].burden[k] === "number" && k !== "coverage" && !k.endsWith("_s"));
      document.getElementById("burden-title").textContent = "Burden (share of the burden window), alarm levels dashed";
      const data = keys.map((k) => points.map((p) => (p.burden && typeof p.burden[k] === "number" ? p.burden[k] : null)));
      this.chart("burden", keys.map((k, i) => ({ label: k, stroke: COLORS[i % COLORS.length], width: 1.5 })),
        [x, ...data], { hooks: { draw: [lines] }, height: 180 });
    } else {
      document.getElementById("burden-title").textContent =
        "Smoothed probabilities (no burden in these records yet), alarm thresholds dashed";
      const data = this.classes.map((_, k) => points.map((p) => (p.smoothed ? p.smoothed[k] : null)));
      this.chart("burden", this.classes.map((c, k) => ({ label: c, stroke: COLORS[k], width: 1.5 })),
        [x, ...data], { hooks: { draw: [lines] }, height: 180 });
    }
  }

  drawTrends() {
    const recent = this.trends.filter((t) => t.cdsa || t.aeeg);
    if (!recent.length) return;
    const end = recent[recent.length - 1].t;
    const shown = thin(recent.filter((t) => t.t >= end - this.range));
    const hemis = { left: LEFT, right: RIGHT };
    const nodes = [];
    for (const [name, chains] of Object.entries(hemis)) {
      const rows = shown.map((t) => mean(chains.map((c) => (t.cdsa || {})[c]).filter(Boolean)));
      if (rows.length && rows[0]) nodes.push(el("p", { class: "note", text: `CDSA ${name} (0.5-20 Hz, log power; low frequencies at the bottom)` }), cdsaCanvas(rows));
    }
    // the aEEG chart's node stays in place: the chart takes new data into it (setData)
    document.getElementById("cdsa").replaceChildren(...nodes);
    const x = shown.map((t) => (t.t - end) / 60);
    const series = [], data = [];
    for (const [name, chains] of Object.entries(hemis)) {
      for (const [k, bound] of [[0, "lower"], [1, "upper"]]) {
        series.push({ label: `aEEG ${name} ${bound}`, stroke: name === "left" ? "#124" : "#a33", width: 1 });
        data.push(shown.map((t) => avg(chains.map((c) => ((t.aeeg || {})[c] || [])[k]))));
      }
    }
    if (shown.some((t) => t.aeeg)) {
      this.chart("aeeg", series, [x, ...data], { yRange: [0, null], yLabel: "uV", height: 160 });
    }
  }
}

function thin(items) {
  // at most ~2000 items, the newest always kept: enough for a screen width at any range
  const stride = Math.max(1, Math.ceil(items.length / 2000));
  return stride === 1 ? items : items.filter((_, i) => i % stride === 0 || i === items.length - 1);
}

function decodeTraces(frame) {
  // int16 little-endian rows, in units of step_uv (edge/display/state.py eeg_frame)
  const bytes = Uint8Array.from(atob(frame.traces_b64), (c) => c.charCodeAt(0));
  const steps = new Int16Array(bytes.buffer);
  return frame.labels.map((_, i) => Array.from(steps.subarray(i * frame.samples, (i + 1) * frame.samples),
    (v) => v * frame.step_uv));
}

function avg(values) {
  const ok = values.filter((v) => typeof v === "number");
  return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : null;
}

function mean(arrays) {
  if (!arrays.length) return null;
  return arrays[0].map((_, i) => avg(arrays.map((a) => a[i])));
}

function cdsaCanvas(rows) {
  const bins = rows[0].length, canvas = el("canvas", { class: "cdsa", width: String(rows.length), height: String(bins) });
  const ctx = canvas.getContext("2d"), image = ctx.createImageData(rows.length, bins);
  let lo = Infinity, hi = -Infinity;  // a loop: spreading a day of bins into Math.min overflows the stack
  for (const row of rows) for (const v of row) if (typeof v === "number") { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const span = hi - lo || 1;
  rows.forEach((row, x) => row.forEach((v, b) => {
    const level = typeof v === "number" ? (v - lo) / span : 0, at = 4 * ((bins - 1 - b) * rows.length + x);
    image.data[at] = 255 * Math.min(1, 2 * level); image.data[at + 1] = 255 * Math.max(0, 2 * level - 1);
    image.data[at + 2] = 255 * (1 - level); image.data[at + 3] = 255;
  }));
  ctx.putImageData(image, 0, 0);
  return canvas;
}

function initBed() {
  const stream = new URLSearchParams(location.search).get("stream") || "";
  const bed = new Bed(stream);
  connect(`/events?stream=${encodeURIComponent(stream)}`, {
    snapshot: (s) => bed.snapshot(s), delta: (d) => bed.delta(d),
  });
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.dataset.page === "ward") initWard(); else initBed();
});
