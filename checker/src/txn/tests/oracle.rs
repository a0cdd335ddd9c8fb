//! Random consume-transform-produce worlds against brute-force oracles that recompute
//! aborted-read, torn-transaction, duplicate-effect and lost-effect from the world with plain
//! loops (never through the checker's flattening or indices).

use super::*;
use proptest::prelude::*;

/// One attempt of the transform: consume `input`, send one output per entry of `outputs`
/// (the output partition), commit.
#[derive(Clone, Debug)]
struct Attempt {
    input: u64,
    /// Ok (committed), Fail (aborted), Info (unknown), Invoke (never completed).
    outcome: Phase,
    /// For unknown outcomes: whether its records really committed.
    really_committed: bool,
    outputs: Vec<u32>,
}

/// A reader poll: its completion index, output partition and (offset, value) returned.
type Read = (u64, u32, Vec<(u64, u64)>);

#[derive(Clone, Debug)]
struct World {
    inputs: u64,
    attempts: Vec<Attempt>,
    /// Output values repeat across attempts of one input (a deterministic transform) instead
    /// of being unique per attempt.
    reuse_values: bool,
    /// (kind, target): drop, flip committed/aborted, or append a committed copy of a record.
    corruption: Vec<(u8, usize)>,
    /// Reader polls: (output partition, which records of its final log they return).
    reads: Vec<(u32, u16)>,
    committed_offset: u64,
}

fn world() -> impl Strategy<Value = World> {
    let attempt = (
        0u64..4,
        prop_oneof![
            Just(Phase::Ok),
            Just(Phase::Fail),
            Just(Phase::Info),
            Just(Phase::Invoke)
        ],
        any::<bool>(),
        proptest::collection::vec(0u32..2, 1..3),
    )
        .prop_map(|(input, outcome, really_committed, outputs)| Attempt {
            input,
            outcome,
            really_committed,
            outputs,
        });
    (
        1u64..5,
        proptest::collection::vec(attempt, 0..7),
        any::<bool>(),
        proptest::collection::vec((0u8..3, 0usize..64), 0..4),
        proptest::collection::vec((0u32..2, any::<u16>()), 0..4),
        0u64..6,
    )
        .prop_map(
            |(inputs, mut attempts, reuse_values, corruption, reads, committed_offset)| {
                for a in &mut attempts {
                    a.input %= inputs;
                }
                World {
                    inputs,
                    committed_offset: committed_offset.min(inputs),
                    attempts,
                    reuse_values,
                    corruption,
                    reads,
                }
            },
        )
}

impl World {
    fn output_value(&self, attempt: usize, k: usize) -> u64 {
        if self.reuse_values {
            100 + self.attempts[attempt].input * 10 + k as u64
        } else {
            1000 + attempt as u64 * 10 + k as u64
        }
    }

    /// Every send: (attempt, k, partition, value).
    fn sends(&self) -> Vec<(usize, usize, u32, u64)> {
        let mut out = Vec::new();
        for (a, attempt) in self.attempts.iter().enumerate() {
            for (k, &p) in attempt.outputs.iter().enumerate() {
                out.push((a, k, p, self.output_value(a, k)));
            }
        }
        out
    }

    /// The output logs, (value, status) by offset, before corruption.
    fn clean_logs(&self) -> [Vec<(u64, RecordStatus)>; 2] {
        let mut logs = [Vec::new(), Vec::new()];
        for (a, _, p, value) in self.sends() {
            let attempt = &self.attempts[a];
            let committed = match attempt.outcome {
                Phase::Ok => true,
                Phase::Fail => false,
                _ => attempt.really_committed,
            };
            let status = if committed { Committed } else { Aborted };
            logs[p as usize].push((value, status));
        }
        logs
    }

    fn final_logs(&self) -> [Vec<(u64, RecordStatus)>; 2] {
        let mut logs = self.clean_logs();
        for &(kind, target) in &self.corruption {
            let log = &mut logs[target % 2];
            if log.is_empty() {
                continue;
            }
            let i = (target / 2) % log.len();
            match kind {
                0 => {
                    log.remove(i);
                }
                1 => {
                    log[i].1 = if log[i].1 == Committed {
                        Aborted
                    } else {
                        Committed
                    };
                }
                _ => {
                    let value = log[i].0;
                    log.push((value, Committed));
                }
            }
        }
        logs
    }

    /// The history, and the completion index of each reader poll with what it returned.
    fn history(&self) -> (History, Vec<Read>) {
        let clean = self.clean_logs();
        let logs = self.final_logs();
        let mut h = History::default();
        let mut placed = [0u64, 0u64];
        for (a, attempt) in self.attempts.iter().enumerate() {
            let mut steps = vec![poll_step("in", 0, &[(attempt.input, attempt.input)])];
            for (k, &p) in attempt.outputs.iter().enumerate() {
                // The acknowledgement reports where the record went before any corruption.
                let offset = placed[p as usize];
                placed[p as usize] += 1;
                debug_assert_eq!(
                    clean[p as usize][offset as usize].0,
                    self.output_value(a, k)
                );
                let acked = (attempt.outcome == Phase::Ok).then_some(offset);
                let value = self.output_value(a, k);
                steps.push(send_step("out", p, value, Some(attempt.input), acked));
            }
            steps.push(commit_step("g", "in", 0, attempt.input + 1));
            if attempt.outcome == Phase::Invoke {
                // Its own process, so it may stay open.
                h.push(100 + a as u64, 0, Phase::Invoke, txn(steps), None);
            } else {
                run(&mut h, 1 + a as u64 % 2, attempt.outcome, txn(steps));
            }
        }
        let mut reads = Vec::new();
        for (r, &(p, mask)) in self.reads.iter().enumerate() {
            let records: Vec<(u64, u64)> = logs[p as usize]
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << (i % 16)) != 0)
                .map(|(i, &(value, _))| (i as u64, value))
                .collect();
            run(
                &mut h,
                50 + r as u64,
                Phase::Ok,
                poll_op("out", p, 0, &records),
            );
            reads.push((h.ops.len() as u64 - 1, p, records));
        }
        let inputs: Vec<(u64, RecordStatus)> = (0..self.inputs).map(|i| (i, Plain)).collect();
        h.final_logs.push(final_log("in", 0, &inputs));
        for (p, log) in logs.iter().enumerate() {
            h.final_logs.push(final_log("out", p as u32, log));
        }
        h.committed_offsets
            .push(committed_offset(self.committed_offset));
        (h, reads)
    }

    fn invoke_of(&self, h: &History, attempt: usize) -> u64 {
        // Every attempt's invoke is a txn, in attempt order.
        h.ops
            .iter()
            .filter(|op| op.phase == Phase::Invoke && matches!(op.op, Operation::Txn { .. }))
            .nth(attempt)
            .expect("one invoke per attempt")
            .index
    }
}

/// (partition, offset, poll) of every aborted read.
fn oracle_aborted_reads(w: &World, reads: &[Read]) -> Vec<(u32, u64, u64)> {
    let logs = w.final_logs();
    let sends = w.sends();
    let mut out = Vec::new();
    for (poll, p, records) in reads {
        for &(offset, value) in records {
            let in_log_aborted = logs[*p as usize]
                .get(offset as usize)
                .is_some_and(|&(v, s)| v == value && s == Aborted);
            let mut writers = 0;
            let mut failed = 0;
            for &(a, _, sp, sv) in &sends {
                if sp == *p && sv == value {
                    writers += 1;
                    if w.attempts[a].outcome == Phase::Fail {
                        failed += 1;
                    }
                }
            }
            if in_log_aborted || (writers > 0 && writers == failed) {
                out.push((*p, offset, *poll));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// (attempt, "log" | "polls") of every torn transaction.
fn oracle_torn(w: &World, reads: &[Read]) -> Vec<(usize, &'static str)> {
    let logs = w.final_logs();
    let sends = w.sends();
    let committed_visible = |p: u32, value: u64| {
        logs[p as usize]
            .iter()
            .position(|&(v, s)| v == value && s.is_committed())
            .map(|o| o as u64)
    };
    let mut out = Vec::new();
    for (a, attempt) in w.attempts.iter().enumerate() {
        let mine: Vec<(usize, u32, u64)> = sends
            .iter()
            .filter(|s| s.0 == a)
            .map(|&(_, k, p, v)| (k, p, v))
            .collect();
        if mine.len() < 2 {
            continue;
        }
        let mut committed = attempt.outcome == Phase::Ok;
        for &(_, p, v) in &mine {
            let senders = sends.iter().filter(|s| s.2 == p && s.3 == v).count();
            let committed_record = logs[p as usize]
                .iter()
                .any(|&(lv, s)| lv == v && s == Committed);
            if senders == 1 && committed_record {
                committed = true;
            }
        }
        if !committed {
            continue;
        }
        let present = mine
            .iter()
            .filter(|&&(_, p, v)| committed_visible(p, v).is_some())
            .count();
        if present > 0 && present < mine.len() {
            out.push((a, "log"));
        }
        // Offsets as the checker knows them: the acknowledgement (clean placement), else the
        // committed-visible offset.
        let mut placed = [0u64, 0u64];
        let mut acked = vec![None; mine.len()];
        for (b, other) in w.attempts.iter().enumerate() {
            for (k, &p) in other.outputs.iter().enumerate() {
                if b == a && other.outcome == Phase::Ok {
                    acked[k] = Some(placed[p as usize]);
                }
                placed[p as usize] += 1;
            }
        }
        let mut seen = Vec::new();
        let mut skipped = Vec::new();
        for &(k, p, v) in &mine {
            let offset = acked[k].or_else(|| committed_visible(p, v));
            for (_, rp, records) in reads {
                if *rp != p || records.is_empty() {
                    continue;
                }
                let high = records.iter().map(|r| r.0).max().unwrap();
                if records.iter().any(|r| r.1 == v) {
                    seen.push(k);
                } else if offset.is_some_and(|o| o < high) {
                    skipped.push(k);
                }
            }
        }
        if skipped.iter().any(|ks| seen.iter().any(|kv| kv != ks)) {
            out.push((a, "polls"));
        }
    }
    out
}

/// (duplicate-effect (input, its committed outputs' (partition, offset), per attempt),
/// lost-effect inputs).
type Duplicated = (u64, Vec<(u32, u64)>, usize);

fn oracle_effects(w: &World) -> (Vec<Duplicated>, Vec<u64>) {
    let logs = w.final_logs();
    let sends = w.sends();
    let mut duplicated = Vec::new();
    let mut lost = Vec::new();
    for input in 0..w.inputs {
        let mut outputs = Vec::new();
        for (p, log) in logs.iter().enumerate() {
            for (offset, &(value, status)) in log.iter().enumerate() {
                let named = sends.iter().any(|&(a, _, sp, sv)| {
                    sp == p as u32 && sv == value && w.attempts[a].input == input
                });
                if status.is_committed() && named {
                    outputs.push((p as u32, offset as u64));
                }
            }
        }
        let mut per_attempt = 0;
        for attempt in &w.attempts {
            if attempt.input == input {
                per_attempt = per_attempt.max(attempt.outputs.len());
            }
        }
        let none = outputs.is_empty();
        if outputs.len() > per_attempt.max(1) {
            duplicated.push((input, outputs, per_attempt.max(1)));
        }
        // Every attempt commits group g's offset, so g is a transform group iff any attempt
        // exists; input i sits at offset i.
        if !w.attempts.is_empty() && input < w.committed_offset && none {
            lost.push(input);
        }
    }
    (duplicated, lost)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn aborted_reads_agree_with_a_brute_force_oracle(w in world()) {
        let (h, reads) = w.history();
        let got: Vec<(u32, u64, u64)> = found(&h).iter().filter_map(|a| match a {
            Anomaly::AbortedRead(r) => Some((r.partition, r.offset, r.poll)),
            _ => None,
        }).collect();
        prop_assert_eq!(got, oracle_aborted_reads(&w, &reads));
    }

    #[test]
    fn torn_transactions_agree_with_a_brute_force_oracle(w in world()) {
        let (h, reads) = w.history();
        let invokes: Vec<u64> = (0..w.attempts.len()).map(|a| w.invoke_of(&h, a)).collect();
        let got: Vec<(usize, &str)> = found(&h).iter().filter_map(|a| match a {
            Anomaly::TornTransaction(t) => Some((
                invokes.iter().position(|&i| i == t.txn).expect("a torn txn is an attempt"),
                match t.evidence { TornEvidence::Log { .. } => "log", TornEvidence::Polls { .. } => "polls" },
            )),
            _ => None,
        }).collect();
        prop_assert_eq!(got, oracle_torn(&w, &reads));
    }

    #[test]
    fn exactly_once_oracle_agrees_with_a_brute_force_recount(w in world()) {
        let (h, _) = w.history();
        let found = found(&h);
        let duplicated: Vec<Duplicated> = found.iter().filter_map(|a| match a {
            Anomaly::DuplicateEffect(d) => Some((
                d.input,
                d.outputs.iter().map(|o| (o.partition, o.offset)).collect(),
                d.per_attempt,
            )),
            _ => None,
        }).collect();
        let lost: Vec<u64> = found.iter().filter_map(|a| match a {
            Anomaly::LostEffect(l) => Some(l.input),
            _ => None,
        }).collect();
        prop_assert_eq!((duplicated, lost), oracle_effects(&w));
    }
}

/// The generator must reach every finding the oracles judge, or agreement proves little.
#[test]
fn the_generator_reaches_every_judged_finding() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..512 {
        let w = world().new_tree(&mut runner).unwrap().current();
        let (_, reads) = w.history();
        let (duplicated, lost) = oracle_effects(&w);
        let torn = oracle_torn(&w, &reads);
        let bump = |counts: &mut BTreeMap<&str, usize>, key, hit: bool| {
            *counts.entry(key).or_default() += usize::from(hit);
        };
        bump(
            &mut counts,
            "aborted-read",
            !oracle_aborted_reads(&w, &reads).is_empty(),
        );
        bump(&mut counts, "torn log", torn.iter().any(|t| t.1 == "log"));
        bump(
            &mut counts,
            "torn polls",
            torn.iter().any(|t| t.1 == "polls"),
        );
        bump(&mut counts, "duplicate-effect", !duplicated.is_empty());
        bump(&mut counts, "lost-effect", !lost.is_empty());
    }
    assert_eq!(counts.len(), 5);
    for (kind, n) in &counts {
        assert!(*n >= 20, "only {n} of 512 worlds show {kind}: {counts:?}");
    }
}
