//! A run's page: verdict, the timeline (operations per client, events per node, faults, the
//! selected finding's causal chain and its cause), every finding with its chain, the fault
//! plan, and a per-partition offset view.

use serde::Serialize;

use super::timeline::Timeline;
use crate::run::RunReport;

/// One step of a finding's causal chain, in time order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChainStep {
    pub at_ms: f64,
    pub node: String,
    pub text: String,
}

/// A finding as the page shows it (`RunReport::anomalies` in the same order).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FindingView {
    /// The explanation with packed values decoded.
    pub explanation: String,
    /// The events that explain it (the checker's causal chain).
    pub chain: Vec<ChainStep>,
    /// What caused it when that is not the write itself (e.g. the stray EndTxn whose abort
    /// marker took an acknowledged write away), with a sentence saying so.
    pub cause: Vec<ChainStep>,
    pub cause_note: Option<String>,
    /// `chain` and `cause` as indices into the timeline's marks.
    pub marks: Vec<usize>,
    pub cause_marks: Vec<usize>,
    /// The operations it names, as indices into the timeline's bars.
    pub bars: Vec<usize>,
}

/// A partition's records for the offset view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartitionView {
    pub name: String,
    /// (offset, value as shown, flagged by a finding)
    pub records: Vec<(u64, String, bool)>,
}

#[derive(Serialize)]
struct PageData<'a> {
    report: &'a RunReport,
    timeline: &'a Timeline,
    findings: &'a [FindingView],
    partitions: &'a [PartitionView],
}

/// Renders the page. `findings[i]` shows `report.anomalies[i]`.
pub fn render_run_html(
    report: &RunReport,
    timeline: &Timeline,
    findings: &[FindingView],
    partitions: &[PartitionView],
) -> String {
    let data = PageData {
        report,
        timeline,
        findings,
        partitions,
    };
    let title = format!("eosim {} seed {}", report.scenario, report.seed);
    super::page(&title, STYLE, BODY, &data, SCRIPT)
}

const STYLE: &str = r#"
.anomaly { border-left: 4px solid #d33; padding: .3em .8em; margin: .5em 0; background: #fff5f5; }
.anomaly.selected { border-left-color: #ef6c00; background: #fff3e0; }
.anomaly button { font-size: 11px; margin-left: .5em; }
.chain { font-family: ui-monospace, monospace; font-size: 12px; margin: .2em 0 0 1em; padding-left: 1.5em; }
.chain li { margin: .05em 0; }
.cause { color: #6a1b9a; }
#selected { min-height: 2.6em; margin: .3em 0; font-size: 13px; }
#selected .kind { font-weight: 600; color: #a11; }
.offsets { display: flex; flex-wrap: wrap; gap: 1px; margin: .2em 0 .8em; }
.offsets span { width: 11px; height: 11px; background: #cfe8cf; }
.offsets span.flag { background: #e53935; }
"#;

const BODY: &str = r#"
<h1 id="title"></h1>
<p id="verdict"></p>
<div id="selected"></div>
<div id="legend"></div>
<div id="timeline"></div>
<h2 id="findings-heading">Findings</h2><div id="anomalies"></div>
<h2>Faults of the plan</h2><ol id="faults" class="mono"></ol>
<h2>Partitions</h2><div id="partitions"></div>
<p>Replay: <code id="replay"></code></p>
"#;

const SCRIPT: &str = r##"
const data = JSON.parse(document.getElementById("data").textContent);
const r = data.report;
const el = (tag, attrs, text) => { const e = document.createElement(tag); for (const k in attrs || {}) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; return e; };
document.getElementById("title").textContent = `eosim run ${r.scenario} — seed ${r.seed}, ${r.guarantee}` + (r.variants.length ? `, variants ${r.variants.join(", ")}` : "");
const verdict = document.getElementById("verdict");
verdict.textContent = r.verdict === "pass" ? "PASS: every property held" : `FAIL${r.failure ? " (" + r.failure + ")" : ""}: ` + Object.entries(r.anomaly_counts).map(([k, n]) => `${k} ×${n}`).join(", ");
verdict.className = r.verdict;
document.getElementById("legend").appendChild(timelineLegend([
  ["#8fd18f", "operation ok"], ["#f0a0a0", "fail"], ["#f3d27a", "info (unknown)"],
  ["#e5393540", "node down"], ["#1e88e540", "paused"], ["#8e24aa40", "partitioned"], ["#fb8c0040", "message held"],
  ["#ef6c00", "causal chain of the selected finding"], ["#6a1b9a", "its cause"],
]));
const tl = drawTimeline(document.getElementById("timeline"), data.timeline, { focusButton: r.anomalies.length ? "zoom to finding" : null });
const anomalies = document.getElementById("anomalies");
document.getElementById("findings-heading").textContent = `Findings (${r.anomalies.length})`;
if (r.anomalies.length === 0) anomalies.appendChild(el("p", {}, "none"));
const OPEN = 4;
let more = null;
const boxes = [];
function stepList(steps, cls) {
  const ol = el("ol", { class: "chain " + cls });
  steps.forEach(s => ol.appendChild(el("li", {}, `${s.at_ms.toFixed(3)} ms  ${s.node}: ${s.text}`)));
  return ol;
}
r.anomalies.forEach((a, i) => {
  // Every finding is listed: the first few open, the rest folded.
  if (i === OPEN) { more = el("details"); more.appendChild(el("summary", {}, `${r.anomalies.length - OPEN} more finding(s)`)); anomalies.appendChild(more); }
  const f = data.findings[i] || { explanation: a.explanation, chain: [], cause: [] };
  const box = el("div", { class: "anomaly", id: `anomaly-${i}` });
  box.appendChild(el("strong", {}, `${i + 1}. ${a.kind}`));
  box.appendChild(el("span", {}, ": " + f.explanation));
  const b = el("button", {}, "show on timeline"); b.onclick = () => select(i, true); box.appendChild(b);
  if (f.cause.length) {
    box.appendChild(el("div", { class: "cause" }, "cause: " + (f.cause_note || "")));
    box.appendChild(stepList(f.cause, "cause"));
  }
  if (f.chain.length) {
    const d = el("details"); if (i < OPEN) d.open = i === 0;
    d.appendChild(el("summary", {}, `causal chain (${f.chain.length} events)`));
    d.appendChild(stepList(f.chain, ""));
    box.appendChild(d);
  }
  boxes.push(box);
  (more || anomalies).appendChild(box);
});
function select(i, zoom) {
  boxes.forEach((b, j) => b.classList.toggle("selected", j === i));
  const f = data.findings[i], a = r.anomalies[i];
  tl.highlight({ marks: f.marks, cause: f.cause_marks, bars: f.bars });
  const sel = document.getElementById("selected");
  sel.textContent = "";
  sel.appendChild(el("span", { class: "kind" }, `Finding ${i + 1} of ${r.anomalies.length}, ${a.kind}: `));
  sel.appendChild(el("span", {}, f.explanation));
  if (f.cause_note) sel.appendChild(el("div", { class: "cause" }, "cause: " + f.cause_note));
  if (zoom) { tl.focus(); document.getElementById("selected").scrollIntoView({ block: "start" }); }
}
// The first finding selected, the timeline zoomed to its chain and cause ("fit" shows all).
if (r.anomalies.length) { select(0, false); tl.focus(); }
const faults = document.getElementById("faults");
(r.faults || []).forEach(f => { const rest = Object.entries(f).filter(([k]) => k !== "at_ms" && k !== "kind").map(([k, v]) => `${k}=${Array.isArray(v) ? JSON.stringify(v) : v}`).join(" "); faults.appendChild(el("li", {}, `@${f.at_ms} ms ${f.kind} ${rest}`)); });
document.getElementById("replay").textContent = r.replay;
const parts = document.getElementById("partitions");
for (const p of data.partitions) {
  const flagged = p.records.filter(x => x[2]).length;
  parts.appendChild(el("div", { class: "mono" }, `${p.name}: ${p.records.length} records` + (flagged ? `, ${flagged} flagged by findings` : "")));
  const cells = el("div", { class: "offsets" });
  for (const [offset, value, flag] of p.records) cells.appendChild(el("span", { class: flag ? "flag" : "", title: `offset ${offset}: value ${value}` }));
  parts.appendChild(cells);
}
document.body.dataset.rendered = "ok";
document.body.dataset.scrollWidth = document.documentElement.scrollWidth;
document.body.dataset.clientWidth = document.documentElement.clientWidth;
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
