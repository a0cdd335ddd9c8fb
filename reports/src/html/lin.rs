//! A linearizability check's page (`eosim check FILE --html OUT`), after Porcupine's
//! visualisation: per partition that is not linearizable, its operations on a lane per
//! process over the history's positions, the longest linearizable prefix numbered in
//! linearization order (hover: the state after each), and the operation that cannot be
//! placed after it, with the states in which it was tried.

use std::collections::BTreeMap;

use checker::lin::{Counterexample, LinReport};
use serde::Serialize;

use super::timeline::{Bar, Lane, Timeline};

/// One operation of a partition, for drawing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinOperation {
    pub process: String,
    pub description: String,
    /// Position of its invocation among the history's events.
    pub call: u64,
    /// Position of its completion; `None`: unknown outcome (open to the end).
    pub ret: Option<u64>,
    /// 1-based line of the invocation: identifies it (the counterexample names operations
    /// by it).
    pub invoke_line: usize,
    pub complete_line: Option<usize>,
}

/// Every operation of one partition (its label as the report names it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinPartition {
    pub label: String,
    pub operations: Vec<LinOperation>,
}

#[derive(Serialize)]
struct PageData<'a> {
    file: &'a str,
    report: &'a LinReport,
    /// Per counterexample (same order), its partition drawn.
    timelines: Vec<Timeline>,
    /// Per counterexample, the bar of the stuck operation and of the placed ones in order.
    stuck: Vec<Option<usize>>,
    placed: Vec<Vec<usize>>,
}

/// Renders the page. `partitions` holds the operations of (at least) every partition with
/// a counterexample; a counterexample whose partition is missing is shown without a timeline.
pub fn render_lin_html(file: &str, report: &LinReport, partitions: &[LinPartition]) -> String {
    let mut data = PageData {
        file,
        report,
        timelines: Vec::new(),
        stuck: Vec::new(),
        placed: Vec::new(),
    };
    for counterexample in &report.counterexamples {
        let partition = partitions
            .iter()
            .find(|p| p.label == counterexample.partition);
        let (timeline, stuck, placed) = match partition {
            Some(partition) => partition_timeline(partition, counterexample),
            None => (Timeline::default(), None, Vec::new()),
        };
        data.timelines.push(timeline);
        data.stuck.push(stuck);
        data.placed.push(placed);
    }
    let title = format!("eosim check {file}: {}", report.verdict);
    super::page(&title, STYLE, BODY, &data, SCRIPT)
}

/// Where an operation stands in the counterexample.
enum Role<'a> {
    /// Linearized `k`-th (from 0), leaving `state`.
    Placed {
        k: usize,
        state: &'a str,
    },
    Stuck,
    Unplaced,
}

/// The partition's operations as bars: placed (numbered in linearization order), the stuck
/// one, and the rest. Returns the timeline, the stuck bar and the placed bars in order.
fn partition_timeline(
    partition: &LinPartition,
    counterexample: &Counterexample,
) -> (Timeline, Option<usize>, Vec<usize>) {
    let order: BTreeMap<usize, (usize, &str)> = counterexample
        .linearizable_prefix
        .iter()
        .enumerate()
        .map(|(k, placed)| {
            let state = placed.state_after.as_str();
            (placed.operation.invoke_line, (k, state))
        })
        .collect();
    let stuck_line = counterexample.stuck_operation.invoke_line;
    let mut lanes: Vec<String> = Vec::new();
    let mut stuck = None;
    let mut placed = vec![0; order.len()];
    let mut bars = Vec::new();
    for (i, op) in partition.operations.iter().enumerate() {
        let lane = lanes
            .iter()
            .position(|p| *p == op.process)
            .unwrap_or_else(|| {
                lanes.push(op.process.clone());
                lanes.len() - 1
            });
        let role = match order.get(&op.invoke_line) {
            _ if op.invoke_line == stuck_line => Role::Stuck,
            Some(&(k, state)) => Role::Placed { k, state },
            None => Role::Unplaced,
        };
        match role {
            Role::Stuck => stuck = Some(i),
            Role::Placed { k, .. } => placed[k] = i,
            Role::Unplaced => {}
        }
        bars.push(lin_bar(op, lane, &role));
    }
    let end = partition
        .operations
        .iter()
        .map(|op| op.ret.unwrap_or(op.call) + 1)
        .max()
        .unwrap_or(1);
    let lanes = lanes
        .into_iter()
        .map(|name| Lane {
            name: format!("process {name}"),
            group: "process".into(),
        })
        .collect();
    let timeline = Timeline {
        unit: "event".into(),
        end: end as f64,
        lanes,
        bars,
        spans: Vec::new(),
        marks: Vec::new(),
    };
    (timeline, stuck, placed)
}

/// An operation's bar: its outcome by role, its label and what hovering shows.
fn lin_bar(op: &LinOperation, lane: usize, role: &Role<'_>) -> Bar {
    let lines = match op.complete_line {
        Some(done) => format!("lines {}–{done}", op.invoke_line),
        None => format!("line {}, never completed", op.invoke_line),
    };
    let description = &op.description;
    let (outcome, label, says) = match role {
        Role::Stuck => (
            "stuck",
            format!("✗ {description}"),
            "cannot be placed after the prefix".to_string(),
        ),
        Role::Placed { k, state } => (
            "placed",
            format!("{} {description}", k + 1),
            format!("linearized #{} → state {state}", k + 1),
        ),
        Role::Unplaced => ("unplaced", description.clone(), "not in the prefix".into()),
    };
    Bar {
        lane,
        start: op.call as f64,
        // Drawn to just before the next position, so back-to-back operations stay apart.
        end: op.ret.map(|r| r as f64 + 0.9),
        outcome: outcome.into(),
        label,
        detail: format!("{description}\n{lines}\n{says}"),
    }
}

const STYLE: &str = r#"
.cx { border-left: 4px solid #e53935; padding: .2em .9em .6em; margin: 1em 0; background: #fffafa; }
.stuck { color: #b71c1c; font-weight: 600; }
.states li { font-family: ui-monospace, monospace; font-size: 12px; }
"#;

const BODY: &str = r#"
<h1 id="title"></h1>
<p id="verdict"></p>
<div id="counterexamples"></div>
<h2>Partitions</h2>
<table class="grid" id="partitions"><tr><th>partition</th><th>operations</th><th>verdict</th><th>search steps</th><th>model steps</th><th>distinct states</th></tr></table>
"#;

const SCRIPT: &str = r##"
const data = JSON.parse(document.getElementById("data").textContent);
const r = data.report;
const el = (tag, attrs, text) => { const e = document.createElement(tag); for (const k in attrs || {}) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; return e; };
document.getElementById("title").textContent = `eosim check ${data.file} — model ${r.model}`;
const verdict = document.getElementById("verdict");
const bad = r.partitions.filter(p => p.verdict === "not-linearizable").length;
const unsearched = r.partitions.filter(p => p.verdict == null).length;
verdict.textContent = r.verdict === "linearizable" ? `linearizable: ${r.operations.checked} operations; every partition (${r.partitions.length}) has a linearization`
  : r.verdict === "not-linearizable" ? `NOT LINEARIZABLE: ${bad} of ${r.partitions.length} partition(s) have no linearization` + (unsearched ? ` (${unsearched} not searched to the end: a violation was found first)` : "")
  : `unknown: a budget ran out before a verdict`;
verdict.className = r.verdict === "linearizable" ? "pass" : "fail";
const table = document.getElementById("partitions");
for (const p of r.partitions) {
  const tr = el("tr");
  for (const v of [p.partition, p.operations, p.verdict ?? "not searched", p.search_steps, p.model_steps, p.distinct_states]) tr.appendChild(el("td", {}, String(v)));
  table.appendChild(tr);
}
const host = document.getElementById("counterexamples");
r.counterexamples.forEach((c, i) => {
  const box = el("div", { class: "cx" });
  box.appendChild(el("h2", {}, `partition ${c.partition}: not linearizable`));
  const s = c.stuck_operation;
  const where = s.complete_line ? `lines ${s.invoke_line}–${s.complete_line}` : `line ${s.invoke_line}`;
  const p = el("p");
  p.appendChild(el("span", {}, `The longest linearizable prefix has ${c.linearizable_prefix.length} operation(s) (green, numbered in linearization order; hover for the state after each). `));
  p.appendChild(el("span", { class: "stuck" }, `Process ${s.process}'s ${s.description} (${where}) cannot be placed after it`));
  p.appendChild(el("span", {}, c.rejected_before_search ? `: ${c.rejected_before_search}` : ` (red), nor after any other ordering.`));
  box.appendChild(p);
  box.appendChild(timelineLegend([["#8fd18f", "linearized prefix"], ["#e53935", "cannot be placed"], ["#d8d8d8", "not placed"]]));
  const div = el("div", { id: `tl-${i}` }); box.appendChild(div);
  host.appendChild(box);
  if (data.timelines[i].lanes.length) {
    // Zoomed to the stuck operation and the last placed ones, with context around them.
    const tl = drawTimeline(div, data.timelines[i], { focusButton: "zoom to the stuck operation", focusPad: 0.6 });
    const near = data.placed[i].slice(-6);
    tl.highlight({ bars: data.stuck[i] == null ? near : [data.stuck[i], ...near] });
    tl.focus();
  }
  if (c.states_it_could_see.length) {
    box.appendChild(el("p", {}, `States in which it was tried${c.more_states ? " (the first of more)" : ""}:`));
    const ul = el("ul", { class: "states" });
    c.states_it_could_see.forEach(st => ul.appendChild(el("li", {}, st)));
    box.appendChild(ul);
  }
  const details = el("details");
  details.appendChild(el("summary", {}, `the prefix in linearization order (${c.linearizable_prefix.length})`));
  const t = el("table", { class: "grid" });
  const head = el("tr"); for (const h of ["#", "process", "operation", "lines", "state after"]) head.appendChild(el("th", {}, h)); t.appendChild(head);
  c.linearizable_prefix.forEach((op, k) => {
    const tr = el("tr"), o = op.operation;
    for (const v of [k + 1, o.process, o.description, o.complete_line ? `${o.invoke_line}–${o.complete_line}` : `${o.invoke_line}`, op.state_after]) tr.appendChild(el("td", {}, String(v)));
    t.appendChild(tr);
  });
  details.appendChild(t); box.appendChild(details);
});
document.body.dataset.rendered = "ok";
document.body.dataset.scrollWidth = document.documentElement.scrollWidth;
document.body.dataset.clientWidth = document.documentElement.clientWidth;
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use checker::lin::{OperationView, PlacedOperation};

    fn op(process: &str, description: &str, call: u64, ret: Option<u64>) -> LinOperation {
        LinOperation {
            process: process.into(),
            description: description.into(),
            call,
            ret,
            invoke_line: call as usize + 1,
            complete_line: ret.map(|r| r as usize + 1),
        }
    }

    fn view(op: &LinOperation) -> OperationView {
        OperationView {
            process: op.process.clone(),
            description: op.description.clone(),
            invoke_line: op.invoke_line,
            complete_line: op.complete_line,
        }
    }

    #[test]
    fn the_prefix_is_numbered_in_linearization_order_and_the_stuck_operation_marked() {
        let ops = vec![
            op("0", "write 1", 0, Some(3)),
            op("1", "write 2", 1, Some(2)),
            op("2", "read → 7", 4, Some(5)),
            op("0", "read → 1", 6, None),
        ];
        let partition = LinPartition {
            label: "x".into(),
            operations: ops.clone(),
        };
        let placed = |op: &LinOperation, state: &str| PlacedOperation {
            operation: view(op),
            state_after: state.into(),
        };
        let counterexample = Counterexample {
            partition: "x".into(),
            // write 2 linearized before write 1
            linearizable_prefix: vec![placed(&ops[1], "2"), placed(&ops[0], "1")],
            stuck_operation: view(&ops[2]),
            states_it_could_see: vec!["1".into()],
            more_states: false,
            rejected_before_search: None,
        };
        let (timeline, stuck, order) = partition_timeline(&partition, &counterexample);
        assert_eq!(stuck, Some(2));
        assert_eq!(order, vec![1, 0]);
        let outcomes: Vec<&str> = timeline.bars.iter().map(|b| b.outcome.as_str()).collect();
        assert_eq!(outcomes, ["placed", "placed", "stuck", "unplaced"]);
        assert_eq!(timeline.bars[0].label, "2 write 1");
        assert!(timeline.bars[0].detail.contains("linearized #2 → state 1"));
        assert_eq!(
            timeline.bars[3].end, None,
            "never completed: open to the end"
        );
        let lanes: Vec<&str> = timeline.lanes.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(lanes, ["process 0", "process 1", "process 2"]);
        assert_eq!(timeline.end, 7.0);
    }
}
