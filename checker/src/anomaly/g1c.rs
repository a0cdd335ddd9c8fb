//! g1c (Jepsen's / Elle's `:G1c`, cyclic information flow): a cycle in the dependency graph of
//! committed transactions with at least one write-read edge. Nodes: every transactional
//! `txn` that completed ok. Edges:
//! - ww: T1 → T2 if, in a partition's log order of committed transactions' writes (offsets as
//!   acknowledged, else the final log's committed offset of the value), T2's write comes
//!   right after T1's;
//! - wr: T1 → T2 if T2 polled a value T1 wrote (the send acknowledged at the polled offset,
//!   else the only committed transaction's send of that value to that partition).
//!
//! At read_committed a cycle of wr edges alone is impossible: T1 →wr T2 means T1 committed
//! before T2 read, so before T2 committed, and a cycle would have a transaction commit before
//! itself. One that needs a ww edge is normal in Kafka (no write isolation: t1 <ww t2 <wr t1);
//! the allowed-error policy (`policy.rs`) decides, as Jepsen's `:ww-deps` does.
//!
//! One finding per strongly connected component (Tarjan's algorithm, `g1c/graph.rs`): every
//! component of the wr edges alone, with a shortest wr cycle in it; then every component of
//! all edges that holds a wr edge and no wr-only component, with a shortest cycle through its
//! first wr edge. Ordered by the component's first transaction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Finding;
use crate::causal::FindingRecords;
use crate::detect::Context;
use crate::facts::{SendKinds, TopicRef};
use crate::history::Phase;

mod graph;

use graph::{Dependency, Graph};

/// One edge of a G1c cycle and what shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyStep {
    /// Invoke indices of the two transactions.
    pub from: u64,
    pub to: u64,
    /// "ww" or "wr".
    pub dependency: String,
    pub topic: String,
    pub partition: u32,
    /// wr: the value `to` polled (`from` wrote it); ww: the value `from` wrote.
    pub value: u64,
    /// ww: the value `to` wrote right after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_value: Option<u64>,
}

/// A cycle of write-write and write-read dependencies between committed transactions, with
/// at least one write-read edge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct G1c {
    /// Made of write-read edges alone (an error under every policy).
    pub write_read_only: bool,
    /// Invoke indices of the strongly connected component's transactions, ascending.
    pub transactions: Vec<u64>,
    /// The cycle, edge by edge.
    pub cycle: Vec<DependencyStep>,
}

impl DependencyStep {
    fn describe(&self) -> String {
        let at = format!("{}-{}", self.topic, self.partition);
        match self.next_value {
            Some(next) => format!(
                "op {} wrote {} to {at} right before op {} wrote {next} (ww)",
                self.from, self.value, self.to
            ),
            None => format!(
                "op {} wrote {} to {at}, which op {} polled (wr)",
                self.from, self.value, self.to
            ),
        }
    }
}

impl G1c {
    pub fn explain(&self) -> String {
        let steps: Vec<String> = self.cycle.iter().map(DependencyStep::describe).collect();
        let what = if self.write_read_only {
            "of write-read edges alone: each transaction read another's write before that one \
             committed, impossible at read_committed"
        } else {
            "with write-write edges: normal in Kafka, which does not isolate writes (allowed \
             while write-write dependencies are, Jepsen's :ww-deps)"
        };
        format!(
            "committed transactions {} form a dependency cycle: {} — G1c (cyclic information \
             flow) {what}",
            super::capped(&self.transactions),
            steps.join("; ")
        )
    }
}

impl Finding for G1c {
    fn records(&self) -> Option<FindingRecords<'_>> {
        None
    }
}

/// What shows an edge: partition, value and (ww) the next value.
type Evidence<'h> = (TopicRef<'h>, u32, u64, Option<u64>);

pub(crate) fn find(cx: &Context) -> Vec<G1c> {
    let facts = cx.facts;
    // The committed transactions, as graph nodes 0.. in invoke order.
    let committed: Vec<usize> = (0..facts.txns.len())
        .filter(|&t| facts.txns[t].transactional && facts.txns[t].outcome == Some(Phase::Ok))
        .collect();
    let mut node_of: Vec<Option<usize>> = vec![None; facts.txns.len()];
    for (node, &t) in committed.iter().enumerate() {
        node_of[t] = Some(node);
    }
    let mut edges: BTreeMap<(usize, usize, Dependency), Evidence> = BTreeMap::new();
    write_read_edges(cx, &committed, &node_of, &mut edges);
    if edges.is_empty() {
        return Vec::new();
    }
    write_write_edges(cx, &committed, &mut edges);
    let graph = Graph::new(committed.len(), edges.keys().copied());
    let invoke = |node: usize| facts.txns[committed[node]].invoke;
    graph
        .g1c_cycles()
        .into_iter()
        .map(|found| G1c {
            write_read_only: found.write_read_only,
            transactions: found.component.iter().map(|&n| invoke(n)).collect(),
            cycle: found
                .edges
                .iter()
                .map(|&(from, to, kind)| {
                    let (topic, partition, value, next_value) = edges[&(from, to, kind)];
                    DependencyStep {
                        from: invoke(from),
                        to: invoke(to),
                        dependency: match kind {
                            Dependency::Ww => "ww",
                            Dependency::Wr => "wr",
                        }
                        .to_string(),
                        topic: topic.to_string(),
                        partition,
                        value,
                        next_value,
                    }
                })
                .collect(),
        })
        .collect()
}

/// wr edges: a committed transaction's poll step returned a value another committed
/// transaction sent (the send acknowledged at the polled offset, else the only one).
fn write_read_edges<'h>(
    cx: &Context<'_, 'h>,
    committed: &[usize],
    node_of: &[Option<usize>],
    edges: &mut BTreeMap<(usize, usize, Dependency), Evidence<'h>>,
) {
    let facts = cx.facts;
    // Only polls of partitions committed transactions write to can give an edge.
    let written = facts.partitions_with(SendKinds::OF_COMMITTED_TXN);
    for (reader, &t) in committed.iter().enumerate() {
        // A committed transaction's poll steps are all ok polls: its facts, not its steps.
        for poll in &facts.polls[facts.txns[t].polls.clone()] {
            let (topic, partition) = (poll.topic, poll.partition);
            if !written.contains(&(topic, partition)) {
                continue;
            }
            for r in poll.records {
                let writers: Vec<(usize, Option<u64>)> = facts
                    .sends_of(topic, partition, r.value)
                    .iter()
                    .map(|&s| &facts.sends[s])
                    .filter_map(|s| Some((node_of[s.txn()?]?, s.acked_offset())))
                    .collect();
                let writer = match writers.iter().find(|w| w.1 == Some(r.offset)) {
                    Some(w) => Some(w.0),
                    None if writers.len() == 1 => Some(writers[0].0),
                    None => None,
                };
                if let Some(writer) = writer.filter(|&w| w != reader) {
                    let evidence = (topic, partition, r.value, None);
                    edges
                        .entry((writer, reader, Dependency::Wr))
                        .or_insert(evidence);
                }
            }
        }
    }
}

/// ww edges: per partition, committed transactions' writes in offset order, each to the next
/// one by another transaction.
fn write_write_edges<'h>(
    cx: &Context<'_, 'h>,
    committed: &[usize],
    edges: &mut BTreeMap<(usize, usize, Dependency), Evidence<'h>>,
) {
    let facts = cx.facts;
    // (partition, offset, node, value) of every committed write with a known offset.
    let mut writes = Vec::new();
    for (node, &t) in committed.iter().enumerate() {
        for send in &facts.sends[facts.txns[t].sends.clone()] {
            let partition = (send.topic, send.partition);
            let offset = send
                .acked_offset()
                .or_else(|| cx.truth.committed_offset_of(partition, send.value));
            if let Some(offset) = offset {
                writes.push((partition, offset, node, send.value));
            }
        }
    }
    writes.sort_unstable();
    for w in writes.windows(2) {
        let ((partition, _, from, value), (next_partition, _, to, next)) = (w[0], w[1]);
        if partition == next_partition && from != to {
            let evidence = (partition.0, partition.1, value, Some(next));
            edges.entry((from, to, Dependency::Ww)).or_insert(evidence);
        }
    }
}

#[cfg(test)]
mod tests;
