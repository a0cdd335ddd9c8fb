use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

const GROUP: &str = "group";

fn tps(n: u32) -> Arc<[TopicPartition]> {
    (0..n).map(|p| TopicPartition::new("input", p)).collect()
}

fn meta(n: u32) -> MemberMeta {
    MemberMeta {
        session_timeout_ms: 1_000,
        subscription: tps(n),
    }
}

fn join(m: &mut GroupMembers, client: &str, now_ms: u64) -> Joined {
    m.join(GROUP, None, client, meta(3), now_ms).0.unwrap()
}

#[test]
fn each_new_member_starts_a_generation_and_the_partitions_are_shared() {
    let mut m = GroupMembers::new();
    let a = join(&mut m, "a", 0);
    assert_eq!((a.generation, a.assignment.len()), (1, 3));
    let b = join(&mut m, "b", 0);
    assert_eq!(b.generation, 2);
    let a_now = m.assignment(GROUP, &a.member_id);
    let b_now = m.assignment(GROUP, &b.member_id);
    assert_eq!(a_now.len() + b_now.len(), 3);
    assert!(a_now.iter().all(|tp| !b_now.contains(tp)));
}

#[test]
fn a_stale_member_learns_of_the_rebalance_from_its_heartbeat_and_rejoins_without_another() {
    let mut m = GroupMembers::new();
    let a = join(&mut m, "a", 0);
    let b = join(&mut m, "b", 0);
    assert_eq!(
        m.heartbeat(GROUP, &a.member_id, a.generation, 10),
        Err(KafkaError::IllegalGeneration)
    );
    let (rejoined, rebalance) = m.join(GROUP, Some(&a.member_id), "a", meta(3), 20);
    let rejoined = rejoined.unwrap();
    assert!(rebalance.is_none(), "a rejoin with the same metadata");
    assert_eq!(rejoined.generation, b.generation);
    assert_eq!(
        m.heartbeat(GROUP, &a.member_id, rejoined.generation, 30),
        Ok(())
    );
}

#[test]
fn a_silent_member_expires_after_its_session_timeout_and_its_partitions_move() {
    let mut m = GroupMembers::new();
    let a = join(&mut m, "a", 0);
    let b = join(&mut m, "b", 0);
    assert_eq!(m.next_deadline_ms(), Some(1_000));
    assert!(m.expire(999).is_empty());
    m.heartbeat(GROUP, &b.member_id, b.generation, 900).unwrap();
    let rebalances = m.expire(1_000);
    assert_eq!(rebalances.len(), 1);
    assert_eq!(
        rebalances[0].cause,
        RebalanceCause::Expired(a.member_id.clone())
    );
    assert_eq!(rebalances[0].generation, 3);
    assert_eq!(m.assignment(GROUP, &b.member_id).len(), 3, "b owns all");
    // The zombie wakes: unknown, and its old id cannot rejoin.
    assert_eq!(
        m.heartbeat(GROUP, &a.member_id, a.generation, 1_500),
        Err(KafkaError::UnknownMemberId)
    );
    let (result, _) = m.join(GROUP, Some(&a.member_id), "a", meta(3), 1_500);
    assert_eq!(result, Err(KafkaError::UnknownMemberId));
}

#[test]
fn leaving_rebalances_at_once() {
    let mut m = GroupMembers::new();
    let a = join(&mut m, "a", 0);
    let b = join(&mut m, "b", 0);
    let (result, rebalance) = m.leave(GROUP, &a.member_id);
    result.unwrap();
    let rebalance = rebalance.unwrap();
    assert_eq!(rebalance.cause, RebalanceCause::Left(a.member_id.clone()));
    assert_eq!(m.assignment(GROUP, &b.member_id).len(), 3);
    assert_eq!(
        m.leave(GROUP, &a.member_id).0,
        Err(KafkaError::UnknownMemberId)
    );
}

#[test]
fn a_reloaded_coordinator_keeps_generation_members_and_assignment_with_fresh_sessions() {
    let mut m = GroupMembers::new();
    let a = join(&mut m, "a", 0);
    let (_, rebalance) = m.join(GROUP, None, "b", meta(3), 0);
    let rebalance = rebalance.unwrap();
    let group: Arc<str> = Arc::from(GROUP);
    let loaded = GroupMembers::load([(&group, rebalance.generation, &rebalance.members)], 5_000);
    assert_eq!(loaded.generation(GROUP), 2);
    assert_eq!(
        loaded.assignment(GROUP, &a.member_id),
        m.assignment(GROUP, &a.member_id)
    );
    assert_eq!(loaded.next_deadline_ms(), Some(6_000));
}

#[test]
fn member_ids_stay_unique_across_rejoins_of_one_client() {
    let mut m = GroupMembers::new();
    let first = join(&mut m, "a", 0);
    m.expire(2_000);
    let second = join(&mut m, "a", 2_000);
    assert_ne!(first.member_id, second.member_id);
}

proptest! {
    /// Whatever joins, leaves, heartbeats and expiries happen: the generation never goes
    /// back, every change of the member set bumps it, and the assignment is a partition of
    /// the subscribed partitions over the live members.
    #[test]
    fn membership_invariants(ops in prop::collection::vec((0u8..4, 0usize..4, 0u64..400), 1..60)) {
        let mut m = GroupMembers::new();
        let mut ids: Vec<Option<(Arc<str>, i32)>> = vec![None; 4];
        let mut now_ms = 0;
        let mut last_generation = 0;
        for (kind, client, dt) in ops {
            now_ms += dt;
            let before: BTreeSet<Arc<str>> = live_members(&m);
            match kind {
                0 => {
                    let id = ids[client].as_ref().map(|(id, _)| id.clone());
                    let (result, _) = m.join(GROUP, id.as_deref(), &format!("c{client}"), meta(4), now_ms);
                    match result {
                        Ok(j) => ids[client] = Some((j.member_id, j.generation)),
                        Err(e) => {
                            prop_assert_eq!(e, KafkaError::UnknownMemberId);
                            ids[client] = None;
                        }
                    }
                }
                1 => if let Some((id, generation)) = &ids[client] {
                    let _ = m.heartbeat(GROUP, id, *generation, now_ms);
                },
                2 => if let Some((id, _)) = ids[client].take() {
                    let _ = m.leave(GROUP, &id);
                },
                _ => { m.expire(now_ms); }
            }
            let after = live_members(&m);
            let generation = m.generation(GROUP);
            prop_assert!(generation >= last_generation);
            if before != after {
                prop_assert!(generation > last_generation, "membership changed without a new generation");
            }
            last_generation = generation;
            let mut assigned: Vec<TopicPartition> =
                after.iter().flat_map(|id| m.assignment(GROUP, id)).collect();
            assigned.sort();
            let expected: Vec<TopicPartition> =
                if after.is_empty() { Vec::new() } else { tps(4).to_vec() };
            prop_assert_eq!(assigned, expected);
        }
    }
}

fn live_members(m: &GroupMembers) -> BTreeSet<Arc<str>> {
    m.groups
        .get(GROUP)
        .map(|g| g.members.keys().cloned().collect())
        .unwrap_or_default()
}
