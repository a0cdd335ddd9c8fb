//! Group membership: members, generations, partition assignment and session timeouts (the
//! membership half of Kafka's group coordinator, kafka-eos-protocol.md §1.3 and §2 KIP-447).
//!
//! Kafka's classic (eager) protocol, with the assignment computed by the coordinator instead of
//! a leader member: every change of the member set (a new member joins, one leaves, one's
//! session or rebalance time runs out) bumps the generation and starts a rebalance. Members
//! learn of it from their next heartbeat (REBALANCE_IN_PROGRESS) and rejoin, which gives up
//! every partition they had; nobody gets an assignment until every member has rejoined (the
//! join barrier) — or is removed for not rejoining within `rebalance timeout = its session
//! timeout`. So no partition has two owners, except through a zombie: a member expired while
//! it slept still believes in its old assignment when it wakes. That is what KIP-447's
//! generation check on TxnOffsetCommit (and, with a producer per task, the epoch) fences.
//!
//! The member set of each generation is durable (a `Membership` record in the offsets log,
//! written by the broker); the session clocks are not: a restarted coordinator gives every
//! member a fresh session, as Kafka does when it loads a group.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::protocol::{KafkaError, TopicPartition};

/// What a member declared when it joined.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MemberMeta {
    /// The coordinator expires the member when no heartbeat arrives for this long.
    pub session_timeout_ms: u64,
    /// The partitions the member is willing to consume (Kafka: its subscribed topics'
    /// partitions).
    pub subscription: Arc<[TopicPartition]>,
}

/// A join's answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Joined {
    pub member_id: Arc<str>,
    pub generation: i32,
    /// Empty while `waiting`.
    pub assignment: Vec<TopicPartition>,
    /// Other members have not rejoined yet: join again (with `member_id`) shortly.
    pub waiting: bool,
}

/// A new generation to make durable: the group's members after a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rebalance {
    pub group: Arc<str>,
    pub generation: i32,
    pub members: BTreeMap<Arc<str>, MemberMeta>,
    /// Why (for the trace): joined, left or expired, and which member.
    pub cause: RebalanceCause,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RebalanceCause {
    Joined(Arc<str>),
    Left(Arc<str>),
    Expired(Arc<str>),
}

#[derive(Clone, Debug)]
struct LiveMember {
    meta: MemberMeta,
    /// Virtual ms after which the member is expired unless it heartbeats.
    deadline_ms: u64,
}

#[derive(Clone, Debug, Default)]
struct LiveGroup {
    generation: i32,
    members: BTreeMap<Arc<str>, LiveMember>,
    assignment: BTreeMap<Arc<str>, Vec<TopicPartition>>,
    /// Members that rejoined since the generation began; the rebalance is complete (and
    /// assignments are handed out) once every member has.
    rejoined: BTreeSet<Arc<str>>,
    /// Members not rejoined by this virtual ms are removed (Kafka's rebalance timeout).
    rebalance_deadline_ms: Option<u64>,
}

impl LiveGroup {
    fn metas(&self) -> BTreeMap<Arc<str>, MemberMeta> {
        self.members
            .iter()
            .map(|(id, m)| (id.clone(), m.meta.clone()))
            .collect()
    }

    fn rebalancing(&self) -> bool {
        self.rejoined.len() < self.members.len()
    }

    /// Bumps the generation and reassigns after the member set changed; every member must
    /// rejoin before anyone gets the new assignment.
    fn rebalance(&mut self, group: &Arc<str>, cause: RebalanceCause, now_ms: u64) -> Rebalance {
        self.generation += 1;
        let metas = self.metas();
        self.assignment = assign(&metas);
        self.rejoined.clear();
        self.rebalance_deadline_ms = self
            .members
            .values()
            .map(|m| now_ms + m.meta.session_timeout_ms)
            .max();
        Rebalance {
            group: group.clone(),
            generation: self.generation,
            members: metas,
            cause,
        }
    }
}

/// Membership of every group this coordinator owns.
#[derive(Clone, Debug, Default)]
pub struct GroupMembers {
    groups: BTreeMap<Arc<str>, LiveGroup>,
}

impl GroupMembers {
    pub fn new() -> Self {
        Self::default()
    }

    /// A coordinator (re)loaded with these durable memberships at `now_ms`: each member gets
    /// a fresh session.
    pub fn load<'a>(
        memberships: impl IntoIterator<Item = (&'a Arc<str>, i32, &'a BTreeMap<Arc<str>, MemberMeta>)>,
        now_ms: u64,
    ) -> Self {
        let mut loaded = Self::new();
        for (group, generation, members) in memberships {
            let live = LiveGroup {
                generation,
                members: members
                    .iter()
                    .map(|(id, meta)| {
                        let deadline_ms = now_ms + meta.session_timeout_ms;
                        let member = LiveMember {
                            meta: meta.clone(),
                            deadline_ms,
                        };
                        (id.clone(), member)
                    })
                    .collect(),
                assignment: assign(members),
                // A reloaded group may have been mid-rebalance: everyone rejoins.
                rejoined: BTreeSet::new(),
                rebalance_deadline_ms: members
                    .values()
                    .map(|m| now_ms + m.session_timeout_ms)
                    .max(),
            };
            loaded.groups.insert(group.clone(), live);
        }
        loaded
    }

    /// JoinGroup. Without a member id: a new member `<client>-g<generation>` and a new
    /// generation. With a known member id: the member rejoins the current generation (with
    /// changed metadata: a new generation). An unknown member id → UNKNOWN_MEMBER_ID (the
    /// client forgets it and joins as new, as Kafka's does). While some member has not
    /// rejoined yet the answer is `waiting` (join again shortly, with the member id it names,
    /// as Kafka's MEMBER_ID_REQUIRED round gives a new member its id); once all have, each
    /// gets the generation and its assignment.
    pub fn join(
        &mut self,
        group: &str,
        member_id: Option<&str>,
        client: &str,
        meta: MemberMeta,
        now_ms: u64,
    ) -> (Result<Joined, KafkaError>, Option<Rebalance>) {
        assert!(meta.session_timeout_ms > 0, "a session timeout of 0 ms");
        let key: Arc<str> = Arc::from(group);
        let live = self.groups.entry(key.clone()).or_default();
        let deadline_ms = now_ms + meta.session_timeout_ms;
        let (member_id, rebalance) = match member_id {
            Some(id) => {
                let Some(member) = live.members.get_mut(id) else {
                    return (Err(KafkaError::UnknownMemberId), None);
                };
                member.deadline_ms = deadline_ms;
                let id: Arc<str> = Arc::from(id);
                if member.meta == meta {
                    (id, None)
                } else {
                    member.meta = meta;
                    let cause = RebalanceCause::Joined(id.clone());
                    (id, Some(live.rebalance(&key, cause, now_ms)))
                }
            }
            None => {
                let id: Arc<str> = Arc::from(format!("{client}-g{}", live.generation + 1));
                assert!(
                    !live.members.contains_key(&id),
                    "member id {id} reused: generations only grow"
                );
                live.members
                    .insert(id.clone(), LiveMember { meta, deadline_ms });
                let cause = RebalanceCause::Joined(id.clone());
                (id.clone(), Some(live.rebalance(&key, cause, now_ms)))
            }
        };
        live.rejoined.insert(member_id.clone());
        let waiting = live.rebalancing();
        if !waiting {
            live.rebalance_deadline_ms = None;
        }
        let joined = Joined {
            assignment: match waiting {
                true => Vec::new(),
                false => live.assignment.get(&member_id).cloned().unwrap_or_default(),
            },
            member_id,
            generation: live.generation,
            waiting,
        };
        (Ok(joined), rebalance)
    }

    /// Heartbeat: keeps the session alive. UNKNOWN_MEMBER_ID if the member was expired or
    /// left; ILLEGAL_GENERATION if the group moved on (the member must rejoin).
    pub fn heartbeat(
        &mut self,
        group: &str,
        member_id: &str,
        generation: i32,
        now_ms: u64,
    ) -> Result<(), KafkaError> {
        let live = self
            .groups
            .get_mut(group)
            .ok_or(KafkaError::UnknownMemberId)?;
        let member = live
            .members
            .get_mut(member_id)
            .ok_or(KafkaError::UnknownMemberId)?;
        member.deadline_ms = now_ms + member.meta.session_timeout_ms;
        if live.rebalancing() && !live.rejoined.contains(member_id) {
            return Err(KafkaError::RebalanceInProgress);
        }
        if live.generation != generation {
            return Err(KafkaError::IllegalGeneration);
        }
        Ok(())
    }

    /// LeaveGroup: the member goes at once (no session timeout to wait out).
    pub fn leave(
        &mut self,
        group: &str,
        member_id: &str,
        now_ms: u64,
    ) -> (Result<(), KafkaError>, Option<Rebalance>) {
        let Some((key, live)) = self.groups.iter_mut().find(|(g, _)| &***g == group) else {
            return (Err(KafkaError::UnknownMemberId), None);
        };
        let Some((id, _)) = live.members.remove_entry(member_id) else {
            return (Err(KafkaError::UnknownMemberId), None);
        };
        let key = key.clone();
        live.rejoined.remove(&id);
        (
            Ok(()),
            Some(live.rebalance(&key, RebalanceCause::Left(id), now_ms)),
        )
    }

    /// Expires every member whose session ran out by `now_ms`, and every member that did not
    /// rejoin a rebalance in time; one rebalance each.
    pub fn expire(&mut self, now_ms: u64) -> Vec<Rebalance> {
        let mut rebalances = Vec::new();
        for (group, live) in &mut self.groups {
            let rebalance_over =
                live.rebalancing() && live.rebalance_deadline_ms.is_some_and(|d| d <= now_ms);
            let expired: Vec<Arc<str>> = live
                .members
                .iter()
                .filter(|(id, m)| {
                    m.deadline_ms <= now_ms || (rebalance_over && !live.rejoined.contains(*id))
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in expired {
                live.members.remove(&id);
                live.rejoined.remove(&id);
                rebalances.push(live.rebalance(group, RebalanceCause::Expired(id), now_ms));
            }
            if live.members.is_empty() {
                live.rebalance_deadline_ms = None;
            }
        }
        rebalances
    }

    /// When the next session or rebalance time runs out, if any member is live.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.groups
            .values()
            .flat_map(|g| {
                let rebalance = g.rebalance_deadline_ms.filter(|_| g.rebalancing());
                g.members.values().map(|m| m.deadline_ms).chain(rebalance)
            })
            .min()
    }

    /// The group's generation (0: never rebalanced).
    pub fn generation(&self, group: &str) -> i32 {
        self.groups.get(group).map_or(0, |g| g.generation)
    }

    /// The member's partitions in the current generation.
    pub fn assignment(&self, group: &str, member_id: &str) -> Vec<TopicPartition> {
        self.groups
            .get(group)
            .and_then(|g| g.assignment.get(member_id))
            .cloned()
            .unwrap_or_default()
    }
}

/// Round-robin assignment: the subscribed partitions in order, each to the next member (in
/// member-id order) that subscribes to it. Deterministic; every subscribed partition goes to
/// exactly one member.
pub fn assign(members: &BTreeMap<Arc<str>, MemberMeta>) -> BTreeMap<Arc<str>, Vec<TopicPartition>> {
    let mut partitions: Vec<&TopicPartition> = members
        .values()
        .flat_map(|m| m.subscription.iter())
        .collect();
    partitions.sort();
    partitions.dedup();
    let mut assignment: BTreeMap<Arc<str>, Vec<TopicPartition>> =
        members.keys().map(|id| (id.clone(), Vec::new())).collect();
    for (i, tp) in partitions.into_iter().enumerate() {
        let eligible: Vec<&Arc<str>> = members
            .iter()
            .filter(|(_, m)| m.subscription.contains(tp))
            .map(|(id, _)| id)
            .collect();
        let owner = eligible[i % eligible.len()];
        assignment
            .get_mut(owner)
            .expect("every member has an entry")
            .push(tp.clone());
    }
    assignment
}

#[cfg(test)]
mod tests;
