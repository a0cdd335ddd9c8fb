//! Committed offsets and pending transactional offsets of consumer groups (Kafka's
//! `GroupMetadataManager` / `OffsetMetadataManager`, kafka-eos-protocol.md §1.3–§1.4).
//!
//! Every change is a record in the `__consumer_offsets` log ([`OffsetLogRecord`]); the state
//! is what replaying the records gives, so `from_records` rebuilds it after a restart. A
//! transactional offset commit stays pending under its producer id until the transaction's
//! marker reaches the group's offsets partition: COMMIT materialises it, ABORT drops it. When
//! a plain and a transactional commit race for a partition, the later *record* wins, not the
//! later marker (G7, G8, G16).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::membership::{MemberMeta, Rebalance};
use crate::protocol::{KafkaError, TopicPartition, TxnResult};
use crate::txn::offsets_partition_index;

/// Group-coordinator settings. Defaults are Kafka's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupOffsetsConfig {
    /// KIP-447: a TxnOffsetCommit must come from a current member of the group's current
    /// generation. Default on; off is the later `no-generation-check` variant (a zombie
    /// task's offsets are accepted).
    pub generation_check: bool,
    /// Partitions of `__consumer_offsets` (Kafka's default: 50); a marker completes the
    /// pending offsets of the groups on its partition only.
    pub offsets_topic_partitions: u32,
}

impl Default for GroupOffsetsConfig {
    fn default() -> Self {
        Self {
            generation_check: true,
            offsets_topic_partitions: 50,
        }
    }
}

/// One record of the `__consumer_offsets` log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OffsetLogRecord {
    /// A plain OffsetCommit.
    Commit {
        group: Arc<str>,
        tp: TopicPartition,
        offset: u64,
    },
    /// A TxnOffsetCommit, pending until its producer's marker.
    TxnCommit {
        group: Arc<str>,
        producer_id: i64,
        tp: TopicPartition,
        offset: u64,
    },
    /// A transaction marker written to offsets partition `partition`.
    Marker {
        partition: u32,
        producer_id: i64,
        result: TxnResult,
    },
    /// A group's generation and members (written on every rebalance).
    Membership {
        group: Arc<str>,
        generation: i32,
        members: BTreeMap<Arc<str>, MemberMeta>,
    },
}

/// An offset and the position of the record that wrote it (a later record wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: u64,
    pub record_position: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Membership {
    generation: i32,
    members: BTreeMap<Arc<str>, MemberMeta>,
}

/// Offsets of every group this coordinator owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupOffsets {
    config: GroupOffsetsConfig,
    records: Vec<OffsetLogRecord>,
    committed: BTreeMap<(Arc<str>, TopicPartition), CommittedOffset>,
    /// (group, producer id) → offsets waiting for the producer's marker.
    pending: BTreeMap<(Arc<str>, i64), BTreeMap<TopicPartition, CommittedOffset>>,
    memberships: BTreeMap<Arc<str>, Membership>,
}

impl GroupOffsets {
    pub fn new(config: GroupOffsetsConfig) -> Self {
        Self {
            config,
            records: Vec::new(),
            committed: BTreeMap::new(),
            pending: BTreeMap::new(),
            memberships: BTreeMap::new(),
        }
    }

    /// Rebuilds the state by replaying the log (a restarted or new coordinator).
    pub fn from_records(config: GroupOffsetsConfig, records: &[OffsetLogRecord]) -> Self {
        let mut offsets = Self::new(config);
        for record in records {
            offsets.append(record.clone());
        }
        offsets
    }

    /// The log so far (for the broker to persist, and for `from_records`).
    pub fn records(&self) -> &[OffsetLogRecord] {
        &self.records
    }

    fn append(&mut self, record: OffsetLogRecord) {
        let position = self.records.len();
        self.replay(&record, position);
        self.records.push(record);
    }

    fn replay(&mut self, record: &OffsetLogRecord, position: usize) {
        match record {
            OffsetLogRecord::Commit { group, tp, offset } => {
                let value = CommittedOffset {
                    offset: *offset,
                    record_position: position,
                };
                self.committed.insert((group.clone(), tp.clone()), value);
            }
            OffsetLogRecord::TxnCommit {
                group,
                producer_id,
                tp,
                offset,
            } => {
                let value = CommittedOffset {
                    offset: *offset,
                    record_position: position,
                };
                self.pending
                    .entry((group.clone(), *producer_id))
                    .or_default()
                    .insert(tp.clone(), value);
            }
            OffsetLogRecord::Marker {
                partition,
                producer_id,
                result,
            } => self.complete(*partition, *producer_id, *result),
            OffsetLogRecord::Membership {
                group,
                generation,
                members,
            } => {
                let membership = Membership {
                    generation: *generation,
                    members: members.clone(),
                };
                self.memberships.insert(group.clone(), membership);
            }
        }
    }

    fn complete(&mut self, partition: u32, producer_id: i64, result: TxnResult) {
        let partitions = self.config.offsets_topic_partitions;
        let groups: Vec<Arc<str>> = self
            .pending
            .keys()
            .filter(|(group, pid)| {
                *pid == producer_id && offsets_partition_index(group, partitions) == partition
            })
            .map(|(group, _)| group.clone())
            .collect();
        for group in groups {
            let offsets = self
                .pending
                .remove(&(group.clone(), producer_id))
                .expect("listed above");
            if result == TxnResult::Abort {
                continue;
            }
            for (tp, pending) in offsets {
                let key = (group.clone(), tp);
                let newer = self
                    .committed
                    .get(&key)
                    .is_none_or(|current| current.record_position < pending.record_position);
                if newer {
                    self.committed.insert(key, pending);
                }
            }
        }
    }

    /// Records a rebalance's outcome (what KIP-447's check compares against), with members
    /// that subscribe to nothing and a 10 s session (for tests).
    pub fn set_membership(&mut self, group: &str, generation: i32, members: &[&str]) {
        let meta = MemberMeta {
            session_timeout_ms: 10_000,
            subscription: Arc::from(Vec::new()),
        };
        self.append(OffsetLogRecord::Membership {
            group: Arc::from(group),
            generation,
            members: members
                .iter()
                .map(|&m| (Arc::from(m), meta.clone()))
                .collect(),
        });
    }

    /// Records a rebalance's outcome (what KIP-447's check compares against).
    pub fn record_rebalance(&mut self, rebalance: &Rebalance) {
        self.append(OffsetLogRecord::Membership {
            group: rebalance.group.clone(),
            generation: rebalance.generation,
            members: rebalance.members.clone(),
        });
    }

    /// Every group's last recorded generation and members (to load [`GroupMembers`]).
    pub fn memberships(
        &self,
    ) -> impl Iterator<Item = (&Arc<str>, i32, &BTreeMap<Arc<str>, MemberMeta>)> {
        self.memberships
            .iter()
            .map(|(group, m)| (group, m.generation, &m.members))
    }

    /// A plain OffsetCommit (visible at once).
    pub fn commit(&mut self, group: &str, offsets: &[(TopicPartition, u64)]) {
        for (tp, offset) in offsets {
            self.append(OffsetLogRecord::Commit {
                group: Arc::from(group),
                tp: tp.clone(),
                offset: *offset,
            });
        }
    }

    /// TxnOffsetCommit: the offsets wait, under `producer_id`, for the transaction's marker.
    /// KIP-447: an unknown member → UnknownMemberId; another generation → IllegalGeneration
    /// (G17). A group with no members accepts a commit without group metadata (generation
    /// −1, no member id), as Kafka does for pre-KIP-447 producers.
    pub fn txn_commit(
        &mut self,
        group: &str,
        producer_id: i64,
        generation: i32,
        member_id: &str,
        offsets: &[(TopicPartition, u64)],
    ) -> Result<(), KafkaError> {
        if self.config.generation_check {
            self.check_member(group, generation, member_id)?;
        }
        for (tp, offset) in offsets {
            self.append(OffsetLogRecord::TxnCommit {
                group: Arc::from(group),
                producer_id,
                tp: tp.clone(),
                offset: *offset,
            });
        }
        Ok(())
    }

    fn check_member(
        &self,
        group: &str,
        generation: i32,
        member_id: &str,
    ) -> Result<(), KafkaError> {
        let membership = self.memberships.get(group).cloned().unwrap_or_default();
        if membership.members.is_empty() && generation < 0 && member_id.is_empty() {
            return Ok(());
        }
        if !membership.members.contains_key(member_id) {
            return Err(KafkaError::UnknownMemberId);
        }
        if membership.generation != generation {
            return Err(KafkaError::IllegalGeneration);
        }
        Ok(())
    }

    /// A transaction marker reached offsets partition `partition`: the pending offsets of
    /// `producer_id` for the groups there are materialised (COMMIT) or dropped (ABORT). A
    /// producer with nothing pending is ignored (G15).
    pub fn on_marker(&mut self, partition: u32, producer_id: i64, result: TxnResult) {
        self.append(OffsetLogRecord::Marker {
            partition,
            producer_id,
            result,
        });
    }

    /// OffsetFetch for one partition: the committed offset (`None`: Kafka's −1). With
    /// `require_stable`, a pending transactional commit for it → UnstableOffsetCommit (G13).
    pub fn fetch(
        &self,
        group: &str,
        tp: &TopicPartition,
        require_stable: bool,
    ) -> Result<Option<u64>, KafkaError> {
        if require_stable && self.has_pending_for(group, tp) {
            return Err(KafkaError::UnstableOffsetCommit);
        }
        let key = (Arc::from(group), tp.clone());
        Ok(self.committed.get(&key).map(|c| c.offset))
    }

    /// Whether any producer has a pending offset for (group, partition).
    pub fn has_pending_for(&self, group: &str, tp: &TopicPartition) -> bool {
        self.pending
            .iter()
            .any(|((g, _), offsets)| &**g == group && offsets.contains_key(tp))
    }

    /// The committed offset with the position of the record that wrote it.
    pub fn committed(&self, group: &str, tp: &TopicPartition) -> Option<CommittedOffset> {
        self.committed.get(&(Arc::from(group), tp.clone())).copied()
    }

    /// Every committed offset as (group, partition, offset), in group and partition order.
    pub fn committed_offsets(&self) -> impl Iterator<Item = (&str, &TopicPartition, u64)> {
        self.committed
            .iter()
            .map(|((group, tp), c)| (&**group, tp, c.offset))
    }

    /// Whether the group has any offsets, committed or pending (Kafka's "has offsets").
    pub fn has_offsets(&self, group: &str) -> bool {
        self.committed.keys().any(|(g, _)| &**g == group)
            || self.pending.keys().any(|(g, _)| &**g == group)
    }
}

#[cfg(test)]
mod tests;
