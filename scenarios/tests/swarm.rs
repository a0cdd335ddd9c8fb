//! Swarm testing (`--swarm`, `swarm = true` in a mix): each seed enables a random subset of
//! the fault kinds, message kinds and nodes — clients included — and says which in its
//! outcome; runs replay exactly; a mix without swarm draws as it always did.

mod common;

use common::seed;
use scenarios::{Scenario, load, run};

#[test]
fn a_swarm_run_shows_its_draw_and_replays_exactly() {
    let plain = load("produce-retries").unwrap();
    let swarm = plain.clone().with_swarm();
    let first = run(&swarm, &seed(4));
    let again = run(&swarm, &seed(4));
    let draw = first.swarm.as_ref().expect("a swarm run reports its draw");
    assert_eq!(first.trace.hash, again.trace.hash);
    assert_eq!(first.swarm, again.swarm);
    assert!(!draw.faults.is_empty() && !draw.nodes.is_empty());
    assert!(first.passed(), "{:#?}", first.anomalies);
    let unswarmed = run(&plain, &seed(4));
    assert!(unswarmed.swarm.is_none());
    assert_ne!(unswarmed.plan, first.plan, "the draw narrows the mix");
}

/// Over a few seeds a swarm mix aims message faults at clients (requests from a producer,
/// responses to it), not only at brokers, and the idempotent producer still holds.
#[test]
fn swarm_aims_message_faults_at_clients_too() {
    let swarm = load("produce-retries").unwrap().with_swarm();
    let clients = swarm.client_names();
    let mut aimed_at_a_client = 0;
    for s in 0..12 {
        let outcome = run(&swarm, &seed(s));
        assert!(outcome.passed(), "seed {s}: {:#?}", outcome.anomalies);
        aimed_at_a_client += outcome
            .plan
            .0
            .iter()
            .filter(|f| {
                let text = f.action.to_string();
                clients.iter().any(|c| text.contains(c.as_str()))
            })
            .count();
    }
    assert!(aimed_at_a_client > 0, "no fault named a client in 12 seeds");
}

/// An explicit message fault may name a client (it used to be "unknown node": filters were
/// checked against the crash targets).
#[test]
fn an_explicit_message_fault_may_name_a_client() {
    let text = common::with(
        common::PRODUCE,
        "[app.produce]\nproducers = 1\nvalues_per_producer = 5\n[faults]\nphase_ms = 1000\n\
         [[faults.plan]]\nat_ms = 10\nkind = \"drop-requests\"\nfrom = \"producer-1\"\ncount = 1",
    );
    let scenario = Scenario::parse(&text, "client.toml").unwrap();
    let outcome = run(&scenario, &seed(0));
    assert!(outcome.passed(), "{:#?}", outcome.anomalies);
    assert!(
        outcome.stats.messages.dropped >= 1,
        "the fault took a request"
    );
}

#[test]
fn a_scenario_file_asks_for_swarm_in_its_mix() {
    let text = common::with(
        common::PRODUCE,
        "[faults]\nphase_ms = 1000\n[faults.mix]\nswarm = true",
    );
    let scenario = Scenario::parse(&text, "swarm.toml").unwrap();
    assert!(scenario.swarm_draw(0).is_some());
    assert!(run(&scenario, &seed(0)).swarm.is_some());
}
