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
//! Without handler threads (`request_threads = 0`, the default) nothing queues: an answer
//! that needed a durable write waits `sync_us`, as before this model existed.

use std::time::Duration;

use madsim::time::Instant;
use sim::resource::{Servers, write_time};
use sim::{Message, NetConfig};

use crate::cluster::ClusterSpec;
use crate::protocol::Request;

/// One broker's handler threads and disk, with the costs of the work they do.
pub(crate) struct BrokerCosts {
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
        Self::new(&ClusterSpec::default(), &NetConfig::default())
    }

    pub(crate) fn new(spec: &ClusterSpec, net: &NetConfig) -> Self {
        let modelled = spec.request_threads > 0;
        Self {
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
            self.write(handled, records)
        } else {
            handled
        };
        done - now
    }

    /// A durable write nobody waits for (a marker written locally, a transaction-log record):
    /// it occupies the disk from `now`.
    pub(crate) fn write_in_background(&mut self, now: Instant) {
        if self.disk.is_modelled() {
            self.write(now, 0);
        }
    }

    /// Books a write of `records` records' bytes (plus a message's) on the disk; returns when
    /// it is durable: written, then `sync_us` later. The wait for durability does not hold
    /// the disk: Kafka's acks=all waits for the followers to fetch the write, and one follower
    /// fetch (or one fsync) makes every write before it durable at once (group commit).
    fn write(&mut self, from: Instant, records: u64) -> Instant {
        let bytes = self.message_bytes + records * self.record_bytes;
        self.disk.serve(from, write_time(bytes, self.disk_mb_per_s)) + self.sync
    }
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
            let mut costs = BrokerCosts::new(&spec, &net);
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
}
