//! A user's Streams topology under faults, with no `App` written: the runtime runs it, the
//! exactly-once oracle judges its lineage and the aggregate verifier what its DSL vouches
//! for. Shown to catch what it exists for: with a safeguard switched off (a crashed
//! instance's stores reused, KAFKA-7192) the derived verifier reports wrong aggregates.

use eosim::checker::AnomalyKind;
use eosim::model::streams::topology::{JoinWindows, Topology, TopologyBuilder};
use eosim::model::{Guarantee, Variant};
use eosim::scenarios::app::streams::{Input, StreamsApplication};
use eosim::scenarios::{SimResults, Simulation};
use eosim::sim::FaultMix;
use eosim::sim::madsim::rand::{Rng, RngCore};

/// Orders joined with the latest price of their item (a table) and with a payment of the
/// same item at most 10 inputs earlier or later (a windowed join); orders summed and counted
/// per item.
fn shop() -> Topology {
    let b = TopologyBuilder::new();
    let prices = b.table("prices", "price-of-item");
    let orders = b.stream("orders");
    let payments = b.stream("payments");
    orders
        .left_join_table(&prices, |quantity, price| quantity * price.unwrap_or(-1))
        .to("invoices");
    orders
        .join(&payments, JoinWindows::of(10), |order, payment| {
            order * 1_000 + payment
        })
        .to("paid-orders");
    let per_item = orders.group_by_key();
    per_item
        .sum("quantity-per-item")
        .to_stream()
        .to("quantities");
    per_item
        .count("orders-per-item")
        .to_stream()
        .to("order-counts");
    b.build("shop")
}

/// 20 items priced, then 300 orders and payments of random items.
fn inputs(rng: &mut dyn RngCore) -> Vec<Input> {
    let mut inputs: Vec<Input> = (0..20)
        .map(|item| Input::new("prices", item, 10 + item as i32))
        .collect();
    for n in 0..300 {
        let item = rng.gen_range(0..20);
        let topic = if rng.gen_bool(0.7) {
            "orders"
        } else {
            "payments"
        };
        inputs.push(Input::new(topic, item, n).pause_ms(rng.gen_range(0..8)));
    }
    inputs
}

fn shop_app() -> StreamsApplication {
    StreamsApplication::new(shop(), inputs).partitions(3)
}

fn faults() -> FaultMix {
    FaultMix {
        count: 8,
        crash: 4,
        pause: 2,
        lose_acks: 2,
        max_outage_ms: 2_000,
        ..FaultMix::default()
    }
}

/// Seeds 0..12 of the shop under `faults()`, the guarantee and a variant.
fn run_shop(guarantee: Guarantee, variant: Option<Variant>) -> SimResults {
    let mut builder = Simulation::builder(shop_app())
        .faults(faults())
        .guarantee(guarantee)
        .seeds(0..12);
    if let Some(variant) = variant {
        builder = builder.variant(variant);
    }
    builder.run().expect("a valid simulation")
}

#[test]
fn the_derived_spec_checks_the_sums_and_counts_not_the_joins() {
    let spec = shop().aggregate_spec().clone();
    let outputs: Vec<&str> = spec
        .checks
        .iter()
        .map(|c| c.output_topic.as_str())
        .collect();
    assert_eq!(outputs, ["quantities", "order-counts"]);
}

#[test]
fn a_user_topology_holds_exactly_once_under_crashes_and_pauses() {
    run_shop(Guarantee::ExactlyOnceV2, None).assert_all_passed();
}

#[test]
fn at_least_once_is_caught_by_the_oracle_and_the_derived_verifier() {
    let results = run_shop(Guarantee::AtLeastOnce, None);
    let kinds = results.kinds();
    assert!(kinds.contains(&AnomalyKind::DuplicateEffect), "{kinds:?}");
    assert!(
        kinds.contains(&AnomalyKind::OutputCountMismatch),
        "{kinds:?}"
    );
}

#[test]
fn reused_dirty_stores_are_caught_by_the_derived_verifier() {
    let results = run_shop(
        Guarantee::ExactlyOnce,
        Some(Variant::StoreNotWipedOnUncleanShutdown),
    );
    let kinds = results.kinds();
    assert!(kinds.contains(&AnomalyKind::WrongAggregate), "{kinds:?}");
}
