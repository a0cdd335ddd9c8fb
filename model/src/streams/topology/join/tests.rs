use std::collections::BTreeMap;

use proptest::prelude::*;

use super::super::testing::TopologyTestDriver;
use super::super::{StoreKind, StoreSpec, TaskId, TopologyBuilder};
use super::JoinWindows;
use crate::streams::record::{Key, StreamRecord, Value};

fn rec(input_id: u32, key: Key, value: Value) -> StreamRecord {
    StreamRecord::new(input_id, key, value)
}

/// clicks ⋈ prices (a table): the price of the clicked ad, or -1 with the left join.
fn priced_clicks(left: bool) -> super::super::Topology {
    let b = TopologyBuilder::new();
    let prices = b.table("prices", "price-of-ad");
    let clicks = b.stream("clicks");
    let joined = if left {
        clicks.left_join_table(&prices, |click, price| price.map_or(-click, |p| p))
    } else {
        clicks.join_table(&prices, |_, price| price)
    };
    joined.to("billed");
    b.build("ads")
}

#[test]
fn a_stream_table_join_reads_the_tables_value_at_processing_time() {
    let mut driver = TopologyTestDriver::new(priced_clicks(false), 1);
    driver.pipe_input("clicks", rec(1, 7, 100)); // no price yet: nothing
    driver.pipe_input("prices", rec(2, 7, 30));
    driver.pipe_input("clicks", rec(3, 7, 101));
    driver.pipe_input("prices", rec(4, 7, 35)); // an update triggers nothing
    driver.pipe_input("clicks", rec(5, 7, 102));
    driver.pipe_input("clicks", rec(6, 8, 103)); // another ad, no price
    assert_eq!(driver.output("billed"), [rec(3, 7, 30), rec(5, 7, 35)]);
    assert_eq!(driver.store_value("price-of-ad", 7), Some(35));
}

#[test]
fn a_left_join_gives_every_record_an_output() {
    let mut driver = TopologyTestDriver::new(priced_clicks(true), 1);
    driver.pipe_input("clicks", rec(1, 7, 100));
    driver.pipe_input("prices", rec(2, 7, 30));
    driver.pipe_input("clicks", rec(3, 7, 101));
    assert_eq!(driver.output("billed"), [rec(1, 7, -100), rec(3, 7, 30)]);
}

#[test]
fn a_table_and_the_stream_joining_it_are_one_sub_topology_with_a_changelogged_store() {
    let t = priced_clicks(false);
    assert_eq!(t.sub_topologies().len(), 1, "{}", t.describe());
    assert_eq!(t.sub_topologies()[0].source_topics, ["clicks", "prices"]);
    assert_eq!(
        t.stores(),
        [StoreSpec {
            name: "price-of-ad".into(),
            kind: StoreKind::KeyValue,
            changelog_topic: "ads-price-of-ad-changelog".into(),
            sub_topology: 0,
        }]
    );
}

/// clicks ⋈ displays within `windows`: (click value × 1000 + display value).
fn billed_clicks(windows: JoinWindows) -> super::super::Topology {
    let b = TopologyBuilder::new();
    let displays = b.stream("displays");
    b.stream("clicks")
        .join(&displays, windows, |click, display| click * 1000 + display)
        .to("billed");
    b.build("ads")
}

#[test]
fn a_windowed_join_pairs_records_of_a_key_within_the_window_whichever_comes_first() {
    let mut driver = TopologyTestDriver::new(billed_clicks(JoinWindows::of(10)), 1);
    driver.pipe_input("displays", rec(1, 7, 1)); // display of ad 7 at time 1
    driver.pipe_input("clicks", rec(5, 7, 2)); // 4 later: joins, lineage the click
    driver.pipe_input("clicks", rec(30, 7, 3)); // 29 later: outside the window
    driver.pipe_input("clicks", rec(31, 8, 4)); // another key
    driver.pipe_input("displays", rec(35, 7, 5)); // joins the click at 30, lineage itself
    assert_eq!(driver.output("billed"), [rec(5, 7, 2001), rec(35, 7, 3005)]);
}

#[test]
fn an_asymmetric_window_bounds_each_side() {
    // Clicks join displays up to 10 earlier and none later.
    let windows = JoinWindows::of(0).before(10);
    let mut driver = TopologyTestDriver::new(billed_clicks(windows), 1);
    driver.pipe_input("clicks", rec(1, 7, 1));
    driver.pipe_input("displays", rec(2, 7, 1)); // after the click: no
    driver.pipe_input("clicks", rec(12, 7, 2)); // display 10 earlier: yes
    driver.pipe_input("clicks", rec(13, 7, 3)); // 11 earlier: no
    assert_eq!(driver.output("billed"), [rec(12, 7, 2001)]);
}

#[test]
fn join_buffers_are_window_stores_restored_from_their_changelogs() {
    let t = billed_clicks(JoinWindows::of(10));
    assert_eq!(t.sub_topologies().len(), 1, "{}", t.describe());
    let kinds: Vec<(&str, StoreKind)> = t
        .stores()
        .iter()
        .map(|s| (s.changelog_topic.as_str(), s.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "ads-KSTREAM-JOINTHIS-0000000002-store-changelog",
                StoreKind::Window
            ),
            (
                "ads-KSTREAM-JOINOTHER-0000000002-store-changelog",
                StoreKind::Window
            ),
        ]
    );
    let mut driver = TopologyTestDriver::new(t, 1);
    for (id, key) in [(1, 7), (2, 7), (3, 8)] {
        driver.pipe_input("displays", rec(id, key, id as Value));
        driver.pipe_input("clicks", rec(id + 10, key, id as Value));
    }
    let task = TaskId {
        sub_topology: 0,
        partition: 0,
    };
    assert_eq!(driver.restored_stores(task), driver.stores(task));
}

#[test]
fn a_side_whose_key_changed_is_repartitioned_before_joining() {
    let b = TopologyBuilder::new();
    let displays = b.stream("displays");
    b.stream("clicks")
        .select_key(|_, v| (v % 100) as Key)
        .join(&displays, JoinWindows::of(5), |c, d| c + d)
        .to("billed");
    let t = b.build("ads");
    assert_eq!(t.repartition_topics().len(), 1, "{}", t.describe());
    assert_eq!(t.sub_topologies().len(), 2);
}

#[test]
fn joined_and_filtered_outputs_are_not_given_to_the_aggregate_verifier() {
    let b = TopologyBuilder::new();
    let displays = b.stream("displays");
    let clicks = b.stream("clicks");
    clicks.to("all-clicks");
    clicks.filter(|_, v| v > 0).to("positive-clicks");
    clicks
        .group_by_key()
        .count("clicks-per-ad")
        .to_stream()
        .to("click-counts");
    clicks
        .group_by_key()
        .aggregate("custom", 0, |a, v| a ^ v)
        .to_stream()
        .to("custom-out");
    clicks
        .join(&displays, JoinWindows::of(5), |c, d| c + d)
        .to("billed");
    displays.to("twice");
    clicks.to("twice"); // two writers: their records interleave
    let spec = b.build("ads").aggregate_spec().clone();
    let checks: Vec<(&str, &str, &str)> = spec
        .checks
        .iter()
        .map(|c| {
            (
                c.input_topic.as_str(),
                c.output_topic.as_str(),
                c.kind.name(),
            )
        })
        .collect();
    assert_eq!(
        checks,
        [
            ("clicks", "all-clicks", "echo"),
            ("clicks", "click-counts", "count")
        ]
    );
    assert!(spec.checks.iter().all(|c| c.group == "ads"));
}

/// A record of one side: (side, key, value); input ids are the order they are piped in.
fn side_record() -> impl Strategy<Value = (bool, Key, Value)> {
    (any::<bool>(), 0..4u16, 0..1000i32)
}

proptest! {
    /// Against a brute-force oracle: whatever the order records arrive in, the join
    /// outputs exactly the pairs of one key whose timestamps are within the window, each
    /// once, with the lineage of the later of the two.
    #[test]
    fn a_windowed_join_outputs_exactly_the_pairs_within_the_window(
        records in proptest::collection::vec(side_record(), 0..40),
        before in 0..8u32,
        after in 0..8u32,
    ) {
        let windows = JoinWindows { before, after };
        let mut driver = TopologyTestDriver::new(billed_clicks(windows), 2);
        let mut oracle: BTreeMap<(u32, Key, Value), usize> = BTreeMap::new();
        let numbered: Vec<(u32, bool, Key, Value)> = records
            .iter()
            .zip(1u32..)
            .map(|(&(click, key, value), id)| (id, click, key, value))
            .collect();
        for &(id, click, key, value) in &numbered {
            let topic = if click { "clicks" } else { "displays" };
            driver.pipe_input(topic, rec(id, key, value));
            for &(other_id, other_click, other_key, other_value) in &numbered {
                if other_id >= id || other_click == click || other_key != key {
                    continue;
                }
                let (click_at, click_value, display_at, display_value) = if click {
                    (id, value, other_id, other_value)
                } else {
                    (other_id, other_value, id, value)
                };
                if windows.contains(click_at, display_at) {
                    let joined = click_value * 1000 + display_value;
                    *oracle.entry((id, key, joined)).or_default() += 1;
                }
            }
        }
        let mut outputs: BTreeMap<(u32, Key, Value), usize> = BTreeMap::new();
        for r in driver.output("billed") {
            *outputs.entry((r.input_id, r.key, r.value)).or_default() += 1;
        }
        prop_assert_eq!(outputs, oracle);
    }
}
