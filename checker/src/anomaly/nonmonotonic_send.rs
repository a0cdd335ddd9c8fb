//! nonmonotonic-send: one process's later acknowledged send to a partition landed below its
//! earlier one.

use serde::{Deserialize, Serialize};

use super::Finding;
use crate::causal::FindingRecords;
use crate::detect::Context;
use crate::facts::ProcessEvent;
use crate::txn::{Partition, partition_of};

/// One process's later acknowledged send to a partition landed below its earlier one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonmonotonicSend {
    pub process: u64,
    pub topic: String,
    pub partition: u32,
    /// Completion index of the earlier acknowledgement, its value and offset.
    pub previous_ack: u64,
    pub previous_value: u64,
    pub previous_offset: u64,
    pub next_ack: u64,
    pub next_value: u64,
    pub next_offset: u64,
}

impl NonmonotonicSend {
    pub fn explain(&self) -> String {
        format!(
            "process {} had value {} acknowledged at offset {} of {}-{} (op {}), then its \
             later value {} at the lower offset {} (op {}): a non-monotonic send",
            self.process,
            self.previous_value,
            self.previous_offset,
            self.topic,
            self.partition,
            self.previous_ack,
            self.next_value,
            self.next_offset,
            self.next_ack
        )
    }
}

impl Finding for NonmonotonicSend {
    fn records(&self) -> Option<FindingRecords<'_>> {
        None
    }
}

/// nonmonotonic-send: for each process, its acknowledged sends with an offset, per partition
/// in completion order (a txn's send steps in step order): a send whose offset is strictly
/// lower than the process's previous acknowledged send to that partition.
pub(crate) fn find(cx: &Context) -> Vec<NonmonotonicSend> {
    let facts = cx.facts;
    let mut found = Vec::new();
    // Per partition, by partition: (offset, value, completion) of the process's last
    // acknowledged send. One vector for every process (cleared for each): a process sends to
    // few partitions, and the simulator's histories have a process per call.
    let mut last: Vec<(Partition, (u64, u64, u64))> = Vec::new();
    // A finding compares two acknowledged sends of a process.
    for (&process, events) in facts.by_process.iter().filter(|(_, e)| e.len() >= 2) {
        last.clear();
        for (_, event) in events {
            let ProcessEvent::Ack(i) = *event else {
                continue;
            };
            let send = &facts.sends[i as usize];
            let (Some(offset), Some(ack)) = (send.acked_offset(), send.completion()) else {
                continue;
            };
            let partition = partition_of(send);
            let at = last.binary_search_by_key(&partition, |&(p, _)| p);
            if let Ok(at) = at
                && let (_, (previous_offset, previous_value, previous_ack)) = last[at]
                && offset < previous_offset
            {
                found.push(NonmonotonicSend {
                    process,
                    topic: send.topic.to_string(),
                    partition: send.partition,
                    previous_ack,
                    previous_value,
                    previous_offset,
                    next_ack: ack,
                    next_value: send.value,
                    next_offset: offset,
                });
            }
            match at {
                Ok(at) => last[at].1 = (offset, send.value, ack),
                Err(at) => last.insert(at, (partition, (offset, send.value, ack))),
            }
        }
    }
    found.sort_by(|a, b| {
        (&a.topic, a.partition, a.process, a.next_ack).cmp(&(
            &b.topic,
            b.partition,
            b.process,
            b.next_ack,
        ))
    });
    found
}
