//! A consumer-group member (the membership half of Kafka's consumer `subscribe`): joins the
//! group, heartbeats in the background, and notices when the group moved on without it.
//!
//! The heartbeat task runs on the member's node, so a paused node stops heartbeating (its
//! session runs out and the group rebalances without it — the zombie) and a crashed node's
//! member simply disappears. When a heartbeat answers REBALANCE_IN_PROGRESS,
//! ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID the member is *stale*: it must finish what it is
//! doing and `join` again (giving up its partitions) before trusting any assignment. An application that acts
//! on a stale assignment is exactly the zombie that KIP-447's generation check fences.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::ClientContext;
use crate::group::{Joined, MemberMeta};
use crate::protocol::{GroupMetadata, KafkaError, Request, Response, TopicPartition};

/// Membership settings. Defaults: session timeout 1,000 ms and heartbeat every 100 ms
/// (Kafka: 45 s and 3 s, scaled down to the length of simulated runs), 300 ms request
/// timeout, 50 ms backoff between failed joins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    pub group_id: String,
    pub session_timeout_ms: u64,
    pub heartbeat_interval_ms: u64,
    pub request_timeout_ms: u64,
    pub retry_backoff_ms: u64,
}

impl GroupConfig {
    pub fn new(group_id: &str) -> Self {
        Self {
            group_id: group_id.to_string(),
            session_timeout_ms: 1_000,
            heartbeat_interval_ms: 100,
            request_timeout_ms: 300,
            retry_backoff_ms: 50,
        }
    }
}

#[derive(Debug, Default)]
struct MemberState {
    member_id: Option<Arc<str>>,
    generation: i32,
    /// The coordinator said the group moved on: rejoin before trusting the assignment.
    stale: bool,
    /// A heartbeat task is running.
    heartbeating: bool,
}

/// One member of a group. Dropping it stops its heartbeats (the session then expires).
pub struct GroupMember {
    ctx: ClientContext,
    config: GroupConfig,
    group_id: Arc<str>,
    client: Arc<str>,
    subscription: Arc<[TopicPartition]>,
    state: Arc<Mutex<MemberState>>,
}

impl GroupMember {
    /// A member named after `client` that subscribes to `subscription`; not joined yet.
    pub fn new(
        ctx: ClientContext,
        config: GroupConfig,
        client: &str,
        subscription: Vec<TopicPartition>,
    ) -> Self {
        assert!(
            config.heartbeat_interval_ms < config.session_timeout_ms,
            "heartbeats must come more often than the session timeout"
        );
        Self {
            ctx,
            group_id: Arc::from(config.group_id.as_str()),
            config,
            client: Arc::from(client),
            subscription: subscription.into(),
            state: Arc::default(),
        }
    }

    /// Joins (or rejoins with the member id it has) until the coordinator answers; returns
    /// the member's assignment in the new generation and starts heartbeating.
    pub async fn join(&self) -> Vec<TopicPartition> {
        loop {
            let member_id = self.lock().member_id.clone();
            let request = Request::JoinGroup {
                group_id: self.group_id.clone(),
                member_id,
                client: self.client.clone(),
                meta: MemberMeta {
                    session_timeout_ms: self.config.session_timeout_ms,
                    subscription: self.subscription.clone(),
                },
            };
            match self.call(request).await {
                Some(Response::JoinGroup(Ok(joined))) if joined.waiting => {
                    // At the barrier: the other members have not rejoined yet.
                    self.lock().member_id = Some(joined.member_id);
                }
                Some(Response::JoinGroup(Ok(joined))) => return self.joined(joined),
                Some(Response::JoinGroup(Err(KafkaError::UnknownMemberId))) => {
                    self.lock().member_id = None; // expired: join as a new member
                }
                Some(Response::JoinGroup(Err(_))) | None => {}
                Some(other) => panic!("JoinGroup answered with {other:?}"),
            }
            madsim::time::sleep(Duration::from_millis(self.config.retry_backoff_ms)).await;
        }
    }

    fn joined(&self, joined: Joined) -> Vec<TopicPartition> {
        crate::TraceNote::Joined.record(
            self.ctx.node,
            joined.generation as u64,
            joined.assignment.len() as u64,
        );
        let start_heartbeats = {
            let mut state = self.lock();
            state.member_id = Some(joined.member_id);
            state.generation = joined.generation;
            state.stale = false;
            !std::mem::replace(&mut state.heartbeating, true)
        };
        if start_heartbeats {
            let heartbeats = heartbeat_loop(
                self.ctx.clone(),
                self.config.clone(),
                self.group_id.clone(),
                Arc::downgrade(&self.state),
            );
            self.ctx.sim.spawn_on(self.ctx.node, heartbeats);
        }
        joined.assignment
    }

    /// Whether the group moved on since the last join (rejoin before the next batch).
    pub fn is_stale(&self) -> bool {
        self.lock().stale
    }

    /// What a transactional producer passes with its offsets (KIP-447).
    pub fn group_metadata(&self) -> GroupMetadata {
        let state = self.lock();
        GroupMetadata {
            group_id: self.group_id.clone(),
            generation: state.generation,
            member_id: state.member_id.clone().unwrap_or_else(|| Arc::from("")),
        }
    }

    /// Leaves the group (one attempt; a lost LeaveGroup leaves it to the session timeout).
    pub async fn leave(&self) {
        let Some(member_id) = self.lock().member_id.take() else {
            return;
        };
        let request = Request::LeaveGroup {
            group_id: self.group_id.clone(),
            member_id,
        };
        let _ = self.call(request).await;
    }

    async fn call(&self, request: Request) -> Option<Response> {
        let coordinator = self.ctx.cluster.group_coordinator(&self.group_id);
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        self.ctx
            .net
            .call(self.ctx.node, coordinator, request, timeout)
            .await
            .ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemberState> {
        self.state.lock().expect("member state lock")
    }
}

/// Heartbeats every interval while the member exists; marks it stale when the group moved
/// on. Stops for good once the `GroupMember` is dropped.
async fn heartbeat_loop(
    ctx: ClientContext,
    config: GroupConfig,
    group_id: Arc<str>,
    state: Weak<Mutex<MemberState>>,
) {
    let interval = Duration::from_millis(config.heartbeat_interval_ms);
    let timeout = Duration::from_millis(config.request_timeout_ms);
    loop {
        madsim::time::sleep(interval).await;
        let Some(shared) = state.upgrade() else {
            return;
        };
        let (member_id, generation) = {
            let s = shared.lock().expect("member state lock");
            match &s.member_id {
                Some(id) => (id.clone(), s.generation),
                None => continue, // expired: nothing to keep alive until the next join
            }
        };
        drop(shared);
        let request = Request::Heartbeat {
            group_id: group_id.clone(),
            member_id,
            generation,
        };
        let coordinator = ctx.cluster.group_coordinator(&group_id);
        let answer = ctx.net.call(ctx.node, coordinator, request, timeout).await;
        let Some(shared) = state.upgrade() else {
            return;
        };
        let mut s = shared.lock().expect("member state lock");
        match answer {
            Ok(Response::Heartbeat(Err(
                KafkaError::IllegalGeneration | KafkaError::RebalanceInProgress,
            ))) if s.generation == generation => {
                s.stale = true;
            }
            Ok(Response::Heartbeat(Err(KafkaError::UnknownMemberId)))
                if s.generation == generation =>
            {
                s.stale = true;
                s.member_id = None;
            }
            Ok(Response::Heartbeat(_)) | Err(_) => {}
            Ok(other) => panic!("Heartbeat answered with {other:?}"),
        }
    }
}
