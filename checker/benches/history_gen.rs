//! A large consume-transform-produce history for timing `check_all`, shaped as the
//! simulator's exactly-once runs record them (transactional-copy): a loader sends every input
//! value (one process per call), copiers consume batches of inputs and send one output per
//! input in a transaction that commits its consumer offset (one in 50 aborts and is retried),
//! a verifier polls the outputs to the end, and the final logs, committed offsets and the
//! `end` line are the ground truth. Deterministic: no randomness at all.
//!
//! Shared by the checker's bench (`benches/check_all.rs`), the throughput bench's checker line
//! and `examples/gen_eos_history.rs` (which writes it to a file for `eosim check`).

#![allow(dead_code)]

use std::sync::Arc;

use checker::{
    CommittedOffset, FinalLog, History, LogEntry, Operation, Phase, PolledRecord, RecordStatus,
    TxnStep,
};

const PARTITIONS: u32 = 3;
/// Inputs per transaction.
const BATCH: u64 = 10;
/// Records per verifier poll.
const POLL: usize = 1_000;
const GROUP: &str = "copier";

/// Inputs such that the history has about 600,000 ops (invokes and completions).
pub const INPUTS_FOR_600K_OPS: u64 = 272_000;

struct World {
    history: History,
    input: Arc<str>,
    output: Arc<str>,
    /// Per partition, the final log.
    input_logs: Vec<Vec<LogEntry>>,
    output_logs: Vec<Vec<LogEntry>>,
    time: u64,
}

impl World {
    fn op(&mut self, process: u64, phase: Phase, op: Operation) {
        self.time += 1_000;
        self.history.push(process, self.time, phase, op, None);
    }
}

/// The history of copying `inputs` values; about 2.2 ops per input.
pub fn consume_transform_produce(inputs: u64) -> History {
    let mut world = World {
        history: History::default(),
        input: "input".into(),
        output: "output".into(),
        input_logs: vec![Vec::new(); PARTITIONS as usize],
        output_logs: vec![Vec::new(); PARTITIONS as usize],
        time: 0,
    };
    world.history.clients.insert(1, "loader".to_string());
    for value in 0..inputs {
        load(&mut world, value);
    }
    let mut committed = [0u64; PARTITIONS as usize];
    let mut txn = 0u64;
    for partition in 0..PARTITIONS {
        let records = world.input_logs[partition as usize].clone();
        for batch in records.chunks(BATCH as usize) {
            txn += 1;
            if txn.is_multiple_of(50) {
                copy(&mut world, partition, batch, txn, false);
                txn += 1;
            }
            copy(&mut world, partition, batch, txn, true);
            committed[partition as usize] = batch[batch.len() - 1].offset + 1;
        }
    }
    verify(&mut world);
    finish(world, committed)
}

/// The loader's send of one input value, acknowledged with its offset.
fn load(world: &mut World, value: u64) {
    let partition = (value % u64::from(PARTITIONS)) as u32;
    let log = &mut world.input_logs[partition as usize];
    let offset = log.len() as u64;
    log.push(LogEntry {
        offset,
        value,
        producer_id: 1,
        status: RecordStatus::Plain,
    });
    let process = 1_000_000 + value;
    let send = |offset| Operation::Send {
        topic: world.input.clone(),
        partition,
        value,
        offset,
    };
    let (invoke, ok) = (send(None), send(Some(offset)));
    world.op(process, Phase::Invoke, invoke);
    world.op(process, Phase::Ok, ok);
}

/// One copier transaction over `batch` (records of input `partition`): committed, or aborted.
fn copy(world: &mut World, partition: u32, batch: &[LogEntry], txn: u64, commit: bool) {
    let copier = 2 + u64::from(partition);
    world
        .history
        .clients
        .insert(copier, format!("copier-{partition}"));
    let status = if commit {
        RecordStatus::Committed
    } else {
        RecordStatus::Aborted
    };
    let records: Vec<PolledRecord> = batch
        .iter()
        .map(|r| PolledRecord {
            offset: r.offset,
            value: r.value,
        })
        .collect();
    let (mut meant, mut done) = (Vec::new(), Vec::new());
    for (step, record) in [(&mut meant, Vec::new()), (&mut done, records)] {
        step.push(TxnStep::Poll {
            topic: world.input.clone(),
            partition,
            records: record,
        });
    }
    for r in batch {
        // The output value names its input (and the attempt, so retries differ).
        let value = 1_000_000_000 + r.value * 2 + u64::from(commit);
        let output = (value % u64::from(PARTITIONS)) as u32;
        let log = &mut world.output_logs[output as usize];
        let offset = log.len() as u64;
        log.push(LogEntry {
            offset,
            value,
            producer_id: 100 + copier as i64,
            status,
        });
        let send = |offset| TxnStep::Send {
            topic: world.output.clone(),
            partition: output,
            value,
            source: Some(r.value),
            offset,
        };
        meant.push(send(None));
        done.push(send(Some(offset)));
    }
    let commit_offset = TxnStep::CommitOffset {
        group: GROUP.to_string(),
        topic: world.input.clone(),
        partition,
        offset: batch[batch.len() - 1].offset + 1,
    };
    meant.push(commit_offset.clone());
    done.push(commit_offset);
    let txn_op = |steps| Operation::Txn {
        transactional: true,
        txn_id: Some(format!("copier-{partition}")),
        steps,
    };
    let process = copier * 1_000_000 + txn;
    let phase = if commit { Phase::Ok } else { Phase::Fail };
    world.op(process, Phase::Invoke, txn_op(meant));
    world.op(process, phase, txn_op(done));
}

/// The verifier reads every output partition to its end, committed records only.
fn verify(world: &mut World) {
    world.history.clients.insert(9, "verifier".to_string());
    let mut call = 0;
    for partition in 0..PARTITIONS {
        let log = world.output_logs[partition as usize].clone();
        let visible: Vec<PolledRecord> = log
            .iter()
            .filter(|r| r.status.is_committed())
            .map(|r| PolledRecord {
                offset: r.offset,
                value: r.value,
            })
            .collect();
        for chunk in visible.chunks(POLL) {
            call += 1;
            let poll = |records| Operation::Poll {
                topic: world.output.clone(),
                partition,
                from_offset: chunk[0].offset,
                records,
            };
            let (invoke, ok) = (poll(Vec::new()), poll(chunk.to_vec()));
            world.op(9_000_000 + call, Phase::Invoke, invoke);
            world.op(9_000_000 + call, Phase::Ok, ok);
        }
    }
}

/// The ground truth: final logs, the group's committed offsets, converged.
fn finish(mut world: World, committed: [u64; PARTITIONS as usize]) -> History {
    for (topic, logs) in [
        (world.input.clone(), std::mem::take(&mut world.input_logs)),
        (world.output.clone(), std::mem::take(&mut world.output_logs)),
    ] {
        for (partition, records) in logs.into_iter().enumerate() {
            world.history.final_logs.push(FinalLog {
                topic: topic.clone(),
                partition: partition as u32,
                records,
            });
        }
    }
    for (partition, &offset) in committed.iter().enumerate() {
        world.history.committed_offsets.push(CommittedOffset {
            group: GROUP.to_string(),
            topic: world.input.clone(),
            partition: partition as u32,
            offset,
        });
    }
    world.history.converged = Some(true);
    world.history
}

/// What the history holds, for the report: (ops, txn steps, polled records, final-log
/// records).
pub fn composition(history: &History) -> (usize, usize, usize, usize) {
    let (mut steps, mut polled) = (0, 0);
    for op in &history.ops {
        match &op.op {
            Operation::Poll { records, .. } => polled += records.len(),
            Operation::Txn { steps: s, .. } => {
                steps += s.len();
                for step in s {
                    if let TxnStep::Poll { records, .. } = step {
                        polled += records.len();
                    }
                }
            }
            Operation::Send { .. } => {}
        }
    }
    let logged = history.final_logs.iter().map(|l| l.records.len()).sum();
    (history.ops.len(), steps, polled, logged)
}
