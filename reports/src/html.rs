//! A self-contained HTML page for one run: verdict, findings with their causal chains, a
//! timeline with one lane per node (messages, faults, the highlighted chain), and a
//! per-partition offset view. No network: data and code are inline.

use serde::Serialize;

use crate::run::RunReport;

/// One event on the timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimelineEvent {
    pub at_ms: f64,
    /// Index into `Timeline::nodes`.
    pub node: usize,
    /// "send", "deliver", "drop", "duplicate", "hold", "fault", "crash", "restart", "pause",
    /// "resume", "stop", "stopped", "heal", "note".
    pub kind: String,
    pub text: String,
    /// The other end of a message.
    pub peer: Option<usize>,
    /// Call id of a message (request and response share it).
    pub call: Option<u64>,
    pub response: bool,
    /// Part of a finding's causal chain.
    pub highlight: bool,
}

/// The timeline of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Timeline {
    pub nodes: Vec<String>,
    pub events: Vec<TimelineEvent>,
    pub end_ms: f64,
}

/// One step of a finding's causal chain, in time order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChainStep {
    pub at_ms: f64,
    pub node: String,
    pub text: String,
}

/// A partition's records for the offset view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartitionView {
    pub name: String,
    /// (offset, value, flagged by a finding)
    pub records: Vec<(u64, u64, bool)>,
}

#[derive(Serialize)]
struct PageData<'a> {
    report: &'a RunReport,
    timeline: &'a Timeline,
    chains: &'a [Vec<ChainStep>],
    partitions: &'a [PartitionView],
}

/// Renders the page. `chains[i]` is the causal chain of `report.anomalies[i]` (may be empty).
pub fn render_run_html(
    report: &RunReport,
    timeline: &Timeline,
    chains: &[Vec<ChainStep>],
    partitions: &[PartitionView],
) -> String {
    let data = PageData {
        report,
        timeline,
        chains,
        partitions,
    };
    // `</` inside a script would end it early.
    let json = serde_json::to_string(&data)
        .expect("page data serialises")
        .replace("</", "<\\/");
    let title = format!("eosim {} seed {}", report.scenario, report.seed);
    PAGE.replace("{{TITLE}}", &escape(&title))
        .replace("{{DATA}}", &json)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const PAGE: &str = r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{TITLE}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
.pass { color: #176317; } .fail { color: #a11; }
.anomaly { border-left: 4px solid #d33; padding: .3em .8em; margin: .6em 0; background: #fff5f5; }
.chain { font-family: ui-monospace, monospace; font-size: 12px; margin: .3em 0 0 1em; }
.chain li { margin: .1em 0; }
#timeline { border: 1px solid #ccc; overflow-x: auto; }
.lane { font: 11px ui-monospace, monospace; }
.offsets td { width: 1.2em; height: 1.2em; border: 1px solid #ddd; font-size: 9px; text-align: center; }
.offsets td.flag { background: #f66; color: #fff; }
.offsets td.ok { background: #cfe8cf; }
.legend span { display: inline-block; margin-right: 1em; }
</style></head>
<body>
<h1 id="title"></h1>
<p id="verdict"></p>
<h2>Findings</h2><div id="anomalies"></div>
<h2>Faults</h2><ol id="faults"></ol>
<h2>Timeline</h2>
<p class="legend"><span>● request/response</span><span style="color:#d33">▲ fault</span><span style="color:#e67e00">● causal chain of the first finding</span></p>
<div id="timeline"></div>
<h2>Partitions</h2><div id="partitions"></div>
<p>Replay: <code id="replay"></code></p>
<script id="data" type="application/json">{{DATA}}</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const r = data.report;
const el = (tag, attrs, text) => { const e = document.createElement(tag); for (const k in attrs || {}) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; return e; };
document.getElementById("title").textContent = `eosim run ${r.scenario} — seed ${r.seed}, ${r.guarantee}` + (r.variants.length ? `, variants ${r.variants.join(", ")}` : "");
const verdict = document.getElementById("verdict");
verdict.textContent = r.verdict === "pass" ? "PASS: every property held" : "FAIL: " + Object.entries(r.anomaly_counts).map(([k, n]) => `${k} ×${n}`).join(", ");
verdict.className = r.verdict;
const anomalies = document.getElementById("anomalies");
if (r.anomalies.length === 0) anomalies.appendChild(el("p", {}, "none"));
// The first few findings open; the rest folded, so the timeline stays in reach.
let more = null;
r.anomalies.slice(0, 50).forEach((a, i) => {
  if (i === 3) { more = el("details"); more.appendChild(el("summary", {}, `${Math.min(r.anomalies.length, 50) - 3} more finding(s)`)); anomalies.appendChild(more); }
  const box = el("div", { class: "anomaly", id: `anomaly-${i}` });
  box.appendChild(el("strong", {}, a.kind));
  box.appendChild(el("span", {}, ": " + a.explanation));
  const chain = data.chains[i] || [];
  if (chain.length) {
    box.appendChild(el("div", {}, "causal chain:"));
    const ol = el("ol", { class: "chain" });
    chain.forEach(s => ol.appendChild(el("li", {}, `${s.at_ms.toFixed(3)} ms  ${s.node}: ${s.text}`)));
    box.appendChild(ol);
  }
  (more || anomalies).appendChild(box);
});
if (r.anomalies.length > 50) anomalies.appendChild(el("p", {}, `… and ${r.anomalies.length - 50} more (see the JSON report)`));
const faults = document.getElementById("faults");
(r.faults || []).forEach(f => { const rest = Object.entries(f).filter(([k]) => k !== "at_ms" && k !== "kind").map(([k, v]) => `${k}=${v}`).join(" "); faults.appendChild(el("li", {}, `@${f.at_ms} ms ${f.kind} ${rest}`)); });
document.getElementById("replay").textContent = r.replay;

// Timeline: one lane per node; x = virtual time.
const t = data.timeline, laneH = 26, left = 110, width = Math.max(900, Math.min(6000, t.events.length * 2));
const svgNS = "http://www.w3.org/2000/svg";
const svg = document.createElementNS(svgNS, "svg");
const height = (t.nodes.length + 1) * laneH;
svg.setAttribute("width", left + width + 20); svg.setAttribute("height", height);
const x = ms => left + (t.end_ms > 0 ? ms / t.end_ms : 0) * width;
const y = n => (n + 1) * laneH;
const s = (tag, attrs) => { const e = document.createElementNS(svgNS, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; };
t.nodes.forEach((name, i) => {
  const label = s("text", { x: 4, y: y(i) + 4, class: "lane" }); label.textContent = name; svg.appendChild(label);
  svg.appendChild(s("line", { x1: left, x2: left + width, y1: y(i), y2: y(i), stroke: "#eee" }));
});
const sends = new Map();
for (const e of t.events) {
  const key = `${e.call}:${e.response}`;
  if (e.kind === "send") sends.set(key, e);
  if ((e.kind === "deliver" || e.kind === "drop") && sends.has(key)) {
    const from = sends.get(key);
    const color = e.highlight ? "#e67e00" : (e.kind === "drop" ? "#d33" : "#9ab");
    svg.appendChild(s("line", { x1: x(from.at_ms), y1: y(from.node), x2: x(e.at_ms), y2: y(e.node), stroke: color, "stroke-width": e.highlight ? 2 : 0.5, "stroke-dasharray": e.kind === "drop" ? "3,2" : "" }));
  }
  if (["fault", "crash", "restart", "pause", "resume", "stop", "stopped", "heal"].includes(e.kind)) {
    const m = s("path", { d: `M${x(e.at_ms)},${y(e.node) - 7} l5,9 l-10,0 z`, fill: e.kind === "heal" ? "#393" : "#d33" });
    const title = s("title", {}); title.textContent = `${e.at_ms.toFixed(3)} ms ${e.text}`; m.appendChild(title);
    svg.appendChild(m);
  } else if (e.highlight) {
    const c = s("circle", { cx: x(e.at_ms), cy: y(e.node), r: 4, fill: "#e67e00" });
    const title = s("title", {}); title.textContent = `${e.at_ms.toFixed(3)} ms ${e.text}`; c.appendChild(title);
    svg.appendChild(c);
  }
}
document.getElementById("timeline").appendChild(svg);

// Per-partition offset view: flagged offsets in red.
const parts = document.getElementById("partitions");
for (const p of data.partitions) {
  parts.appendChild(el("div", {}, `${p.name}: ${p.records.length} records`));
  const table = el("table", { class: "offsets" }); let row = el("tr");
  p.records.forEach(([offset, value, flag], i) => {
    if (i > 0 && i % 50 === 0) { table.appendChild(row); row = el("tr"); }
    const td = el("td", { class: flag ? "flag" : "ok", title: `offset ${offset}: value ${value}` }, flag ? "!" : "");
    row.appendChild(td);
  });
  table.appendChild(row); parts.appendChild(table);
}
document.body.dataset.rendered = "ok";
</script>
</body></html>
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Verdict;

    #[test]
    fn data_cannot_close_the_script_early() {
        let report = RunReport {
            swarm: None,
            schema: 1,
            scenario: "x</script><script>alert(1)".into(),
            seed: 1,
            guarantee: "exactly-once".into(),
            variants: vec![],
            verdict: Verdict::Pass,
            failure: None,
            anomalies: vec![],
            anomaly_counts: Default::default(),
            panic: None,
            trace_hash: "0".repeat(16),
            trace_events: 0,
            faults: serde_json::json!([]),
            stats: serde_json::json!({}),
            replay: "eosim run x".into(),
            coverage: Default::default(),
            unmatched_faults: vec![],
        };
        let page = render_run_html(&report, &Timeline::default(), &[], &[]);
        assert_eq!(
            page.matches("</script>").count(),
            2,
            "only the page's own two scripts close"
        );
        assert!(page.contains("<title>eosim x&lt;/script&gt;"));
    }
}
