//! hanging-transaction: a converged run left a transaction open in a partition, holding its
//! last stable offset.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Finding, capped};
use crate::causal::FindingRecords;
use crate::detect::Context;
use crate::history::RecordStatus;

/// After a converged run a partition still holds records of a transaction that never ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HangingTransaction {
    pub topic: String,
    pub partition: u32,
    pub producer_id: i64,
    /// Offsets of the open records, ascending; the first is where the last stable offset sticks.
    pub offsets: Vec<u64>,
    pub values: Vec<u64>,
    /// Invoke indices of the history's transactions that sent those values.
    pub writers: Vec<u64>,
}

impl HangingTransaction {
    pub fn explain(&self) -> String {
        let writers = if self.writers.is_empty() {
            String::new()
        } else {
            format!(" (sent by transaction op {})", capped(&self.writers))
        };
        format!(
            "the run converged but {}-{} still holds an open transaction of producer {} at \
             offsets {} (values {}){writers}: it never committed or aborted, so the last \
             stable offset stays at {} and read_committed consumers never read past it",
            self.topic,
            self.partition,
            self.producer_id,
            capped(&self.offsets),
            capped(&self.values),
            self.offsets.first().copied().unwrap_or_default()
        )
    }
}

impl Finding for HangingTransaction {
    fn records(&self) -> Option<FindingRecords<'_>> {
        None
    }
}

/// hanging-transaction: the run converged (`end` line says so) and a final log still holds
/// records with status open. One finding per partition and producer id, naming the open
/// records and the history's transactions that sent their values.
pub(crate) fn find(cx: &Context) -> Vec<HangingTransaction> {
    let facts = cx.facts;
    if cx.history.converged != Some(true) {
        return Vec::new();
    }
    let mut found = Vec::new();
    for (&(topic, partition), log) in &facts.logs {
        let mut open: BTreeMap<i64, Vec<(u64, u64)>> = BTreeMap::new();
        for r in log
            .records
            .iter()
            .filter(|r| r.status == RecordStatus::Open)
        {
            open.entry(r.producer_id)
                .or_default()
                .push((r.offset, r.value));
        }
        for (producer_id, mut records) in open {
            records.sort_unstable();
            let mut writers: Vec<u64> = records
                .iter()
                .flat_map(|&(_, value)| facts.sends_of(topic, partition, value))
                .filter(|&&s| facts.sends[s].txn().is_some())
                .map(|&s| facts.sends[s].invoke())
                .collect();
            writers.sort_unstable();
            writers.dedup();
            found.push(HangingTransaction {
                topic: topic.to_string(),
                partition,
                producer_id,
                offsets: records.iter().map(|r| r.0).collect(),
                values: records.iter().map(|r| r.1).collect(),
                writers,
            });
        }
    }
    found
}
