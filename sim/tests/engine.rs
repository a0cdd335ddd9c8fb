//! Behaviour of the engine on a toy counter service: FIFO links, lost acks, duplicates,
//! crashes with durable state, panics, and trace-hash determinism.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sim::fault::{
    Delay, DropRequests, DuplicateRequests, DuplicateResponses, FaultAction, LoseAcks,
    MessageFilter, apply,
};
use sim::net::Direction;
use sim::node::SUPERVISOR;
use sim::trace::TraceKind;
use sim::{DurableLog, Message, Net, NetConfig, SeedOptions, Sim, run_seed};

#[derive(Clone, Debug, Hash)]
struct Add(u64);
#[derive(Clone, Debug, PartialEq, Hash)]
struct Total(u64);
impl Message for Add {
    fn label(&self) -> &'static str {
        "add"
    }
}
impl Message for Total {
    fn label(&self) -> &'static str {
        "total"
    }
}

/// A counter server whose additions are kept in a durable log (synced before replying).
fn counter_server(
    sim: &Sim,
    net: &Net<Add, Total>,
    applied: Arc<AtomicU64>,
) -> (sim::NodeId, Arc<DurableLog<u64>>) {
    let disk = DurableLog::new();
    let (net2, disk2) = (net.clone(), disk.clone());
    let id = sim.add_node("server", move |me| {
        let (net, disk, applied) = (net2.clone(), disk2.clone(), applied.clone());
        async move {
            let mut inbox = net.serve(me);
            while let Some(incoming) = inbox.recv().await {
                disk.append(incoming.request.0);
                disk.sync();
                applied.fetch_add(1, Ordering::Relaxed);
                let total = disk.read(|e| e.iter().sum());
                net.reply(me, incoming.reply_to, Total(total));
            }
        }
    });
    sim.attach_disk(id, disk.clone());
    (id, disk)
}

const TIMEOUT: Duration = Duration::from_millis(100);

#[test]
fn lost_ack_means_the_request_took_effect_but_the_caller_times_out() {
    let report = run_seed(1, &SeedOptions::default(), |sim| async move {
        let net: Net<Add, Total> = Net::new(&sim, NetConfig::default());
        let applied = Arc::new(AtomicU64::new(0));
        let (server, disk) = counter_server(&sim, &net, applied.clone());
        apply(
            &sim,
            &FaultAction::LoseAcks(LoseAcks {
                filter: MessageFilter::default(),
                count: 1,
            }),
        );
        let first = net.call(SUPERVISOR, server, Add(5), TIMEOUT).await;
        let second = net.call(SUPERVISOR, server, Add(1), TIMEOUT).await;
        (
            first.is_err(),
            second.map(|t| t.0),
            applied.load(Ordering::Relaxed),
            disk.len(),
        )
    });
    assert_eq!(report.outcome.unwrap(), (true, Ok(6), 2, 2));
}

#[test]
fn duplicated_request_takes_effect_twice_and_duplicated_response_is_dropped() {
    let report = run_seed(2, &SeedOptions::default(), |sim| async move {
        let net: Net<Add, Total> = Net::new(&sim, NetConfig::default());
        let applied = Arc::new(AtomicU64::new(0));
        let (server, _) = counter_server(&sim, &net, applied.clone());
        apply(
            &sim,
            &FaultAction::DuplicateRequests(DuplicateRequests {
                filter: MessageFilter::default(),
                count: 1,
            }),
        );
        let total = net
            .call(SUPERVISOR, server, Add(5), TIMEOUT)
            .await
            .unwrap()
            .0;
        madsim::time::sleep(Duration::from_millis(50)).await;
        apply(
            &sim,
            &FaultAction::DuplicateResponses(DuplicateResponses {
                filter: MessageFilter::default(),
                count: 1,
            }),
        );
        let after = net
            .call(SUPERVISOR, server, Add(0), TIMEOUT)
            .await
            .unwrap()
            .0;
        madsim::time::sleep(Duration::from_millis(50)).await;
        (
            total,
            after,
            applied.load(Ordering::Relaxed),
            net.stats().duplicated,
        )
    });
    let (total, after, applied, duplicated) = report.outcome.unwrap();
    assert_eq!(total, 5, "the first copy answers first");
    assert_eq!(after, 10, "the duplicate request was applied too");
    assert_eq!(applied, 3);
    assert_eq!(duplicated, 2);
}

#[test]
fn connections_are_fifo_and_a_held_message_stalls_its_connection() {
    let options = SeedOptions {
        record_trace: true,
        ..Default::default()
    };
    let report = run_seed(3, &options, |sim| async move {
        let net: Net<Add, Total> = Net::new(
            &sim,
            NetConfig {
                latency_min_us: 100,
                latency_max_us: 5_000,
                loss: 0.0,
                ..NetConfig::default()
            },
        );
        let (server, _) = counter_server(&sim, &net, Arc::new(AtomicU64::new(0)));
        apply(
            &sim,
            &FaultAction::Delay(Delay {
                filter: MessageFilter::default(),
                direction: Direction::Request,
                extra_ms: 200,
                count: 1,
            }),
        );
        let mut calls = Vec::new();
        for i in 0..50 {
            let net = net.clone();
            calls.push(madsim::task::spawn(async move {
                net.call(SUPERVISOR, server, Add(i), Duration::from_secs(1))
                    .await
            }));
        }
        for c in calls {
            c.await.unwrap().unwrap();
        }
    });
    report.outcome.unwrap();
    let events = report.trace.recorded.unwrap();
    let calls = |pick: fn(&TraceKind) -> Option<u64>| -> Vec<u64> {
        events.iter().filter_map(|e| pick(&e.kind)).collect()
    };
    let sent = calls(|k| match k {
        TraceKind::Send {
            call,
            response: false,
            ..
        } => Some(*call),
        _ => None,
    });
    let delivered = calls(|k| match k {
        TraceKind::Deliver {
            call,
            response: false,
            ..
        } => Some(*call),
        _ => None,
    });
    let held = calls(|k| match k {
        TraceKind::Delay { call, .. } => Some(*call),
        _ => None,
    });
    assert_eq!(held.len(), 1);
    assert_eq!(
        delivered, sent,
        "requests arrive in the order they were sent"
    );
    let first_delivery = events
        .iter()
        .find(|e| matches!(e.kind, TraceKind::Deliver { .. }))
        .unwrap();
    let held_at = events
        .iter()
        .find(|e| matches!(e.kind, TraceKind::Delay { .. }))
        .unwrap()
        .at_ns;
    if held[0] == sent[0] {
        assert!(
            first_delivery.at_ns >= held_at + 200_000_000,
            "everything queues behind the held request"
        );
    }
}

#[test]
fn a_lost_message_breaks_the_connection_until_the_caller_times_out() {
    let report = run_seed(6, &SeedOptions::default(), |sim| async move {
        let net: Net<Add, Total> = Net::new(&sim, NetConfig::default());
        let applied = Arc::new(AtomicU64::new(0));
        let (server, _) = counter_server(&sim, &net, applied.clone());
        apply(
            &sim,
            &FaultAction::DropRequests(DropRequests {
                filter: MessageFilter::default(),
                count: 1,
            }),
        );
        let (n1, n2) = (net.clone(), net.clone());
        let first =
            madsim::task::spawn(async move { n1.call(SUPERVISOR, server, Add(1), TIMEOUT).await });
        madsim::time::sleep(Duration::from_millis(10)).await;
        // Sent after the loss on the same connection: lost with it, and failed when the first
        // call's timeout closes the connection.
        let second = madsim::task::spawn(async move {
            n2.call(SUPERVISOR, server, Add(2), Duration::from_secs(5))
                .await
        });
        let first = first.await.unwrap();
        let second = second.await.unwrap();
        let applied_before_reconnect = applied.load(Ordering::Relaxed);
        let third = net
            .call(SUPERVISOR, server, Add(3), TIMEOUT)
            .await
            .map(|t| t.0);
        let (first, second) = (first.map(|t| t.0), second.map(|t| t.0));
        (first, second, applied_before_reconnect, third)
    });
    let (first, second, applied_before, third) = report.outcome.unwrap();
    assert_eq!(first, Err(sim::CallError::Timeout));
    assert_eq!(second, Err(sim::CallError::Disconnected));
    assert_eq!(applied_before, 0, "nothing overtook the lost request");
    assert_eq!(third, Ok(3), "a new connection works");
}

#[test]
fn crash_loses_inflight_requests_and_restart_runs_init_on_durable_state() {
    let report = run_seed(4, &SeedOptions::default(), |sim| async move {
        let net: Net<Add, Total> = Net::new(&sim, NetConfig::default());
        let applied = Arc::new(AtomicU64::new(0));
        let (server, disk) = counter_server(&sim, &net, applied.clone());
        net.call(SUPERVISOR, server, Add(7), TIMEOUT).await.unwrap();
        sim.crash(server);
        let while_down = net.call(SUPERVISOR, server, Add(1), TIMEOUT).await;
        sim.restart(server);
        let after = net
            .call(SUPERVISOR, server, Add(1), TIMEOUT)
            .await
            .map(|t| t.0);
        (while_down.is_err(), after, disk.len())
    });
    assert_eq!(report.outcome.unwrap(), (true, Ok(8), 2));
}

#[test]
fn a_panic_in_the_simulation_is_reported_not_propagated() {
    let report = run_seed(5, &SeedOptions::default(), |sim| async move {
        let node = sim.add_node("bad", |_| async { panic!("invariant broken") });
        let _ = node;
        madsim::time::sleep(Duration::from_millis(10)).await;
    });
    let err = report.outcome.unwrap_err();
    assert!(err.contains("invariant broken"), "{err}");
}

/// A run that panics mid-call still gives its message counts to the thread that started it,
/// through a reader that holds only the counters (a `Net` clone there would own channel ends
/// and run-locked state, whose drop takes the network's lock off the run's thread).
#[test]
fn a_panicked_runs_message_counts_are_read_from_outside_it() {
    type Reader = Box<dyn Fn() -> sim::NetStats + Send>;
    let reader: Arc<std::sync::Mutex<Option<Reader>>> = Arc::default();
    let slot = reader.clone();
    let report = run_seed(7, &SeedOptions::default(), move |sim| async move {
        let net: Net<Add, Total> = Net::new(&sim, NetConfig::default());
        *slot.lock().unwrap() = Some(Box::new(net.stats_reader()));
        let (server, _) = counter_server(&sim, &net, Arc::new(AtomicU64::new(0)));
        let client = sim.add_node("client", |_| async {});
        assert!(net.call(client, server, Add(2), TIMEOUT).await.is_ok());
        let _in_flight = net.call(client, server, Add(3), TIMEOUT);
        panic!("invariant broken mid-call");
    });
    assert!(report.outcome.unwrap_err().contains("mid-call"));
    let read = reader
        .lock()
        .unwrap()
        .take()
        .expect("the run set its reader");
    let stats = read();
    assert_eq!((stats.sent, stats.delivered), (2, 2), "{stats:?}");
    drop(read);
}

/// A transition the fault-plan validation should have refused (resuming a crashed node) is a
/// bug: the run fails loudly, naming the node, the verb and the state it was in.
#[test]
fn an_impossible_node_transition_fails_the_run_and_says_why() {
    let report = run_seed(6, &SeedOptions::default(), |sim| async move {
        let net: Net<Add, Total> = Net::new(&sim, NetConfig::default());
        let (server, _) = counter_server(&sim, &net, Arc::new(AtomicU64::new(0)));
        sim.crash(server);
        sim.resume(server);
    });
    let err = report.outcome.unwrap_err();
    assert!(
        err.contains("resume of server while it is Crashed (allowed from [Paused])"),
        "{err}"
    );
}

fn busy_run(seed: u64, record: bool) -> sim::SeedReport<u64> {
    run_seed(
        seed,
        &SeedOptions {
            record_trace: record,
            ..Default::default()
        },
        |sim| async move {
            let net: Net<Add, Total> = Net::new(&sim, NetConfig::default());
            let (server, _) = counter_server(&sim, &net, Arc::new(AtomicU64::new(0)));
            apply(
                &sim,
                &FaultAction::LoseAcks(LoseAcks {
                    filter: MessageFilter::default(),
                    count: 3,
                }),
            );
            let mut calls = Vec::new();
            for i in 0..20 {
                let net = net.clone();
                calls.push(madsim::task::spawn(async move {
                    net.call(SUPERVISOR, server, Add(i), TIMEOUT).await.is_ok() as u64
                }));
            }
            let mut ok = 0;
            for c in calls {
                ok += c.await.unwrap();
            }
            ok
        },
    )
}

#[test]
fn the_trace_hash_is_a_function_of_the_seed() {
    let a = busy_run(9, false);
    let b = busy_run(9, true);
    let c = busy_run(10, false);
    assert_eq!(
        a.trace.hash, b.trace.hash,
        "recording must not change the hash"
    );
    assert_eq!(a.outcome, b.outcome);
    assert_ne!(a.trace.hash, c.trace.hash);
    assert!(b.trace.recorded.as_ref().unwrap().len() as u64 == b.trace.events);
    assert!(b.trace.events > 60);
}

#[test]
fn parallel_runs_match_serial_runs() {
    let seeds: Vec<u64> = (0..8).collect();
    let serial = sim::run_seeds(&seeds, 1, |s| busy_run(s, false).trace.hash, &|_| {});
    let parallel = sim::run_seeds(&seeds, 4, |s| busy_run(s, false).trace.hash, &|_| {});
    assert_eq!(serial, parallel);
}

/// The cost model: a message carrying records takes overhead + size / bandwidth longer; a
/// server's `reply_after` adds its service time; with no costs configured nothing changes.
#[test]
fn the_cost_model_charges_overhead_transfer_and_service_time() {
    let config = NetConfig {
        latency_min_us: 1_000,
        latency_max_us: 1_000,
        message_overhead_us: 50,
        record_bytes: 512,
        transfer_us_per_kib: 100,
        ..NetConfig::default()
    };
    assert_eq!(config.cost(0), std::time::Duration::from_micros(50));
    assert_eq!(config.cost(4), std::time::Duration::from_micros(50 + 200));
    assert_eq!(NetConfig::default().cost(1_000), std::time::Duration::ZERO);
}

/// Shared resources: two calls started at once share the client's and the server's links,
/// so the second of each message queues behind the first for its transfer time; without a
/// link limit both take their latency alone.
#[test]
fn two_messages_sent_at_once_on_a_shared_link_the_second_waits() {
    fn answered_at_ms(config: NetConfig) -> Vec<u64> {
        let report = run_seed(3, &SeedOptions::default(), |sim| async move {
            let net: Net<Add, Total> = Net::new(&sim, config);
            let (server, _) = counter_server(&sim, &net, Arc::new(AtomicU64::new(0)));
            let (sink, mut outcomes) = sim::chan::unbounded_channel();
            let timeout = Duration::from_secs(1);
            net.start_call(SUPERVISOR, server, Add(1), timeout, &sink, 0);
            net.start_call(SUPERVISOR, server, Add(2), timeout, &sink, 1);
            let mut at = Vec::new();
            for _ in 0..2 {
                let (_, outcome) = outcomes.recv().await.expect("an outcome");
                assert!(outcome.is_ok(), "{outcome:?}");
                at.push(sim::now_ms());
            }
            at
        });
        report.outcome.unwrap()
    }
    let latency_only = NetConfig {
        latency_min_us: 1_000,
        latency_max_us: 1_000,
        message_bytes: 1_250_000, // 10 ms at 1,000 Mbit/s
        ..NetConfig::default()
    };
    let free = answered_at_ms(latency_only.clone());
    assert!(free.iter().all(|&t| t <= 3), "latency only: {free:?}");
    let shared = answered_at_ms(NetConfig {
        link_mbit_per_s: 1_000,
        ..latency_only
    });
    // Request out 0–10 ms, in 1–11; response out 11–21, in 12–22 (+ ~1 ms timer granularity).
    // The second: request out 10–20, in 11–21; response out 21–31, in 22–32.
    assert!((22..=24).contains(&shared[0]), "{shared:?}");
    assert!(
        (32..=34).contains(&shared[1]),
        "the second waits a transfer: {shared:?}"
    );
}

/// A node whose application honours stop requests: it counts its lives and, asked to stop,
/// writes a farewell to its disk and ends itself.
#[test]
fn a_clean_stop_ends_the_node_after_its_shutdown_and_restart_runs_it_again() {
    let options = SeedOptions {
        record_trace: true,
        ..SeedOptions::default()
    };
    let report = run_seed(7, &options, |sim| async move {
        let disk: Arc<DurableLog<u64>> = DurableLog::new();
        let (sim2, disk2) = (sim.clone(), disk.clone());
        let node = sim.add_node("app", move |me| {
            let (sim, disk) = (sim2.clone(), disk2.clone());
            async move {
                disk.append(1); // started (never synced: a clean stop keeps it anyway)
                let signal = sim.stop_signal(me);
                while !signal.is_requested() {
                    madsim::time::sleep(Duration::from_millis(5)).await;
                }
                madsim::time::sleep(Duration::from_millis(20)).await; // shutting down
                disk.append(2);
                sim.stopped(me);
                std::future::pending::<()>().await;
            }
        });
        sim.attach_disk(node, disk.clone());
        madsim::time::sleep(Duration::from_millis(10)).await;
        sim.stop(node, sim::STOP_GRACE_MS);
        let while_stopping = sim.state(node);
        madsim::time::sleep(Duration::from_millis(100)).await;
        let after_stop = (sim.state(node), disk.len());
        sim.restart(node);
        madsim::time::sleep(Duration::from_millis(10)).await;
        (while_stopping, after_stop, sim.state(node), disk.len())
    });
    let (stopping, (stopped, written), running, after_restart) = report.outcome.unwrap();
    assert_eq!(stopping, sim::NodeState::Stopping);
    assert_eq!(stopped, sim::NodeState::Stopped);
    assert_eq!(
        written, 2,
        "start and farewell, both kept by the clean stop"
    );
    assert_eq!(running, sim::NodeState::Running);
    assert_eq!(after_restart, 3, "the restarted life ran init again");
    let events = report.trace.recorded.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| &e.kind).collect();
    assert!(kinds.contains(&&TraceKind::Stop));
    assert!(kinds.contains(&&TraceKind::Stopped { forced: false }));
}

#[test]
fn a_node_that_ignores_a_stop_request_is_killed_after_the_grace_period() {
    let options = SeedOptions {
        record_trace: true,
        ..SeedOptions::default()
    };
    let report = run_seed(8, &options, |sim| async move {
        let node = sim.add_node("deaf", |_| std::future::pending::<()>());
        sim.stop(node, 300);
        madsim::time::sleep(Duration::from_millis(299)).await;
        let before = sim.state(node);
        madsim::time::sleep(Duration::from_millis(2)).await;
        (before, sim.state(node))
    });
    assert_eq!(
        report.outcome.unwrap(),
        (sim::NodeState::Stopping, sim::NodeState::Stopped)
    );
    let events = report.trace.recorded.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| &e.kind).collect();
    assert!(kinds.contains(&&TraceKind::Stopped { forced: true }));
}

/// TCP's promise: nothing sent to a node that is down reaches its next incarnation. Before
/// the network kept it, a request sent just before a restart arrived at the restarted
/// server (how produce-retries seed 6940 lost values under idempotence: a later batch
/// reached the restarted broker ahead of an earlier, lost one).
#[test]
fn a_request_sent_while_the_server_is_down_never_reaches_its_next_incarnation() {
    let report = run_seed(7, &SeedOptions::default(), |sim| async move {
        let net: Net<Add, Total> = Net::new(&sim, NetConfig::default());
        let applied = Arc::new(AtomicU64::new(0));
        let (server, _) = counter_server(&sim, &net, applied.clone());
        net.call(SUPERVISOR, server, Add(7), TIMEOUT).await.unwrap();
        sim.crash(server);
        let n = net.clone();
        let while_down =
            madsim::task::spawn(async move { n.call(SUPERVISOR, server, Add(1), TIMEOUT).await });
        madsim::time::sleep(Duration::from_micros(100)).await;
        sim.restart(server); // the request is still in flight (latency ≥ 500 µs)
        let while_down = while_down.await.unwrap();
        let applied_after_restart = applied.load(Ordering::Relaxed);
        let after = net
            .call(SUPERVISOR, server, Add(2), TIMEOUT)
            .await
            .map(|t| t.0);
        (while_down.is_err(), applied_after_restart, after)
    });
    assert_eq!(report.outcome.unwrap(), (true, 1, Ok(9)));
}

/// A server crash resets its connections: a request sent after the restart on the
/// connection opened before the crash is lost (the client learns it only by timing out),
/// so it cannot overtake one that went to the crashed incarnation.
#[test]
fn a_server_crash_resets_its_connections_until_the_client_times_out() {
    let report = run_seed(8, &SeedOptions::default(), |sim| async move {
        let net: Net<Add, Total> = Net::new(&sim, NetConfig::default());
        let applied = Arc::new(AtomicU64::new(0));
        let (server, _) = counter_server(&sim, &net, applied.clone());
        net.call(SUPERVISOR, server, Add(7), TIMEOUT).await.unwrap();
        let n = net.clone();
        let lost =
            madsim::task::spawn(async move { n.call(SUPERVISOR, server, Add(1), TIMEOUT).await });
        madsim::time::sleep(Duration::from_micros(100)).await;
        sim.crash(server);
        sim.restart(server);
        let n = net.clone();
        let behind = madsim::task::spawn(async move {
            n.call(SUPERVISOR, server, Add(2), Duration::from_secs(5))
                .await
        });
        let (lost, behind) = (lost.await.unwrap(), behind.await.unwrap());
        let applied_before_reconnect = applied.load(Ordering::Relaxed);
        let after = net
            .call(SUPERVISOR, server, Add(3), TIMEOUT)
            .await
            .map(|t| t.0);
        (lost, behind, applied_before_reconnect, after)
    });
    let (lost, behind, applied_before, after) = report.outcome.unwrap();
    assert_eq!(lost, Err(sim::CallError::Timeout));
    assert_eq!(behind, Err(sim::CallError::Disconnected));
    assert_eq!(applied_before, 1, "only the request before the crash");
    assert_eq!(
        after,
        Ok(10),
        "a new connection reaches the new incarnation"
    );
}

/// A message still in flight when its client closes the connection (the call timed out) is
/// never delivered (eos-test seed 633: a WriteTxnMarkers held in the network arrived after
/// the coordinator's retry had completed the transaction). A held *response* is such a
/// message; a held *request* is one the server received and handles late, and it is handled
/// even though the client gave up (KAFKA-17754's late request).
#[test]
fn a_held_response_dies_with_the_connection_and_a_held_request_is_handled_late() {
    let report = run_seed(9, &SeedOptions::default(), |sim| async move {
        let net: Net<Add, Total> = Net::new(&sim, NetConfig::default());
        let applied = Arc::new(AtomicU64::new(0));
        let (server, _) = counter_server(&sim, &net, applied.clone());
        let hold = |direction| {
            FaultAction::Delay(Delay {
                filter: MessageFilter::default(),
                direction,
                extra_ms: 300,
                count: 1,
            })
        };
        apply(&sim, &hold(Direction::Response));
        let response_held = net.call(SUPERVISOR, server, Add(1), TIMEOUT).await;
        let retried = net.call(SUPERVISOR, server, Add(2), TIMEOUT).await;
        madsim::time::sleep(Duration::from_millis(500)).await;
        let responses_delivered = net.stats().delivered;
        apply(&sim, &hold(Direction::Request));
        let request_held = net.call(SUPERVISOR, server, Add(10), TIMEOUT).await;
        let before_late = net
            .call(SUPERVISOR, server, Add(0), TIMEOUT)
            .await
            .map(|t| t.0);
        madsim::time::sleep(Duration::from_millis(500)).await;
        let after_late = net
            .call(SUPERVISOR, server, Add(0), TIMEOUT)
            .await
            .map(|t| t.0);
        (
            response_held,
            retried.map(|t| t.0),
            responses_delivered,
            request_held,
            before_late,
            after_late,
        )
    });
    let (response_held, retried, delivered, request_held, before_late, after_late) =
        report.outcome.unwrap();
    assert_eq!(response_held, Err(sim::CallError::Timeout));
    assert_eq!(retried, Ok(3));
    assert_eq!(
        delivered, 3,
        "two requests and one response: the held one never arrived"
    );
    assert_eq!(request_held, Err(sim::CallError::Timeout));
    assert_eq!(
        before_late,
        Ok(3),
        "the new connection overtakes the held request"
    );
    assert_eq!(after_late, Ok(13), "the held request was handled, late");
}

/// A node that runs but has not opened its server yet (here: paused before it bound) refuses
/// connections: the refused request is a loss on its stream, so a request sent after it on
/// the same connection, once the server listens, is lost too until the client times out and
/// reconnects (produce-retries --swarm seed 27002826: a producer's sequence 1 was appended
/// after its refused sequence 0, whose retries were then out of order).
#[test]
fn a_request_refused_by_a_server_not_yet_listening_breaks_its_connection() {
    let report = run_seed(10, &SeedOptions::default(), |sim| async move {
        let net: Net<Add, Total> = Net::new(&sim, NetConfig::default());
        let applied = Arc::new(AtomicU64::new(0));
        let (server, _) = counter_server(&sim, &net, applied.clone());
        sim.pause(server); // before its first poll: no inbox yet
        let n = net.clone();
        let refused =
            madsim::task::spawn(async move { n.call(SUPERVISOR, server, Add(1), TIMEOUT).await });
        madsim::time::sleep(Duration::from_millis(10)).await;
        sim.resume(server);
        madsim::time::sleep(Duration::from_millis(1)).await; // it binds now
        let n = net.clone();
        let behind = madsim::task::spawn(async move {
            n.call(SUPERVISOR, server, Add(2), Duration::from_secs(5))
                .await
        });
        let (refused, behind) = (refused.await.unwrap(), behind.await.unwrap());
        let applied_before_reconnect = applied.load(Ordering::Relaxed);
        let after = net
            .call(SUPERVISOR, server, Add(3), TIMEOUT)
            .await
            .map(|t| t.0);
        (refused, behind, applied_before_reconnect, after)
    });
    let (refused, behind, applied_before, after) = report.outcome.unwrap();
    assert_eq!(refused, Err(sim::CallError::Timeout));
    assert_eq!(behind, Err(sim::CallError::Disconnected));
    assert_eq!(applied_before, 0, "nothing overtook the refused request");
    assert_eq!(
        after,
        Ok(3),
        "a new connection reaches the listening server"
    );
}

/// A counter server that announces "server:appended" after its durable write, before it
/// replies.
fn counter_server_with_point(
    sim: &Sim,
    net: &Net<Add, Total>,
) -> (sim::NodeId, Arc<DurableLog<u64>>) {
    let disk = DurableLog::new();
    let (net2, disk2, sim2) = (net.clone(), disk.clone(), sim.clone());
    let id = sim.add_node("server", move |me| {
        let (net, disk, sim) = (net2.clone(), disk2.clone(), sim2.clone());
        async move {
            let mut inbox = net.serve(me);
            while let Some(incoming) = inbox.recv().await {
                disk.append(incoming.request.0);
                disk.sync();
                let event = sim::PointEvent {
                    point: "server:appended",
                    ..Default::default()
                };
                sim.at_point(me, &event).await;
                let total = disk.read(|e| e.iter().sum());
                net.reply(me, incoming.reply_to, Total(total));
            }
        }
    });
    sim.attach_disk(id, disk.clone());
    (id, disk)
}

/// A point fault crashes the node right after the point: the write before it is durable,
/// the reply after it never leaves; a pause there holds the reply until the resume.
#[test]
fn a_point_fault_halts_the_node_exactly_at_the_point() {
    let point = |then: &str, nth: u32| -> FaultAction {
        let text = format!(
            "kind = \"point\"\nafter = \"server:appended\"\nthen = \"{then}\"\nnth = {nth}"
        );
        toml::from_str(&text).unwrap()
    };
    let crash = point("crash", 2);
    let report = run_seed(11, &SeedOptions::default(), move |sim| async move {
        let net: Net<Add, Total> = Net::new(&sim, NetConfig::default());
        let (server, disk) = counter_server_with_point(&sim, &net);
        apply(&sim, &crash);
        let first = net
            .call(SUPERVISOR, server, Add(1), TIMEOUT)
            .await
            .map(|t| t.0);
        let second = net
            .call(SUPERVISOR, server, Add(2), TIMEOUT)
            .await
            .map(|t| t.0);
        let state = sim.state(server);
        sim.restart(server);
        madsim::time::sleep(Duration::from_millis(1)).await;
        let after = net
            .call(SUPERVISOR, server, Add(4), TIMEOUT)
            .await
            .map(|t| t.0);
        (first, second, state, after, disk.read(|e| e.to_vec()))
    });
    let (first, second, state, after, log) = report.outcome.unwrap();
    assert_eq!(first, Ok(1), "the first event passes (nth = 2)");
    assert_eq!(
        second,
        Err(sim::CallError::Timeout),
        "no reply after the point"
    );
    assert_eq!(state, sim::NodeState::Crashed);
    assert_eq!(
        after,
        Ok(7),
        "the write before the point survived the crash"
    );
    assert_eq!(log, vec![1, 2, 4]);

    let pause = point("pause", 1);
    let report = run_seed(12, &SeedOptions::default(), move |sim| async move {
        let net: Net<Add, Total> = Net::new(&sim, NetConfig::default());
        let (server, _) = counter_server_with_point(&sim, &net);
        apply(&sim, &pause);
        let n = net.clone();
        let call = madsim::task::spawn(async move {
            n.call(SUPERVISOR, server, Add(1), Duration::from_secs(5))
                .await
        });
        madsim::time::sleep(Duration::from_millis(50)).await;
        let state = sim.state(server);
        sim.resume(server);
        let reply = call.await.unwrap().map(|t| t.0);
        (state, reply, sim::now_ms())
    });
    let (state, reply, now_ms) = report.outcome.unwrap();
    assert_eq!(state, sim::NodeState::Paused);
    assert_eq!(reply, Ok(1), "the reply leaves after the resume");
    assert!(now_ms >= 50);
}

/// A point fault with `down_ms` undoes its halt itself: the crashed node restarts that long
/// after the point, on its durable state.
#[test]
fn a_point_fault_with_down_ms_restarts_its_node_itself() {
    let crash: FaultAction = toml::from_str(
        "kind = \"point\"\nafter = \"server:appended\"\nthen = \"crash\"\ndown_ms = 20",
    )
    .unwrap();
    let report = run_seed(13, &SeedOptions::default(), move |sim| async move {
        let net: Net<Add, Total> = Net::new(&sim, NetConfig::default());
        let (server, _) = counter_server_with_point(&sim, &net);
        apply(&sim, &crash);
        let first = net
            .call(SUPERVISOR, server, Add(1), TIMEOUT)
            .await
            .map(|t| t.0);
        let after_timeout = (sim.state(server), sim.incarnation(server));
        let after = net
            .call(SUPERVISOR, server, Add(2), TIMEOUT)
            .await
            .map(|t| t.0);
        (first, after_timeout, after)
    });
    let (first, after_timeout, after) = report.outcome.unwrap();
    assert_eq!(first, Err(sim::CallError::Timeout));
    assert_eq!(
        after_timeout,
        (sim::NodeState::Running, 1),
        "crashed once, restarted within the 100 ms timeout"
    );
    assert_eq!(after, Ok(3), "the write before the crash survived");
}
