//! torn-transaction (see [`torn_transactions`]): decided from counts and sorted vectors, the
//! findings' records built only for a transaction found torn.

use std::collections::BTreeMap;

use super::{Partition, Truth, partition_of, txn_record};
use crate::anomaly::*;
use crate::detect::Context;
use crate::facts::{Facts, SendFact, SendKinds, TxnFact, phase_name};
use crate::history::{Phase, PolledRecord, RecordStatus};
use crate::ranges::KeyRanges;

/// torn-transaction: a transactional `txn` with at least two sends that *committed* — it
/// completed ok, or the final log holds one of its sends' values with status committed and
/// no other send in the history has that value in that partition (so the record is surely
/// this transaction's) — and either
/// - *log*: among its sends to partitions with ground truth, some have a committed-visible
///   record of their value and some have none; or
/// - *polls*: some ok poll returned one of its sends (by value), while an ok poll of another
///   of its sends' partition read past that send's offset (acknowledged, else its value's
///   committed-visible offset in the final log) without returning its value. "Read past
///   offset o": the poll returned a record above o and started at or below o (its
///   `from_offset`, or for a poll step, its lowest returned offset).
///
/// One finding per transaction and kind of evidence, log first.
pub(crate) fn torn_transactions(cx: &Context) -> Vec<TornTransaction> {
    let (facts, truth) = (cx.facts, &cx.truth);
    let candidates = || {
        facts
            .txns
            .iter()
            .filter(|t| t.transactional && t.sends.len() >= 2)
    };
    if candidates().next().is_none() {
        return Vec::new();
    }
    // Only the partitions the candidates send to are asked about; per partition slot
    // (`SendFact::slot`), not looked up by name per send.
    let sent_to = facts.slots_with(SendKinds::OF_MULTI_SEND_TXN);
    let spans = PollSpans::new(facts, &sent_to);
    let has_truth: Vec<bool> = facts.slot_partitions().map(|p| truth.has(p)).collect();
    let mut found = Vec::new();
    for txn in candidates() {
        let sends = &facts.sends[txn.sends.clone()];
        let committed_in_final_log = || {
            sends.iter().any(|s| {
                facts.sends_of(s.topic, s.partition, s.value).len() == 1
                    && truth
                        .with_value(partition_of(s), s.value)
                        .iter()
                        .any(|r| r.status == RecordStatus::Committed)
            })
        };
        // An ok transaction committed whatever the log says: the log is looked at for it
        // only when it is found torn (almost never).
        let known_committed = match txn.outcome {
            Some(Phase::Ok) => None,
            _ if committed_in_final_log() => Some(true),
            _ => continue,
        };
        let evidence = [
            log_evidence(txn.sends.clone(), facts, truth, &has_truth),
            poll_evidence(txn, facts, truth, &spans),
        ];
        if evidence.iter().all(Option::is_none) {
            continue;
        }
        let committed_in_final_log = known_committed.unwrap_or_else(committed_in_final_log);
        let torn = |evidence| TornTransaction {
            txn: txn.invoke,
            completion: txn.completion,
            txn_id: txn.txn_id.map(str::to_string),
            outcome: phase_name(txn.outcome),
            committed_in_final_log,
            evidence,
        };
        found.extend(evidence.into_iter().flatten().map(torn));
    }
    found
}

/// Among the sends to partitions with ground truth (`has_truth`, per partition slot), the
/// records of those with a committed-visible record of their value and of those without, if
/// there are both.
fn log_evidence<'h>(
    sends: std::ops::Range<usize>,
    facts: &Facts<'h>,
    truth: &Truth<'_, 'h>,
    has_truth: &[bool],
) -> Option<TornEvidence> {
    // (index into `Facts::sends`, send) of the sends to partitions with ground truth.
    let with_truth = || {
        let sends = sends.clone().map(|i| (i, &facts.sends[i]));
        sends.filter(|(_, s)| has_truth[s.slot()])
    };
    let is_committed = |&(i, _): &(usize, &SendFact<'h>)| truth.send_committed(i);
    // Decided first without building records (a string each), in one walk: almost never
    // torn.
    let (mut count, mut committed_count) = (0, 0);
    for send in with_truth() {
        count += 1;
        committed_count += usize::from(is_committed(&send));
    }
    if committed_count == 0 || committed_count == count {
        return None;
    }
    let (committed, not_committed): (Vec<_>, Vec<_>) = with_truth().partition(is_committed);
    let records = |sends: Vec<(usize, &SendFact<'h>)>| -> Vec<TxnRecord> {
        sends
            .into_iter()
            .map(|(_, s)| txn_record(s, truth))
            .collect()
    };
    Some(TornEvidence::Log {
        committed: records(committed),
        not_committed: records(not_committed),
    })
}

/// The polls evidence: for each send (in step order) the polls that returned its value
/// (seen) and those that read past its offset without returning it (skipped), if some send
/// was skipped and another seen.
fn poll_evidence<'h>(
    txn: &TxnFact<'h>,
    facts: &Facts<'h>,
    truth: &Truth<'_, 'h>,
    spans: &PollSpans<'h>,
) -> Option<TornEvidence> {
    let sends = &facts.sends[txn.sends.clone()];
    // Which sends were seen and which skipped, counted: no records built.
    let (mut seen_by, mut skipped_by) = (Tally::default(), Tally::default());
    for (k, s) in sends.iter().enumerate() {
        let Some(partition) = spans.of(s) else {
            continue;
        };
        if partition.returned(s.value) {
            seen_by.note(k);
        }
        let offset = s
            .acked_offset()
            .or_else(|| truth.committed_offset_of(partition_of(s), s.value));
        if offset.is_some_and(|o| partition.read_past_without(o, s.value)) {
            skipped_by.note(k);
        }
    }
    if !seen_by.tears_with(&skipped_by) {
        return None;
    }
    let (mut seen, mut skipped) = (Vec::new(), Vec::new());
    for s in sends {
        let record = txn_record(s, truth);
        for span in spans.of(s).into_iter().flat_map(|p| &p.spans) {
            if span.records.iter().any(|r| r.value == s.value) {
                seen.push((record.clone(), span.poll));
            } else if record
                .offset
                .is_some_and(|o| span.low <= o && o < span.high)
            {
                skipped.push((record.clone(), span.poll));
            }
        }
    }
    Some(TornEvidence::Polls { seen, skipped })
}

/// The sends of a transaction a kind of evidence names (seen, or skipped): how many, and the
/// first (its position among the transaction's sends).
#[derive(Default)]
struct Tally {
    count: usize,
    first: usize,
}

impl Tally {
    fn note(&mut self, send: usize) {
        if self.count == 0 {
            self.first = send;
        }
        self.count += 1;
    }

    /// Whether some send seen (`self`) and some send skipped are not the same one.
    fn tears_with(&self, skipped: &Tally) -> bool {
        match (self.count, skipped.count) {
            (0, _) | (_, 0) => false,
            (1, 1) => self.first != skipped.first,
            _ => true,
        }
    }
}

/// What one ok poll read of a partition, for "read past".
struct PollSpan<'h> {
    /// Where it started: its `from_offset`, or its lowest returned offset.
    low: u64,
    /// Its highest returned offset.
    high: u64,
    /// History index of its completion.
    poll: u64,
    records: &'h [PolledRecord],
}

/// The ok polls that returned records, per partition slot (`SendFact::slot`).
struct PollSpans<'h> {
    by_slot: Vec<Option<PartitionSpans<'h>>>,
}

/// One partition's ok polls: in poll order, and indexed for counting.
#[derive(Default)]
struct PartitionSpans<'h> {
    spans: Vec<PollSpan<'h>>,
    /// The spans' lows and highs, each sorted.
    lows: Vec<u64>,
    highs: Vec<u64>,
    /// (value, span) of every record returned, sorted, distinct.
    values: Vec<(u64, usize)>,
    /// Value → its range in `values` (looked up per send).
    ranges: KeyRanges,
}

impl<'h> PollSpans<'h> {
    /// The spans of the polls of the partition slots `wanted` flags.
    fn new(facts: &Facts<'h>, wanted: &[bool]) -> Self {
        let slots: BTreeMap<Partition<'h>, usize> = facts
            .slot_partitions()
            .enumerate()
            .filter(|&(slot, _)| wanted[slot])
            .map(|(slot, partition)| (partition, slot))
            .collect();
        let mut by_slot: Vec<Option<PartitionSpans<'h>>> = wanted.iter().map(|_| None).collect();
        for (partition, count) in facts.polled_counts() {
            if let Some(&slot) = slots.get(&partition) {
                let spans = by_slot[slot].get_or_insert_default();
                spans.values.reserve_exact(count);
            }
        }
        for poll in &facts.polls {
            let Some(&slot) = slots.get(&(poll.topic, poll.partition)) else {
                continue;
            };
            let (Some(low), Some(high)) = (
                poll.records.iter().map(|r| r.offset).min(),
                poll.records.iter().map(|r| r.offset).max(),
            ) else {
                continue;
            };
            let partition = by_slot[slot].get_or_insert_default();
            let span = partition.spans.len();
            let values = poll.records.iter().map(|r| (r.value, span));
            partition.values.extend(values);
            partition.spans.push(PollSpan {
                low: poll.from_offset.map_or(low, |from| from.min(low)),
                high,
                poll: poll.op,
                records: poll.records,
            });
        }
        for partition in by_slot.iter_mut().flatten() {
            partition.lows = partition.spans.iter().map(|s| s.low).collect();
            partition.highs = partition.spans.iter().map(|s| s.high).collect();
            partition.lows.sort_unstable();
            partition.highs.sort_unstable();
            // Stable (equal pairs are identical): polls of a partition written from several
            // sources return a few ascending runs of values, which this merges.
            partition.values.sort();
            partition.values.dedup();
            partition.ranges = KeyRanges::by_key(&partition.values, |v| v.0);
        }
        PollSpans { by_slot }
    }

    /// The spans of the partition `send` goes to, if it has any.
    fn of(&self, send: &SendFact) -> Option<&PartitionSpans<'h>> {
        self.by_slot[send.slot()].as_ref()
    }
}

impl PartitionSpans<'_> {
    /// The spans that returned `value`, each once.
    fn returning(&self, value: u64) -> &[(u64, usize)] {
        &self.values[self.ranges.get(value)]
    }

    fn returned(&self, value: u64) -> bool {
        !self.returning(value).is_empty()
    }

    /// Whether some span read past `offset` (low ≤ offset < high) without returning `value`:
    /// more spans read past it than spans that did and returned the value.
    fn read_past_without(&self, offset: u64, value: u64) -> bool {
        // A span with high ≤ offset has low ≤ offset too: the difference counts the spans
        // with low ≤ offset < high.
        let past = self.lows.partition_point(|&low| low <= offset)
            - self.highs.partition_point(|&high| high <= offset);
        let past_and_returned = self
            .returning(value)
            .iter()
            .filter(|&&(_, span)| self.spans[span].low <= offset && offset < self.spans[span].high)
            .count();
        past > past_and_returned
    }
}
