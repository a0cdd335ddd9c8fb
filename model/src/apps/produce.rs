//! The produce workload (the talk's "Error Scenario #1"): producers send unique values to the
//! partitions of a topic, round-robin, at a steady pace, and wait for every outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::client::{ClientContext, Producer, ProducerConfig};
use crate::protocol::TopicPartition;

/// Shape of the workload. Defaults: 3 producers × 100 values, one send every 20 ms each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProduceWorkload {
    pub producers: u32,
    pub values_per_producer: u32,
    /// Pause between two sends of one producer, ms.
    pub send_interval_ms: u64,
}

impl Default for ProduceWorkload {
    fn default() -> Self {
        Self {
            producers: 3,
            values_per_producer: 100,
            send_interval_ms: 20,
        }
    }
}

/// Value `i` of producer `p` (both 0-based): unique across the run, readable in reports.
pub fn value_id(producer: u32, i: u32) -> u64 {
    (producer as u64 + 1) * 1_000_000 + i as u64
}

/// Counts finished units of work (producers here; any app's workers) and wakes whoever
/// waits for a number of them. Cheap to clone: the clones share the count.
#[derive(Clone, Default)]
pub struct Completion {
    finished: Arc<AtomicU32>,
    notify: Arc<Notify>,
}

impl Completion {
    pub fn finished(&self) -> u32 {
        self.finished.load(Ordering::Relaxed)
    }

    /// Counts one more unit finished.
    pub fn finish_one(&self) {
        self.finished.fetch_add(1, Ordering::Relaxed);
        self.notify.notify_waiters();
    }

    /// Waits until `count` units have finished.
    pub async fn wait_for(&self, count: u32) {
        while self.finished() < count {
            let notified = self.notify.notified();
            if self.finished() >= count {
                return;
            }
            notified.await;
        }
    }
}

/// One producer's program: send every value, concurrently, and wait for all outcomes.
pub async fn producer_program(
    ctx: ClientContext,
    config: ProducerConfig,
    producer: u32,
    workload: ProduceWorkload,
    partitions: Vec<TopicPartition>,
    done: Completion,
) {
    let producer_client = Arc::new(
        Producer::connect(ctx, config)
            .await
            .expect("producer config validated by the scenario"),
    );
    let mut deliveries = Vec::with_capacity(workload.values_per_producer as usize);
    for i in 0..workload.values_per_producer {
        let tp = &partitions[(i as usize + producer as usize) % partitions.len()];
        deliveries.push(producer_client.send(tp, value_id(producer, i)));
        madsim::time::sleep(Duration::from_millis(workload.send_interval_ms)).await;
    }
    for delivery in deliveries {
        let _ = delivery.await;
    }
    done.finish_one();
}
