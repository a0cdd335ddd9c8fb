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

fn rejoin(m: &mut GroupMembers, member: &Joined, now_ms: u64) -> Joined {
    let (result, _) = m.join(GROUP, Some(&member.member_id), "x", meta(3), now_ms);
    result.unwrap()
}

#[test]
fn nobody_gets_an_assignment_until_every_member_rejoined() {
    let mut m = GroupMembers::new();
    let a = join(&mut m, "a", 0);
    assert_eq!((a.generation, a.assignment.len(), a.waiting), (1, 3, false));
    let b = join(&mut m, "b", 0);
    assert!(b.waiting, "a still holds everything");
    assert_eq!((b.generation, b.assignment.len()), (2, 0));
    assert_eq!(
        m.heartbeat(GROUP, &a.member_id, a.generation, 10),
        Err(KafkaError::RebalanceInProgress)
    );
    assert!(
        rejoin(&mut m, &b, 20).waiting,
        "b again: a has not rejoined yet"
    );
    let a2 = rejoin(&mut m, &a, 30);
    let b2 = rejoin(&mut m, &b, 40);
    assert!(!a2.waiting && !b2.waiting);
    assert_eq!((a2.generation, b2.generation), (2, 2));
    assert_eq!(a2.assignment.len() + b2.assignment.len(), 3);
    assert!(a2.assignment.iter().all(|tp| !b2.assignment.contains(tp)));
    assert_eq!(m.heartbeat(GROUP, &a.member_id, 2, 50), Ok(()));
}

#[test]
fn a_member_that_does_not_rejoin_in_time_is_removed() {
    let mut m = GroupMembers::new();
    let a = join(&mut m, "a", 0);
    let b = join(&mut m, "b", 0);
    // a keeps heartbeating (stuck in a long operation) but never rejoins.
    m.heartbeat(GROUP, &a.member_id, a.generation, 900)
        .unwrap_err();
    assert!(rejoin(&mut m, &b, 950).waiting);
    assert_eq!(m.next_deadline_ms(), Some(1_000), "the rebalance deadline");
    let rebalances = m.expire(1_000);
    assert_eq!(rebalances.len(), 1);
    assert_eq!(
        rebalances[0].cause,
        RebalanceCause::Expired(a.member_id.clone())
    );
    let b2 = rejoin(&mut m, &b, 1_000);
    assert_eq!(
        (b2.generation, b2.assignment.len(), b2.waiting),
        (3, 3, false)
    );
}

#[test]
fn a_silent_member_expires_after_its_session_timeout_and_its_partitions_move() {
    let mut m = GroupMembers::new();
    let a = join(&mut m, "a", 0);
    let b = join(&mut m, "b", 0);
    let (a, b) = (rejoin(&mut m, &a, 0), rejoin(&mut m, &b, 0));
    m.heartbeat(GROUP, &b.member_id, b.generation, 900).unwrap();
    let rebalances = m.expire(1_000);
    assert_eq!(rebalances.len(), 1);
    assert_eq!(
        rebalances[0].cause,
        RebalanceCause::Expired(a.member_id.clone())
    );
    assert_eq!(rebalances[0].generation, 3);
    let b3 = rejoin(&mut m, &b, 1_000);
    assert_eq!(b3.assignment.len(), 3, "b owns all");
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
    let (result, rebalance) = m.leave(GROUP, &a.member_id, 0);
    result.unwrap();
    let rebalance = rebalance.unwrap();
    assert_eq!(rebalance.cause, RebalanceCause::Left(a.member_id.clone()));
    assert_eq!(rejoin(&mut m, &b, 0).assignment.len(), 3);
    assert_eq!(
        m.leave(GROUP, &a.member_id, 0).0,
        Err(KafkaError::UnknownMemberId)
    );
}

#[test]
fn a_reloaded_coordinator_keeps_generation_and_members_and_everyone_rejoins() {
    let mut m = GroupMembers::new();
    let a = join(&mut m, "a", 0);
    let (_, rebalance) = m.join(GROUP, None, "b", meta(3), 0);
    let rebalance = rebalance.unwrap();
    let group: Arc<str> = Arc::from(GROUP);
    let mut loaded =
        GroupMembers::load([(&group, rebalance.generation, &rebalance.members)], 5_000);
    assert_eq!(loaded.generation(GROUP), 2);
    assert_eq!(loaded.next_deadline_ms(), Some(6_000));
    assert_eq!(
        loaded.heartbeat(GROUP, &a.member_id, 2, 5_000),
        Err(KafkaError::RebalanceInProgress)
    );
    assert!(rejoin(&mut loaded, &a, 5_000).waiting);
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
    /// back, every change of the member set bumps it, the assignment is a partition of the
    /// subscribed partitions over the live members, and no partition is handed to a member
    /// while another live member still holds it (it must rejoin, giving it up, first).
    #[test]
    fn membership_invariants(ops in prop::collection::vec((0u8..4, 0usize..4, 0u64..400), 1..60)) {
        let mut m = GroupMembers::new();
        let mut ids: Vec<Option<(Arc<str>, i32)>> = vec![None; 4];
        let mut held: Vec<Vec<TopicPartition>> = vec![Vec::new(); 4];
        let mut now_ms = 0;
        let mut last_generation = 0;
        for (kind, client, dt) in ops {
            now_ms += dt;
            let before: BTreeSet<Arc<str>> = live_members(&m);
            match kind {
                0 => {
                    let id = ids[client].as_ref().map(|(id, _)| id.clone());
                    held[client].clear(); // rejoining gives up everything
                    let (result, _) = m.join(GROUP, id.as_deref(), &format!("c{client}"), meta(4), now_ms);
                    match result {
                        Ok(j) => {
                            if !j.waiting {
                                held[client] = j.assignment.clone();
                                // Nobody else still holds what this member was given,
                                // unless that member left the group (a zombie).
                                for (other, theirs) in held.iter().enumerate() {
                                    let live = ids[other].as_ref().is_some_and(|(id, _)| live_members(&m).contains(id));
                                    if other != client && live {
                                        prop_assert!(theirs.iter().all(|tp| !j.assignment.contains(tp)),
                                            "two live owners of one partition");
                                    }
                                }
                            }
                            ids[client] = Some((j.member_id, j.generation));
                        }
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
                    held[client].clear();
                    let _ = m.leave(GROUP, &id, now_ms);
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
