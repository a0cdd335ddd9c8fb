//! The recorded trace on the timeline: a lane per node, faults as shaded spans (a node down
//! from its crash or stop to its restart, paused to resumed, partitioned to healed, a message
//! held), and the events worth a mark (faults, lost, duplicated and held messages, and every
//! event of a causal chain).

use std::collections::{BTreeMap, BTreeSet};

use checker::history::FinalLog;
use model::TraceNote;
use reports::html::{Mark, Span};
use sim::trace::{TraceEvent, TraceKind, TraceSummary};

/// The most lost, duplicated and held messages marked (beyond them only chains' are).
const MESSAGE_FAULT_MARKS: usize = 4000;

/// Node lanes on the page: `lane(node)`.
pub struct NodeLanes {
    /// Indexed by node id (node 0, the supervisor, holds the plan's faults).
    pub lanes: Vec<usize>,
}

impl NodeLanes {
    pub fn lane(&self, node: u32) -> usize {
        self.lanes.get(node as usize).copied().unwrap_or(0)
    }
}

fn at_ms(event: &TraceEvent) -> f64 {
    event.at_ns as f64 / 1e6
}

/// Trace events in words: the trace's own rendering, with the partition codes of the
/// model's append and marker notes named ("append t1-0 offset 47" for "append 5e16/0 47").
pub struct Words<'a> {
    trace: &'a TraceSummary,
    partitions: BTreeMap<u64, String>,
}

impl<'a> Words<'a> {
    /// Names the partitions of `logs` (every partition the run wrote).
    pub fn new(trace: &'a TraceSummary, logs: &[FinalLog]) -> Self {
        let partitions = logs
            .iter()
            .map(|log| {
                let code = model::protocol::partition_trace_code(&log.topic, log.partition);
                (code, format!("{}-{}", log.topic, log.partition))
            })
            .collect();
        Words { trace, partitions }
    }

    pub fn trace(&self) -> &'a TraceSummary {
        self.trace
    }

    pub fn describe(&self, kind: &TraceKind) -> String {
        if let TraceKind::Note { what, a, b } = kind
            && let Some(name) = self.partitions.get(a)
        {
            match TraceNote::from_name(what) {
                Some(TraceNote::Append | TraceNote::Marker) => {
                    return format!("{what} {name} offset {b}");
                }
                Some(TraceNote::MarkerRefused) => return format!("{what} {name} (error {b})"),
                _ => {}
            }
        }
        self.trace.describe(kind)
    }
}

/// Marks for the kept events; returns them and trace index → mark.
pub fn marks(
    words: &Words<'_>,
    events: &[TraceEvent],
    lanes: &NodeLanes,
    chained: &BTreeSet<usize>,
) -> (Vec<Mark>, BTreeMap<usize, usize>) {
    let mut marks = Vec::new();
    let mut mark_of = BTreeMap::new();
    let mut message_faults = 0;
    for (j, event) in events.iter().enumerate() {
        let (kind, call, response) = mark_kind(&event.kind);
        let message_fault = matches!(kind, "drop" | "duplicate" | "hold");
        let keep = chained.contains(&j)
            || !matches!(
                kind,
                "send" | "deliver" | "note" | "drop" | "duplicate" | "hold"
            )
            || (message_fault && message_faults < MESSAGE_FAULT_MARKS);
        if !keep {
            continue;
        }
        message_faults += usize::from(message_fault);
        mark_of.insert(j, marks.len());
        marks.push(Mark {
            lane: lanes.lane(event.node.0),
            at: at_ms(event),
            kind: kind.into(),
            detail: words.describe(&event.kind),
            call,
            response,
        });
    }
    (marks, mark_of)
}

fn mark_kind(kind: &TraceKind) -> (&'static str, Option<u64>, bool) {
    match kind {
        TraceKind::Send { call, response, .. } => ("send", Some(*call), *response),
        TraceKind::Deliver { call, response, .. } => ("deliver", Some(*call), *response),
        TraceKind::Drop { call, response, .. } => ("drop", Some(*call), *response),
        TraceKind::Duplicate { call, response, .. } => ("duplicate", Some(*call), *response),
        TraceKind::Delay { call, response, .. } => ("hold", Some(*call), *response),
        TraceKind::Crash => ("crash", None, false),
        TraceKind::Restart => ("restart", None, false),
        TraceKind::Pause => ("pause", None, false),
        TraceKind::Resume => ("resume", None, false),
        TraceKind::Stop => ("stop", None, false),
        TraceKind::Stopped { .. } => ("stopped", None, false),
        TraceKind::Fault { .. } => ("fault", None, false),
        TraceKind::Heal => ("heal", None, false),
        TraceKind::Note { .. } => ("note", None, false),
    }
}

/// Spans still open at some point of the trace walk.
struct OpenSpans<'a> {
    trace: &'a TraceSummary,
    lanes: &'a NodeLanes,
    /// node → (kind, start) of its outage.
    outages: BTreeMap<u32, (&'static str, f64)>,
    /// Partitions: (nodes cut, start, description).
    cuts: Vec<(Vec<u32>, f64, String)>,
    spans: Vec<Span>,
}

impl OpenSpans<'_> {
    fn name(&self, node: u32) -> String {
        self.trace
            .node_names
            .get(node as usize)
            .cloned()
            .unwrap_or_else(|| format!("node {node}"))
    }

    fn open_outage(&mut self, node: u32, kind: &'static str, at: f64) {
        self.close_outage(node, at);
        self.outages.insert(node, (kind, at));
    }

    fn close_outage(&mut self, node: u32, at: f64) {
        if let Some((kind, start)) = self.outages.remove(&node) {
            let label = match kind {
                "crash" => format!("{} crashed", self.name(node)),
                "pause" => format!("{} paused", self.name(node)),
                _ => format!("{} stopped", self.name(node)),
            };
            self.spans.push(Span {
                lanes: vec![self.lanes.lane(node)],
                start,
                end: at,
                kind: kind.into(),
                label,
                call: None,
            });
        }
    }

    fn close_cuts(&mut self, at: f64) {
        for (nodes, start, description) in std::mem::take(&mut self.cuts) {
            self.spans.push(Span {
                lanes: nodes.iter().map(|&n| self.lanes.lane(n)).collect(),
                start,
                end: at,
                kind: "partition".into(),
                label: description,
                call: None,
            });
        }
    }

    /// The nodes a partition or isolation names (names as whole words of its description).
    fn named_nodes(&self, description: &str) -> Vec<u32> {
        let words: BTreeSet<&str> = description
            .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '#'))
            .collect();
        (1..self.trace.node_names.len() as u32)
            .filter(|&n| words.contains(self.trace.node_names[n as usize].as_str()))
            .collect()
    }
}

/// Every fault as a span, those still open at the end closed at `end_ms`.
pub fn spans(
    trace: &TraceSummary,
    events: &[TraceEvent],
    lanes: &NodeLanes,
    end_ms: f64,
) -> Vec<Span> {
    let mut open = OpenSpans {
        trace,
        lanes,
        outages: BTreeMap::new(),
        cuts: Vec::new(),
        spans: Vec::new(),
    };
    for event in events {
        let (node, at) = (event.node.0, at_ms(event));
        match &event.kind {
            TraceKind::Crash => open.open_outage(node, "crash", at),
            TraceKind::Pause => open.open_outage(node, "pause", at),
            TraceKind::Stopped { .. } => open.open_outage(node, "stop", at),
            TraceKind::Restart | TraceKind::Resume => open.close_outage(node, at),
            TraceKind::Fault { description, .. } if is_cut(description) => {
                let nodes = open.named_nodes(description);
                open.cuts.push((nodes, at, description.clone()));
            }
            TraceKind::Fault { description, .. } if description.starts_with("heal") => {
                open.close_cuts(at)
            }
            TraceKind::Heal => open.close_cuts(at),
            TraceKind::Delay {
                to,
                call,
                label,
                response,
                extra_ms,
            } => open.spans.push(Span {
                lanes: vec![lanes.lane(to.0)],
                start: at,
                end: at + *extra_ms as f64,
                kind: "hold".into(),
                label: format!(
                    "held {} #{call} {label} to {} for {extra_ms} ms",
                    if *response { "response" } else { "request" },
                    open.name(to.0)
                ),
                call: Some(*call),
            }),
            _ => {}
        }
    }
    let nodes: Vec<u32> = open.outages.keys().copied().collect();
    for node in nodes {
        open.close_outage(node, end_ms);
    }
    open.close_cuts(end_ms);
    open.spans
}

fn is_cut(description: &str) -> bool {
    description.starts_with("partition") || description.starts_with("isolate")
}
