//! The jepsen-queue app: Jepsen's Kafka queue workload. Client processes do random single
//! sends, single polls and transactions of both over the partitions of the topics; each
//! restart is a new incarnation continuing the client's operation count. Settings:
//! `[app.jepsen-queue]`.

use std::sync::Arc;

use checker::{Op, Operation, Phase, TxnStep};
use model::apps::queue::{ClientProgress, QueueClient, QueueCompletion, QueueMode, QueueWorkload};

use super::{
    App, AppEnv, AppNodes, BuiltinApp, Incarnations, Progress, ReadBack, Started, app_client_ops,
    half,
};
use crate::limits;
use crate::run::producer_config;
use crate::spec::{Invalid, Scenario, bounded};

/// Node name of queue client `k` (0-based).
pub fn queue_client_name(k: u32) -> String {
    format!("client-{}", k + 1)
}

/// A queue client incarnation's sub-clients (`QueueClient::sub_client(1..=3)`).
const QUEUE_CLIENT_ROLES: &[&str] = &["producer", "transactional producer", "consumer"];

/// Open transactions are decided within the transaction timeout and a little more.
const SETTLE_MARGIN_MS: u64 = 2_000;

impl App for QueueWorkload {
    fn nodes(&self) -> AppNodes {
        let clients = (0..self.clients).map(queue_client_name).collect();
        if self.crash_clients {
            AppNodes {
                restartable: clients,
                other: Vec::new(),
            }
        } else {
            AppNodes {
                restartable: Vec::new(),
                other: clients,
            }
        }
    }

    fn start(&self, env: &AppEnv) -> Started {
        let mode = QueueMode {
            transactional: env.guarantee.is_exactly_once(),
            producer: producer_config(env.guarantee),
        };
        let partitions = queue_partitions(self, &env.cluster.spec);
        let done = QueueCompletion::default();
        for client in 0..self.clients {
            let (env2, workload, partitions, mode, done) = (
                env.clone(),
                self.clone(),
                partitions.clone(),
                mode.clone(),
                done.clone(),
            );
            let progress = Arc::new(ClientProgress::default());
            let incarnations =
                Incarnations::new(client, queue_client_name(client), QUEUE_CLIENT_ROLES);
            env.sim.add_node(&queue_client_name(client), move |node| {
                let (incarnation, id) = incarnations.next(&env2.recorder);
                QueueClient {
                    ctx: env2.client_context(node, id),
                    workload: workload.clone(),
                    client,
                    incarnation,
                    partitions: partitions.clone(),
                    mode: mode.clone(),
                    progress: progress.clone(),
                    done: done.clone(),
                }
                .run()
            });
        }
        let clients = self.clients as usize;
        Started {
            done: Box::pin(async move { done.wait_for(clients).await }),
            stop_when_done: Vec::new(),
        }
    }

    fn read_back(&self) -> ReadBack {
        ReadBack::QueuePolls {
            settle_ms: self.txn_timeout_ms + SETTLE_MARGIN_MS,
        }
    }

    fn progress(&self, done_ops: &[&Op]) -> Progress {
        let times: Vec<u64> = app_client_ops(done_ops).map(|op| op.time_ns).collect();
        Progress {
            unit: "client operations completed",
            done: times.len() as u64,
            expected: (0..self.clients).map(|k| self.ops_of(k)).sum(),
            paced_ms: 0,
            last_ns: times.into_iter().max(),
        }
    }
}

/// The partitions the queue workload uses: those of its topics (default: every topic).
pub fn queue_partitions(
    queue: &QueueWorkload,
    cluster: &model::ClusterSpec,
) -> Vec<model::TopicPartition> {
    cluster
        .partitions()
        .into_iter()
        .filter(|tp| queue.topics.is_empty() || queue.topics.iter().any(|t| **t == *tp.topic))
        .collect()
}

/// The steps of the transactions among `ops` that completed (`Ok`), each with its
/// transaction's time.
pub(crate) fn committed_steps<'a>(ops: &'a [&'a Op]) -> impl Iterator<Item = (u64, &'a TxnStep)> {
    ops.iter()
        .filter(|op| op.phase == Phase::Ok)
        .flat_map(|op| {
            match &op.op {
                Operation::Txn { steps, .. } => steps.as_slice(),
                _ => &[],
            }
            .iter()
            .map(move |step| (op.time_ns, step))
        })
}

impl BuiltinApp for QueueWorkload {
    const NAME: &'static str = "jepsen-queue";

    fn validate(&self, scenario: &Scenario) -> Result<(), Invalid> {
        validate_sizes(self, scenario)?;
        validate_pacing(self)?;
        validate_script(self, scenario)?;
        for (i, topic) in self.topics.iter().enumerate() {
            if !scenario.cluster.topics.iter().any(|t| t.name == *topic) {
                return Err(Invalid::new(
                    &format!("app.jepsen-queue.topics[{i}]"),
                    format!("{topic:?} is not a topic of cluster.topics"),
                ));
            }
        }
        Ok(())
    }

    fn smaller(&self) -> Vec<Self> {
        let mut out = Vec::new();
        if !self.script.is_empty() {
            return out; // a script is kept as written
        }
        if let Some(n) = half(self.ops_per_client) {
            out.push(Self {
                ops_per_client: n,
                ..self.clone()
            });
        }
        if let Some(n) = half(self.clients) {
            out.push(Self {
                clients: n,
                ..self.clone()
            });
        }
        out
    }

    fn size(&self) -> String {
        if !self.script.is_empty() {
            let ops: u64 = (0..self.clients).map(|k| self.ops_of(k)).sum();
            return format!("{} clients, {ops} scripted ops", self.clients);
        }
        format!("{} clients x {} ops", self.clients, self.ops_per_client)
    }
}

/// A script names one list of operations per client, and only the workload's partitions.
fn validate_script(queue: &QueueWorkload, scenario: &Scenario) -> Result<(), Invalid> {
    const AT: &str = "app.jepsen-queue.script";
    if queue.script.is_empty() {
        return Ok(());
    }
    if queue.script.len() != queue.clients as usize {
        return Err(Invalid::new(
            AT,
            format!(
                "{} operation lists for {} clients: give one list per client",
                queue.script.len(),
                queue.clients
            ),
        ));
    }
    let known = queue_partitions(queue, &scenario.cluster_with_app_topics());
    for (k, ops) in queue.script.iter().enumerate() {
        for (i, op) in ops.iter().enumerate() {
            if let Some(tp) = op.partitions().into_iter().find(|tp| !known.contains(tp)) {
                return Err(Invalid::new(
                    &format!("{AT}[{k}][{i}]"),
                    format!("`{op}` names {tp}, which is not a partition of the workload's topics"),
                ));
            }
        }
    }
    Ok(())
}

/// Clients, operations and micro-operations, in all and each.
fn validate_sizes(queue: &QueueWorkload, scenario: &Scenario) -> Result<(), Invalid> {
    const AT: &str = "app.jepsen-queue";
    bounded(
        &format!("{AT}.clients"),
        queue.clients,
        1,
        limits::MAX_QUEUE_CLIENTS,
    )?;
    bounded(
        &format!("{AT}.ops_per_client"),
        queue.ops_per_client,
        1,
        limits::MAX_OPS_PER_CLIENT,
    )?;
    let total = u64::from(queue.clients) * u64::from(queue.ops_per_client);
    let max = scenario.workload_bound(limits::MAX_QUEUE_OPS);
    if total > max {
        return Err(Invalid::new(
            &format!("{AT}.ops_per_client"),
            format!(
                "{} clients x {} operations = {total} operations; at most {max} in all{}",
                queue.clients,
                queue.ops_per_client,
                scenario.lossy_note()
            ),
        ));
    }
    bounded(
        &format!("{AT}.max_txn_len"),
        queue.max_txn_len,
        1,
        limits::MAX_TXN_LEN,
    )?;
    let micro_ops = total * u64::from(queue.max_txn_len);
    let max = scenario.workload_bound(limits::MAX_QUEUE_MICRO_OPS);
    if micro_ops > max {
        return Err(Invalid::new(
            &format!("{AT}.max_txn_len"),
            format!(
                "{total} operations of up to {} micro-ops = {micro_ops}; at most {max} in \
                 all{}",
                queue.max_txn_len,
                scenario.lossy_note()
            ),
        ));
    }
    Ok(())
}

/// Intervals, delays, poll sizes and the transaction timeout.
fn validate_pacing(queue: &QueueWorkload) -> Result<(), Invalid> {
    const AT: &str = "app.jepsen-queue";
    if queue.op_interval_ms == 0 {
        return Err(Invalid::new(
            &format!("{AT}.op_interval_ms"),
            "must be at least 1 (simulated sleeps are whole milliseconds)",
        ));
    }
    bounded(
        &format!("{AT}.op_interval_ms"),
        queue.op_interval_ms,
        1,
        limits::MAX_OP_INTERVAL_MS,
    )?;
    bounded(
        &format!("{AT}.intra_txn_delay_ms"),
        queue.intra_txn_delay_ms,
        0,
        limits::MAX_INTRA_TXN_DELAY_MS,
    )?;
    bounded(
        &format!("{AT}.end_txn_delay_ms"),
        queue.end_txn_delay_ms,
        0,
        limits::MAX_END_TXN_DELAY_MS,
    )?;
    bounded(
        &format!("{AT}.max_poll_records"),
        queue.max_poll_records,
        1,
        limits::MAX_POLL_RECORDS,
    )?;
    bounded(
        &format!("{AT}.txn_timeout_ms"),
        queue.txn_timeout_ms,
        1,
        limits::MAX_TXN_TIMEOUT_MS,
    )
}
