//! The zoomable timeline both pages draw (Jepsen's timeline.html, Porcupine's visualisation):
//! a time axis, a lane per process and per node, operations as bars from invocation to
//! completion coloured by outcome, faults as labelled shaded spans, point events as marks,
//! and a highlighted set (a finding's causal chain) drawn over them with the messages that
//! join its marks. Fitted to the window's width; wheel zooms, dragging pans, hovering shows
//! an element's details. The records here are the data; `SCRIPT` draws them.

use serde::Serialize;

/// A timeline's data.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Timeline {
    /// The time axis' unit: "ms" (virtual milliseconds) or "event" (history positions).
    pub unit: String,
    /// The axis' end (its start is 0).
    pub end: f64,
    pub lanes: Vec<Lane>,
    pub bars: Vec<Bar>,
    pub spans: Vec<Span>,
    pub marks: Vec<Mark>,
}

/// A horizontal lane.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Lane {
    pub name: String,
    /// "process" (a client's operations), "node" (a node's events) or "faults".
    pub group: String,
}

/// An operation from its invocation to its completion.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bar {
    pub lane: usize,
    pub start: f64,
    /// `None`: never completed (drawn to the end of the axis).
    pub end: Option<f64>,
    /// "ok", "fail", "info", or for the linearizability page "placed", "stuck", "unplaced".
    pub outcome: String,
    /// Short text drawn inside the bar when it fits.
    pub label: String,
    /// What hovering shows (lines separated by '\n').
    pub detail: String,
}

/// A shaded interval: a node down or paused, a partition, a held message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Span {
    pub lanes: Vec<usize>,
    pub start: f64,
    pub end: f64,
    /// "crash", "pause", "stop", "partition", "hold".
    pub kind: String,
    pub label: String,
    /// A held message's call id: highlighted with the chain or cause that holds the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<u64>,
}

/// A point event on a lane.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mark {
    pub lane: usize,
    pub at: f64,
    /// "send", "deliver", "drop", "duplicate", "hold", "fault", "crash", "restart", "pause",
    /// "resume", "stop", "stopped", "heal", "note".
    pub kind: String,
    pub detail: String,
    /// A message's call id: a highlighted send and delivery of the same call and direction
    /// are joined by a line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub response: bool,
}

pub(super) const STYLE: &str = r#"
.tl { position: relative; border: 1px solid #ccc; border-radius: 4px; width: 100%; overflow: hidden; background: #fff; }
.tl svg { display: block; cursor: grab; user-select: none; }
.tl svg.panning { cursor: grabbing; }
.tl-bar { display: flex; flex-wrap: wrap; gap: .4em; align-items: center; margin: .3em 0; font-size: 12px; }
.tl-bar button { font-size: 12px; padding: 1px 8px; }
.tl-tip { position: fixed; z-index: 10; pointer-events: none; background: #222; color: #fff; font: 11px/1.35 ui-monospace, monospace; padding: 4px 7px; border-radius: 3px; white-space: pre-wrap; max-width: 520px; display: none; }
.tl-legend { display: flex; flex-wrap: wrap; gap: 1em; font-size: 12px; margin: .3em 0; }
.tl-legend i { display: inline-block; width: 14px; height: 10px; margin-right: 4px; vertical-align: middle; border: 1px solid #0003; }
"#;

/// Draws a `Timeline` into a container: `drawTimeline(div, data)` returns a handle with
/// `highlight({marks, cause, bars})` and `show(t0, t1)`.
pub(super) const SCRIPT: &str = r##"
const SVGNS = "http://www.w3.org/2000/svg";
const TL_COLORS = {
  ok: "#8fd18f", fail: "#f0a0a0", info: "#f3d27a", open: "#ddd",
  placed: "#8fd18f", stuck: "#e53935", unplaced: "#d8d8d8",
  crash: "#e53935", stop: "#9e9e9e", pause: "#1e88e5", partition: "#8e24aa", hold: "#fb8c00",
};
function svgEl(tag, attrs, parent) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function niceStep(span, ticks) {
  const raw = span / Math.max(1, ticks), p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}
function drawTimeline(root, tl, opts) {
  opts = opts || {};
  const LABEL = 150, AXIS = 24, ROW = 12, GAP = 2, MAXROWS = 6;
  const unit = tl.unit === "event" ? "" : " ms";
  const unitName = tl.unit === "event" ? " (positions in the history)" : "";
  const end = tl.end > 0 ? tl.end : 1;
  const state = { t0: 0, t1: end, hi: { marks: new Set(), cause: new Set(), bars: new Set() } };
  // Bars of one lane that overlap in time go on separate rows of that lane.
  const rowsOf = tl.lanes.map(() => []), barRow = [];
  tl.bars.forEach((b, i) => {
    const ends = rowsOf[b.lane], s = b.start, e = b.end == null ? end : b.end;
    let r = ends.findIndex(x => x <= s);
    if (r < 0) { if (ends.length < MAXROWS) r = ends.length; else r = ends.indexOf(Math.min(...ends)); }
    ends[r] = Math.max(e, s + end * 1e-6); barRow[i] = r;
  });
  const laneY = [], laneH = [];
  let y = AXIS;
  tl.lanes.forEach((l, i) => { const rows = Math.max(1, rowsOf[i].length); laneY[i] = y; laneH[i] = rows * ROW + 2 * GAP; y += laneH[i]; });
  const height = y + 4;
  const bar = document.createElement("div"); bar.className = "tl-bar";
  const button = (text, title, f) => { const b = document.createElement("button"); b.textContent = text; b.title = title; b.onclick = f; bar.appendChild(b); return b; };
  button("fit", "show the whole run", () => show(0, end));
  button("−", "zoom out", () => zoom(2, (state.t0 + state.t1) / 2));
  button("+", "zoom in", () => zoom(0.5, (state.t0 + state.t1) / 2));
  if (opts.focusButton) button(opts.focusButton, "zoom to the highlighted events", () => focus());
  const range = document.createElement("span"); range.className = "muted"; bar.appendChild(range);
  const hint = document.createElement("span"); hint.className = "muted";
  hint.textContent = "· wheel: zoom · drag: pan · hover: details"; bar.appendChild(hint);
  const box = document.createElement("div"); box.className = "tl";
  const svg = svgEl("svg", { height });
  box.appendChild(svg);
  const tip = document.createElement("div"); tip.className = "tl-tip"; document.body.appendChild(tip);
  root.appendChild(bar); root.appendChild(box);
  let width = 800;
  const x = t => LABEL + (t - state.t0) / (state.t1 - state.t0) * (width - LABEL - 8);
  const timeAt = px => state.t0 + (px - LABEL) / (width - LABEL - 8) * (state.t1 - state.t0);
  function render() {
    width = Math.max(300, box.clientWidth);
    svg.setAttribute("width", width); svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const clip = svgEl("clipPath", { id: root.id + "-clip" }, svgEl("defs", {}, svg));
    svgEl("rect", { x: LABEL, y: 0, width: width - LABEL, height }, clip);
    tl.lanes.forEach((l, i) => {
      svgEl("rect", { x: 0, y: laneY[i], width, height: laneH[i], fill: i % 2 ? "#fafafa" : "#fff" }, svg);
      const t = svgEl("text", { x: 4, y: laneY[i] + laneH[i] / 2 + 4, "font-size": 11, fill: l.group === "process" ? "#1a5fb4" : l.group === "faults" ? "#a11" : "#333", "font-family": "ui-monospace, monospace" }, svg);
      t.textContent = l.name.length > 21 ? l.name.slice(0, 20) + "…" : l.name;
      const title = svgEl("title", {}, t); title.textContent = `${l.name} (${l.group})`;
    });
    drawAxis();
    const g = svgEl("g", { "clip-path": `url(#${root.id}-clip)` }, svg);
    drawSpans(g); drawBars(g); drawLinks(g); drawMarks(g);
    range.textContent = `showing ${fmt(state.t0)} – ${fmt(state.t1)}${unit} of ${fmt(end)}${unit}${unitName}`;
  }
  function fmt(t) { const s = state.t1 - state.t0; return s < 10 ? t.toFixed(3) : s < 1000 ? t.toFixed(1) : Math.round(t).toString(); }
  function drawAxis() {
    const step = niceStep(state.t1 - state.t0, (width - LABEL) / 90);
    svgEl("line", { x1: LABEL, x2: width, y1: AXIS - 1, y2: AXIS - 1, stroke: "#999" }, svg);
    for (let t = Math.ceil(state.t0 / step) * step; t <= state.t1; t += step) {
      const px = x(t);
      if (px > width - 40) break;
      svgEl("line", { x1: px, x2: px, y1: AXIS - 5, y2: height, stroke: "#0000000f" }, svg);
      const label = svgEl("text", { x: px + 2, y: AXIS - 8, "font-size": 10, fill: "#555" }, svg);
      label.textContent = (step < 1 ? t.toFixed(Math.ceil(-Math.log10(step))) : Math.round(t)) + unit;
    }
  }
  function visible(s, e) { return e >= state.t0 && s <= state.t1; }
  function callsOf(set) { const calls = new Set(); for (const i of set) if (tl.marks[i].call != null) calls.add(tl.marks[i].call); return calls; }
  function drawSpans(g) {
    const chainCalls = callsOf(state.hi.marks), causeCalls = callsOf(state.hi.cause);
    tl.spans.forEach((s, i) => {
      if (!visible(s.start, s.end)) return;
      const x0 = Math.max(LABEL - 2, x(s.start)), x1 = Math.min(width + 2, x(s.end)), w = Math.max(2, x1 - x0);
      const color = TL_COLORS[s.kind] || "#888";
      for (const lane of s.lanes) {
        if (s.kind === "hold") {
          // Held messages are many and overlap: a thin band at the lane's foot, no label;
          // one the highlighted chain or cause went through in its colour.
          const hi = causeCalls.has(s.call) ? "#6a1b9a" : chainCalls.has(s.call) ? "#ef6c00" : null;
          svgEl("rect", { x: x0, y: laneY[lane] + laneH[lane] - (hi ? 6 : 5), width: w, height: hi ? 5 : 4, fill: hi || color, "fill-opacity": hi ? 0.8 : 0.45, "data-span": i }, g);
          continue;
        }
        svgEl("rect", { x: x0, y: laneY[lane] + 1, width: w, height: laneH[lane] - 2, fill: color, "fill-opacity": 0.16, stroke: color, "stroke-opacity": 0.5, "data-span": i }, g);
        if (w > 40) { const t = svgEl("text", { x: x0 + 3, y: laneY[lane] + 10, "font-size": 9, fill: color, "data-span": i }, g); t.textContent = s.label.slice(0, Math.floor(w / 5.5)); }
      }
    });
  }
  function drawBars(g) {
    const hiBars = state.hi.bars, any = hiBars.size > 0;
    tl.bars.forEach((b, i) => {
      const e = b.end == null ? end : b.end;
      if (!visible(b.start, e)) return;
      const x0 = x(b.start), w = Math.max(1.5, x(e) - x0), y0 = laneY[b.lane] + GAP + barRow[i] * ROW;
      const hi = hiBars.has(i);
      svgEl("rect", { x: x0, y: y0 + 1, width: w, height: ROW - 2, rx: 2, fill: TL_COLORS[b.outcome] || "#ccc", stroke: hi ? "#e65100" : "#0000004d", "stroke-width": hi ? 2 : 0.5, "stroke-dasharray": b.end == null ? "3,2" : "", opacity: any && !hi ? 0.55 : 1, "data-bar": i }, g);
      // The label starts where the bar comes into view, so a long bar keeps its label.
      const lx = Math.max(x0, LABEL), lw = x0 + w - lx;
      if (lw > 28) { const t = svgEl("text", { x: lx + 2, y: y0 + ROW - 3, "font-size": 9, fill: "#222", "data-bar": i }, g); t.textContent = b.label.slice(0, Math.floor(lw / 5.3)); }
    });
  }
  function drawLinks(g) {
    // A highlighted message's send joined to its delivery (or drop, hold, duplicate).
    for (const [set, color] of [[state.hi.marks, "#ef6c00"], [state.hi.cause, "#6a1b9a"]]) {
      const sends = new Map();
      for (const i of set) { const m = tl.marks[i]; if (m.kind === "send") sends.set(`${m.call}:${m.response}`, m); }
      for (const i of set) {
        const m = tl.marks[i]; if (m.kind === "send" || m.call == null) continue;
        const s = sends.get(`${m.call}:${m.response}`); if (!s) continue;
        svgEl("line", { x1: x(s.at), y1: laneMid(s.lane), x2: x(m.at), y2: laneMid(m.lane), stroke: color, "stroke-width": 1.6, "stroke-dasharray": m.kind === "drop" ? "4,3" : "", "marker-end": "" }, g);
      }
    }
  }
  const laneMid = lane => laneY[lane] + laneH[lane] / 2;
  function labelFaults(g) {
    // The plan's faults, labelled where there is room before the next one.
    const faults = tl.marks.map((m, i) => [m, i]).filter(([m]) => tl.lanes[m.lane].group === "faults" && m.at >= state.t0 && m.at <= state.t1);
    faults.forEach(([m, i], k) => {
      const px = x(m.at), next = k + 1 < faults.length ? x(faults[k + 1][0].at) : width;
      const room = Math.floor((next - px - 12) / 5.4);
      if (room < 5) return;
      const text = m.detail.replace(/^fault #\d+: /, "");
      const t = svgEl("text", { x: px + 6, y: laneMid(m.lane) + 3, "font-size": 9, fill: "#a11", "data-mark": i }, g);
      t.textContent = text.length > room ? text.slice(0, room - 1) + "…" : text;
    });
  }
  function drawMarks(g) {
    labelFaults(g);
    const hi = state.hi;
    tl.marks.forEach((m, i) => {
      if (m.at < state.t0 || m.at > state.t1) return;
      const px = x(m.at), cy = laneMid(m.lane), inChain = hi.marks.has(i), inCause = hi.cause.has(i);
      if (inChain || inCause) {
        // A lost message of the chain in red: often what the whole finding turns on.
        const fill = m.kind === "drop" ? "#c62828" : inCause ? "#6a1b9a" : "#ef6c00";
        svgEl("circle", { cx: px, cy, r: m.kind === "drop" ? 5.5 : 4.5, fill, stroke: inCause ? "#6a1b9a" : "#ef6c00", "stroke-width": 1.5, "data-mark": i }, g);
      } else if (["fault", "crash", "restart", "pause", "resume", "stop", "stopped", "heal"].includes(m.kind)) {
        const color = m.kind === "heal" || m.kind === "restart" || m.kind === "resume" ? "#2e7d32" : "#c62828";
        svgEl("path", { d: `M${px},${cy - 6} l5,9 l-10,0 z`, fill: color, "data-mark": i }, g);
      } else {
        const color = m.kind === "drop" ? "#c62828" : m.kind === "duplicate" ? "#6a1b9a" : m.kind === "hold" ? "#fb8c00" : "#78909c";
        svgEl("line", { x1: px, x2: px, y1: cy - 5, y2: cy + 5, stroke: color, "stroke-width": 1.5, "data-mark": i }, g);
      }
    });
  }
  function show(t0, t1) {
    const min = end * 1e-6 + 1e-9;
    if (t1 - t0 < min) { const c = (t0 + t1) / 2; t0 = c - min / 2; t1 = c + min / 2; }
    const span = Math.min(t1 - t0, end);
    state.t0 = Math.max(0, Math.min(t0, end - span)); state.t1 = state.t0 + span;
    render();
  }
  function zoom(factor, at) { show(at - (at - state.t0) * factor, at + (state.t1 - at) * factor); }
  function focus() {
    const times = [];
    for (const i of [...state.hi.marks, ...state.hi.cause]) times.push(tl.marks[i].at);
    // An operation never completed counts by its start: its bar runs to the axis' end.
    for (const i of state.hi.bars) { const b = tl.bars[i]; times.push(b.start, b.end == null ? b.start : b.end); }
    if (!times.length) return show(0, end);
    const lo = Math.min(...times), hi = Math.max(...times), pad = Math.max((hi - lo) * (opts.focusPad || 0.08), end * 0.002);
    show(lo - pad, hi + pad);
  }
  svg.addEventListener("wheel", ev => {
    ev.preventDefault();
    const at = timeAt(ev.offsetX);
    zoom(ev.deltaY > 0 ? 1.25 : 0.8, Math.max(state.t0, Math.min(state.t1, at)));
  }, { passive: false });
  let drag = null;
  svg.addEventListener("mousedown", ev => { drag = { x: ev.clientX, t0: state.t0, t1: state.t1 }; svg.classList.add("panning"); });
  window.addEventListener("mouseup", () => { drag = null; svg.classList.remove("panning"); });
  window.addEventListener("mousemove", ev => {
    if (!drag) return;
    const dt = (ev.clientX - drag.x) / (width - LABEL - 8) * (drag.t1 - drag.t0);
    show(drag.t0 - dt, drag.t1 - dt);
  });
  svg.addEventListener("mousemove", ev => {
    const d = ev.target.dataset || {};
    let text = null;
    if (d.bar !== undefined) { const b = tl.bars[d.bar]; text = `${tl.lanes[b.lane].name}  ${fmt(b.start)}${unit} → ${b.end == null ? "never completed" : fmt(b.end) + unit}\n${b.detail}`; }
    else if (d.mark !== undefined) { const m = tl.marks[d.mark]; text = `${fmt(m.at)}${unit}  ${tl.lanes[m.lane].name}\n${m.detail}`; }
    else if (d.span !== undefined) { const s = tl.spans[d.span]; text = `${s.label}\n${fmt(s.start)}${unit} → ${fmt(s.end)}${unit}`; }
    if (text === null || drag) { tip.style.display = "none"; return; }
    tip.textContent = text; tip.style.display = "block";
    const w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.min(ev.clientX + 12, window.innerWidth - w - 4) + "px";
    tip.style.top = (ev.clientY + 14 + h > window.innerHeight ? ev.clientY - h - 8 : ev.clientY + 14) + "px";
  });
  svg.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  window.addEventListener("resize", render);
  render();
  return {
    highlight(h) { state.hi = { marks: new Set(h.marks || []), cause: new Set(h.cause || []), bars: new Set(h.bars || []) }; render(); },
    show, focus,
  };
}
function timelineLegend(items) {
  const div = document.createElement("div"); div.className = "tl-legend";
  for (const [color, text] of items) { const s = document.createElement("span"); const i = document.createElement("i"); i.style.background = color; s.appendChild(i); s.appendChild(document.createTextNode(text)); div.appendChild(s); }
  return div;
}
"##;
