//! A broker's shared resources in virtual time (issue 19's cost model): request-handler
//! threads and one disk, booked as requests arrive (`sim::resource`).
//!
//! A request takes a handler thread for `request_us` + produced records × `request_record_us`
//! (Kafka's `num.io.threads`: a request waits while every thread is busy); one that writes
//! durable state (a produce, a transaction- or offsets-log write, a marker) then writes on the
//! broker's disk, one write at a time, its bytes at `disk_mb_per_s`; it is durable `sync_us`
//! later (the replication round trip that acks=all waits for, or an fsync), a wait that holds
//! no resource, since one follower fetch or fsync covers every write before it (group commit).
//! The answer leaves when the write is durable. The broker applies the request at once (its state is a pure function of the order it
//! reads requests in); only the answer waits, so the model changes when things happen, not
//! what happens. Writes nobody waits for (markers the coordinator writes to partitions it
//! leads, the transaction log's completion record) still occupy the disk.
//!
//! With a `replication_factor` above 1 and links modelled, a write is durable only once its
//! bytes have crossed the broker's out-link to each follower and the followers' in-links
//! (`sim::Net::replicate`: acks=all waits for the followers to fetch it), then `sync_us`
//! later; the traffic of writes nobody waits for loads the links too. Followers' disks are
//! not booked (a follower's write overlaps its next fetch).
//!
//! Without handler threads (`request_threads = 0`, the default) nothing queues: an answer
//! that needed a durable write waits `sync_us`, as before this model existed.

use std::time::Duration;

use madsim::time::Instant;
use sim::resource::{Servers, write_time};
use sim::{Message, NetConfig};

use crate::cluster::ClusterSpec;
use crate::protocol::{KafkaNet, Request};

/// Where a broker's durable writes are replicated: its followers, over the network's links.
pub(crate) struct Replication {
    pub(crate) net: KafkaNet,
    pub(crate) leader: sim::NodeId,
    pub(crate) followers: Vec<sim::NodeId>,
}

/// One broker's handler threads and disk, with the costs of the work they do.
pub(crate) struct BrokerCosts {
    /// `None`: no followers (`replication_factor` 1), or the costs are not modelled.
    replication: Option<Replication>,
    /// `ClusterSpec::non_idempotent_acks_leader`.
    non_idempotent_acks_leader: bool,
    threads: Servers<Instant>,
    disk: Servers<Instant>,
    request: Duration,
    per_record: Duration,
    sync: Duration,
    disk_mb_per_s: u64,
    record_bytes: u64,
    message_bytes: u64,
}

impl BrokerCosts {
    /// Nothing modelled, no sync (a broker before its cluster layout is read).
    pub(crate) fn none() -> Self {
        Self::new(&ClusterSpec::default(), &NetConfig::default(), None)
    }

    /// The costs `spec` and `net` describe; `replication` is kept only when handler threads
    /// are modelled and it has followers.
    pub(crate) fn new(
        spec: &ClusterSpec,
        net: &NetConfig,
        replication: Option<Replication>,
    ) -> Self {
        let modelled = spec.request_threads > 0;
        Self {
            replication: replication.filter(|r| modelled && !r.followers.is_empty()),
            non_idempotent_acks_leader: spec.non_idempotent_acks_leader,
            threads: Servers::new(spec.request_threads as usize),
            disk: Servers::new(usize::from(modelled)),
            request: Duration::from_micros(spec.request_us),
            per_record: Duration::from_micros(spec.request_record_us),
            sync: Duration::from_micros(spec.sync_us),
            disk_mb_per_s: spec.disk_mb_per_s,
            record_bytes: net.record_bytes,
            message_bytes: net.message_bytes,
        }
    }

    /// How long after `now` (when the broker reads it) the answer to `request` may leave.
    pub(crate) fn service(&mut self, now: Instant, request: &Request) -> Duration {
        let durable = request.writes_durably();
        if !self.threads.is_modelled() {
            return if durable { self.sync } else { Duration::ZERO };
        }
        let records = request.records();
        let cpu = self.request + self.per_record * records as u32;
        let handled = self.threads.serve(now, cpu);
        let done = if durable {
            let write = self.write(now, handled, records);
            if self.acks_on_leader_write(request) {
                write.written
            } else {
                write.durable
            }
        } else {
            handled
        };
        done - now
    }

    /// Whether `request` is answered once the leader has written it, before it is durable:
    /// a produce without idempotence under `non_idempotent_acks_leader` (acks=1).
    fn acks_on_leader_write(&self, request: &Request) -> bool {
        self.non_idempotent_acks_leader
            && matches!(request, Request::Produce { batch, .. } if !batch.is_idempotent())
    }

    /// A durable write nobody waits for (a marker written locally, a transaction-log record):
    /// it occupies the disk from `now`.
    pub(crate) fn write_in_background(&mut self, now: Instant) {
        if self.disk.is_modelled() {
            self.write(now, now, 0);
        }
    }

    /// Books a write of `records` records' bytes (plus a message's) on the disk; returns when
    /// it is durable: written, then `sync_us` later. The wait for durability does not hold
    /// the disk: Kafka's acks=all waits for the followers to fetch the write, and one follower
    /// fetch (or one fsync) makes every write before it durable at once (group commit).
    ///
    /// The replication traffic is booked from `now`, when the broker reads the request, not
    /// from when the write is done: the bytes may leave up to a handler's and a disk's time
    /// early, which `sync_us` dwarfs. (It was chosen when links still served bookings in
    /// booking order; now that they fit each into a gap, `from` would do, at the price of
    /// re-measuring the talk's figures.)
    fn write(&mut self, now: Instant, from: Instant, records: u64) -> Write {
        let bytes = self.message_bytes + records * self.record_bytes;
        let written = self.disk.serve(from, write_time(bytes, self.disk_mb_per_s));
        let replicated = match &self.replication {
            Some(r) => r.net.replicate(r.leader, &r.followers, bytes, now),
            None => now,
        };
        Write {
            written,
            durable: written.max(replicated) + self.sync,
        }
    }
}

/// When a write is on the leader's disk, and when it is durable (replicated, synced).
struct Write {
    written: Instant,
    durable: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{IsolationLevel, RecordBatch, TopicPartition};

    fn produce(records: u64) -> Request {
        Request::Produce {
            tp: TopicPartition::new("t", 0),
            batch: RecordBatch {
                producer_id: 1,
                producer_epoch: 0,
                base_sequence: 0,
                values: (0..records).collect::<Vec<_>>().into(),
                transactional: false,
            },
        }
    }

    fn fetch() -> Request {
        Request::Fetch {
            tp: TopicPartition::new("t", 0),
            offset: 0,
            max_records: 10,
            isolation: IsolationLevel::ReadCommitted,
        }
    }

    /// The service times (µs) of `requests`, all read at the same instant.
    fn services(spec: ClusterSpec, net: NetConfig, requests: Vec<Request>) -> Vec<u128> {
        let report = sim::run_seed(1, &sim::SeedOptions::default(), move |_| async move {
            let mut costs = BrokerCosts::new(&spec, &net, None);
            let now = sim::trace::now();
            (requests.iter())
                .map(|r| costs.service(now, r).as_micros())
                .collect::<Vec<_>>()
        });
        report.outcome.expect("no panic")
    }

    #[test]
    fn without_handler_threads_only_a_durable_write_waits_its_sync() {
        let spec = ClusterSpec {
            sync_us: 1_000,
            ..ClusterSpec::default()
        };
        let got = services(
            spec,
            NetConfig::default(),
            vec![produce(5), produce(5), fetch()],
        );
        assert_eq!(got, [1_000, 1_000, 0], "nothing queues");
    }

    #[test]
    fn requests_queue_for_the_threads_and_writes_for_the_disk() {
        let spec = ClusterSpec {
            sync_us: 1_000,
            request_threads: 1,
            request_us: 50,
            request_record_us: 10,
            disk_mb_per_s: 1, // 1 byte per µs
            ..ClusterSpec::default()
        };
        let net = NetConfig {
            record_bytes: 100,
            message_bytes: 100,
            ..NetConfig::default()
        };
        let got = services(spec, net, vec![produce(5), produce(5), fetch()]);
        // First: thread 0–100 µs (50 + 5 × 10), disk 100–700 (600 bytes), durable 1,000
        // later. Second: thread 100–200, disk 700–1,300 (queued behind the first write),
        // durable at 2,300. The fetch: thread 200–250, no write.
        assert_eq!(got, [1_700, 2_300, 250]);
    }

    fn plain_produce(records: u64) -> Request {
        let Request::Produce { tp, mut batch } = produce(records) else {
            unreachable!()
        };
        batch.producer_id = crate::protocol::NO_PRODUCER_ID;
        Request::Produce { tp, batch }
    }

    #[test]
    fn under_acks_leader_only_a_produce_without_idempotence_skips_the_durability_wait() {
        let spec = ClusterSpec {
            sync_us: 1_000,
            request_threads: 2,
            request_us: 100,
            non_idempotent_acks_leader: true,
            ..ClusterSpec::default()
        };
        let got = services(
            spec,
            NetConfig::default(),
            vec![plain_produce(1), produce(1)],
        );
        assert_eq!(
            got,
            [100, 1_100],
            "acks=1 for the plain one, acks=all for the other"
        );
    }

    /// The service times (µs) of produces of `records` records each, read at the same instant
    /// by broker 0 of three with `replication_factor` replicas, links at `link_mbit_per_s`.
    fn replicated(replication_factor: u32, link_mbit_per_s: u64, records: &[u64]) -> Vec<u128> {
        let spec = ClusterSpec {
            sync_us: 1_000,
            request_threads: 4,
            replication_factor,
            ..ClusterSpec::default()
        };
        let net_config = NetConfig {
            link_mbit_per_s,
            record_bytes: 1_000,
            ..NetConfig::default()
        };
        let records = records.to_vec();
        let report = sim::run_seed(1, &sim::SeedOptions::default(), move |sim| async move {
            let net = KafkaNet::new(&sim, net_config.clone());
            let brokers: Vec<sim::NodeId> = (0..3)
                .map(|i| sim.add_node(&format!("broker-{i}"), |_| std::future::pending::<()>()))
                .collect();
            let replication = Replication {
                net,
                leader: brokers[0],
                followers: spec
                    .follower_indices(0)
                    .map(|i| brokers[i as usize])
                    .collect(),
            };
            let mut costs = BrokerCosts::new(&spec, &net_config, Some(replication));
            let now = sim::trace::now();
            (records.iter())
                .map(|&n| costs.service(now, &produce(n)).as_micros())
                .collect::<Vec<_>>()
        });
        report.outcome.expect("no panic")
    }

    #[test]
    fn a_replicated_write_is_durable_once_every_follower_has_its_bytes() {
        // 10 records of 1,000 bytes: 80 µs on a 1,000 Mbit/s link.
        assert_eq!(
            replicated(1, 1_000, &[10, 10]),
            [1_000, 1_000],
            "no followers"
        );
        assert_eq!(
            replicated(3, 0, &[10, 10]),
            [1_000, 1_000],
            "links not modelled"
        );
        // Two followers: the leader's out-link sends to one (0–80 µs), then the other
        // (80–160); the second write's bytes queue behind (160–240, 240–320).
        assert_eq!(replicated(3, 1_000, &[10, 10]), [1_160, 1_320]);
        assert_eq!(
            replicated(2, 1_000, &[10, 10]),
            [1_080, 1_160],
            "one follower"
        );
    }
}
