//! The talk's example as a Kafka Streams application, written with eosim's DSL: ad displays
//! and clicks joined into billing, click counts and fraud alerts.
//!
//! - `billing`: a click joined with its ad's display within [`BILLING_WINDOW`] before it (a
//!   windowed KStream–KStream join, both sides buffered in changelogged window stores), then
//!   with the ad's price (a KStream–KTable join on `prices`, a changelogged key-value store):
//!   one bill per billable click, worth the ad's price.
//! - `click-counts`: clicks counted per ad (checked by the aggregate verifier with nothing
//!   written for it: the DSL vouches for a count).
//! - `fraud`: an alert when an ad's clicks reach [`FRAUD_CLICKS`].
//!
//! Time is the order the loader writes records in (an input's id is its timestamp), so the
//! window is counted in input records.

use std::collections::{BTreeMap, BTreeSet};

use eosim::model::streams::record::{Key, Value};
use eosim::model::streams::topology::{JoinWindows, Topology, TopologyBuilder};
use eosim::scenarios::app::streams::{Input, StreamsApplication};
use eosim::sim::madsim::rand::{Rng, RngCore};

pub const APPLICATION_ID: &str = "ads-billing";
pub const PRICES: &str = "prices";
pub const DISPLAYS: &str = "displays";
pub const CLICKS: &str = "clicks";
pub const BILLING: &str = "billing";
pub const CLICK_COUNTS: &str = "click-counts";
pub const FRAUD: &str = "fraud";
/// A click is billed if its ad was displayed at most this many input records before it.
pub const BILLING_WINDOW: u32 = 40;
/// An ad clicked this many times is reported.
pub const FRAUD_CLICKS: Value = 5;
/// A bill's value: price × `BILL_SCALE` + click number (so bills are unique per partition).
pub const BILL_SCALE: Value = 100_000;

/// The topology: see the module docs.
pub fn topology() -> Topology {
    let b = TopologyBuilder::new();
    let prices = b.table(PRICES, "price-of-ad");
    let displays = b.stream(DISPLAYS);
    let clicks = b.stream(CLICKS);
    let shown_before = JoinWindows::of(0).before(BILLING_WINDOW);
    clicks
        .join(&displays, shown_before, |click, _display| click)
        .join_table(&prices, |click, price| price * BILL_SCALE + click)
        .to(BILLING);
    let clicks_per_ad = clicks.group_by_key().count("clicks-per-ad").to_stream();
    clicks_per_ad.to(CLICK_COUNTS);
    clicks_per_ad
        .filter(|_, clicks| clicks == FRAUD_CLICKS)
        .to(FRAUD);
    b.build(APPLICATION_ID)
}

/// The workload: `ads` ads, each priced, displayed once and clicked 0 to 7 times (some
/// clicks too late to bill; 5 or more clicks is fraud).
#[derive(Clone, Copy, Debug)]
pub struct AdsTraffic {
    pub ads: Key,
}

/// What happens to ad `ad` at time `at` (sorted by time, then kind).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    at: u32,
    kind: u8,
    ad: Key,
    value: Value,
}

impl AdsTraffic {
    /// The loader's input: every price first, then displays and clicks in time order.
    pub fn inputs(self, rng: &mut dyn RngCore) -> Vec<Input> {
        let mut inputs: Vec<Input> = (0..self.ads)
            .map(|ad| Input::new(PRICES, ad, rng.gen_range(1..1_000)))
            .collect();
        let mut events = Vec::new();
        let mut clicks = 0;
        for ad in 0..self.ads {
            let shown_at = u32::from(ad) * 4;
            events.push(Event {
                at: shown_at,
                kind: 0,
                ad,
                value: Value::from(ad),
            });
            for _ in 0..rng.gen_range(0..=7) {
                clicks += 1;
                let at = shown_at + rng.gen_range(1..=60);
                events.push(Event {
                    at,
                    kind: 1,
                    ad,
                    value: clicks,
                });
            }
        }
        events.sort();
        inputs.extend(events.into_iter().map(|e| {
            let topic = if e.kind == 0 { DISPLAYS } else { CLICKS };
            Input::new(topic, e.ad, e.value).pause_ms(rng.gen_range(0..4))
        }));
        inputs
    }

    /// Every bill a correct run may write for the input `inputs` generated, as (ad, bill):
    /// each click whose ad was displayed at most `BILLING_WINDOW` inputs before it, at the
    /// ad's price. (A run writes a subset: a click processed before its ad's price reached
    /// the table is not billed — a stream-table join reads the table as it is.)
    pub fn billable(inputs: &[Input]) -> BTreeSet<(Key, Value)> {
        let mut price = BTreeMap::new();
        let mut shown_at = BTreeMap::new();
        let mut bills = BTreeSet::new();
        for (input, at) in inputs.iter().zip(1u32..) {
            match input.topic.as_str() {
                PRICES => {
                    price.insert(input.key, input.value);
                }
                DISPLAYS => {
                    shown_at.insert(input.key, at);
                }
                _ => {
                    let shown = shown_at.get(&input.key);
                    if shown.is_some_and(|&s| at - s <= BILLING_WINDOW) {
                        bills.insert((input.key, price[&input.key] * BILL_SCALE + input.value));
                    }
                }
            }
        }
        bills
    }

    /// The streams application over `partitions` partitions per topic.
    pub fn application(self, partitions: u32) -> StreamsApplication {
        StreamsApplication::new(topology(), move |rng| self.inputs(rng)).partitions(partitions)
    }
}
