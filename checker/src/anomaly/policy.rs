//! The allowed-error policy, as data (Jepsen's `allowed-error-types`): for every kind of
//! finding and every guarantee a history claims, whether a finding of that kind is an error
//! (the history breaks the guarantee), allowed (the guarantee does not promise otherwise) or
//! informational (allowed under every guarantee: worth knowing, never a violation).
//! `docs/anomalies.md` holds the table as `markdown()` writes it (a test keeps them equal).
//!
//! Two rules depend on more than the kind, as in Jepsen: `int-send-skip` is always
//! informational (transactions do not isolate writes), and a `g1c` cycle that needs a
//! write-write edge is allowed while write-write dependencies are (`ww_deps_allowed`, Jepsen's
//! `:ww-deps`, on by default: Kafka has no write isolation, so t1 <ww t2 <wr t1 is normal); a
//! cycle of write-read edges alone is always an error at read_committed.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Anomaly, AnomalyKind};

/// The processing guarantee: what a history claims, and (re-exported as `model::Guarantee`)
/// what the simulated producers and stream tasks run under. Declared once, here, because the
/// checker cannot depend on the model.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Guarantee {
    /// No retries: a send that times out or fails is given up (values may be missing).
    AtMostOnce,
    /// Retries without idempotence: a retry after a lost ack writes the value again.
    AtLeastOnce,
    /// Idempotent producer: retries are deduplicated by producer id and sequence number. For
    /// stream tasks, Streams' `exactly_once` (KIP-129): a transactional producer per task.
    #[default]
    ExactlyOnce,
    /// Streams' `exactly_once_v2` (KIP-447): one transactional producer per instance, zombies
    /// fenced by the group generation. Elsewhere the same as `exactly-once`.
    ExactlyOnceV2,
}

impl Guarantee {
    /// Every guarantee, in the policy table's column order.
    pub const ALL: [Guarantee; 4] = [
        Guarantee::AtMostOnce,
        Guarantee::AtLeastOnce,
        Guarantee::ExactlyOnce,
        Guarantee::ExactlyOnceV2,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Guarantee::AtMostOnce => "at-most-once",
            Guarantee::AtLeastOnce => "at-least-once",
            Guarantee::ExactlyOnce => "exactly-once",
            Guarantee::ExactlyOnceV2 => "exactly-once-v2",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.name() == name)
    }

    /// Exactly-once, either version.
    pub fn is_exactly_once(self) -> bool {
        matches!(self, Guarantee::ExactlyOnce | Guarantee::ExactlyOnceV2)
    }
}

impl fmt::Display for Guarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the policy treats a kind under one guarantee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// A finding breaks the guarantee.
    Error,
    /// The guarantee does not promise otherwise.
    Allowed,
    /// Allowed under every guarantee: reported for information, never a violation.
    Informational,
    /// `g1c`: a cycle of write-read edges alone is an error; one that needs a write-write
    /// edge is informational while write-write dependencies are allowed, else an error.
    ErrorUnlessWwDeps,
}

impl Rule {
    fn cell(self) -> &'static str {
        match self {
            Rule::Error => "error",
            Rule::Allowed => "allowed",
            Rule::Informational => "info",
            Rule::ErrorUnlessWwDeps => "error (wr only); ww+wr: info unless --no-ww-deps",
        }
    }
}

/// One kind's rules, one per guarantee (`Guarantee::ALL`'s order), and why.
#[derive(Clone, Copy, Debug)]
pub struct PolicyRow {
    pub kind: AnomalyKind,
    pub rules: [Rule; 4],
    pub why: &'static str,
}

const E: Rule = Rule::Error;
const A: Rule = Rule::Allowed;
const I: Rule = Rule::Informational;
const W: Rule = Rule::ErrorUnlessWwDeps;

const fn row(kind: AnomalyKind, rules: [Rule; 4], why: &'static str) -> PolicyRow {
    PolicyRow { kind, rules, why }
}

const LOSS_OK: &str = "at-most-once gives up on a send instead of retrying it: loss is its price";
const DUPLICATE_OK: &str =
    "at-least-once retries without idempotence: a retry after a lost ack is written again";
const ALWAYS: &str = "no guarantee allows it";

use AnomalyKind as K;

/// The policy, a row per kind in the kinds' table order (a test insists).
pub const POLICY: &[PolicyRow] = &[
    row(K::Duplicate, [E, A, E, E], DUPLICATE_OK),
    row(K::LostWrite, [A, E, E, E], LOSS_OK),
    row(K::Missing, [A, E, E, E], LOSS_OK),
    row(K::InconsistentOffsets, [E, E, E, E], ALWAYS),
    row(K::UnexpectedWrite, [E, E, E, E], ALWAYS),
    row(
        K::NotConverged,
        [E, E, E, E],
        "every guarantee promises the work ends once faults heal",
    ),
    row(
        K::AbortedRead,
        [E, E, E, E],
        "read_committed never returns aborted data (G1a)",
    ),
    row(
        K::TornTransaction,
        [E, E, E, E],
        "a transaction commits whole or not at all",
    ),
    row(
        K::HangingTransaction,
        [E, E, E, E],
        "an open transaction holds the LSO forever",
    ),
    row(
        K::PollSkip,
        [E, E, E, E],
        "a consumer that only polls reads on from where it was; Jepsen allows it when \
         consumers subscribe (a rebalance moves them), eosim's scan forgets a position at a \
         rewind instead",
    ),
    row(
        K::NonmonotonicPoll,
        [E, E, E, E],
        "as poll-skip: positions move back only at a rewind",
    ),
    row(
        K::NonmonotonicSend,
        [E, A, E, E],
        "at-least-once retries without idempotence: a retried batch may land after a later one",
    ),
    row(K::Unseen, [A, E, E, E], LOSS_OK),
    row(K::DuplicateEffect, [E, A, E, E], DUPLICATE_OK),
    row(K::LostEffect, [A, E, E, E], LOSS_OK),
    row(
        K::WrongAggregate,
        [A, A, E, E],
        "only exactly-once promises each input's effect once: re-processed (at-least-once) or \
         skipped (at-most-once) inputs change the aggregates",
    ),
    row(K::OutputCountMismatch, [A, A, E, E], "as wrong-aggregate"),
    row(
        K::PrecommittedRead,
        [E, E, E, E],
        "read_committed hides a transaction's sends until it commits, from itself too",
    ),
    row(
        K::IntPollSkip,
        [E, E, E, E],
        "one operation's polls read a partition in order",
    ),
    row(
        K::IntNonmonotonicPoll,
        [E, E, E, E],
        "one operation's polls read a partition in order",
    ),
    row(
        K::IntSendSkip,
        [I, I, I, I],
        "Jepsen always allows it: transactions do not isolate writes, so other producers' \
         records interleave with a transaction's",
    ),
    row(
        K::IntNonmonotonicSend,
        [E, E, E, E],
        "a transaction's records of a partition keep the order they were sent in",
    ),
    row(
        K::G1c,
        [W, W, W, W],
        "a write-read cycle needs a transaction to read another's uncommitted write; with a \
         write-write edge it is normal in Kafka (no write isolation: Jepsen's :ww-deps)",
    ),
    row(
        K::EarlyRead,
        [E, E, E, E],
        "read_committed returns a transaction's records only after it asked to commit",
    ),
];

/// What a finding is under a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Error,
    Allowed,
    Informational,
}

/// The guarantee a history is judged by, and whether write-write dependencies are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub guarantee: Guarantee,
    /// Jepsen's `:ww-deps` (on by default): a `g1c` cycle with a write-write edge is
    /// informational. Off: an error.
    pub ww_deps_allowed: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            guarantee: Guarantee::ExactlyOnce,
            ww_deps_allowed: true,
        }
    }
}

impl Policy {
    /// The rule of `kind` under this policy's guarantee.
    pub fn rule(&self, kind: AnomalyKind) -> Rule {
        let column = Guarantee::ALL
            .iter()
            .position(|&g| g == self.guarantee)
            .expect("every guarantee is a column");
        policy_row(kind).rules[column]
    }

    /// Whether `finding` is an error, allowed or informational under this policy.
    pub fn judge(&self, finding: &Anomaly) -> Verdict {
        match self.rule(finding.kind()) {
            Rule::Error => Verdict::Error,
            Rule::Allowed => Verdict::Allowed,
            Rule::Informational => Verdict::Informational,
            Rule::ErrorUnlessWwDeps => match finding {
                Anomaly::G1c(cycle) if cycle.write_read_only => Verdict::Error,
                _ if self.ww_deps_allowed => Verdict::Informational,
                _ => Verdict::Error,
            },
        }
    }
}

/// The row of `kind`.
pub fn policy_row(kind: AnomalyKind) -> &'static PolicyRow {
    &POLICY[kind as usize]
}

/// The policy as the Markdown table `docs/anomalies.md` holds.
pub fn markdown() -> String {
    let mut text = String::from("| kind | category |");
    for g in Guarantee::ALL {
        text.push_str(&format!(" {g} |"));
    }
    text.push_str(" why |\n|---|---|");
    text.push_str(&"---|".repeat(Guarantee::ALL.len() + 1));
    text.push('\n');
    for row in POLICY {
        text.push_str(&format!("| `{}` | {} |", row.kind, row.kind.category()));
        for rule in row.rules {
            text.push_str(&format!(" {} |", rule.cell()));
        }
        text.push_str(&format!(" {} |\n", row.why));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_row_in_table_order() {
        let kinds: Vec<AnomalyKind> = POLICY.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, AnomalyKind::ALL);
    }

    #[test]
    fn exactly_once_v2_is_judged_as_exactly_once() {
        for row in POLICY {
            assert_eq!(row.rules[2], row.rules[3], "{}", row.kind);
        }
    }

    #[test]
    fn informational_means_allowed_under_every_guarantee() {
        for row in POLICY {
            if row.rules.contains(&I) {
                assert!(row.rules.iter().all(|&r| r == I), "{}", row.kind);
            }
        }
    }

    /// docs/anomalies.md holds `markdown()` between its markers. `UPDATE_DOCS=1` rewrites it.
    #[test]
    fn docs_anomalies_md_holds_the_policy_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/anomalies.md");
        let doc = std::fs::read_to_string(path).expect("docs/anomalies.md");
        let (begin, end) = ("<!-- policy:begin -->\n", "<!-- policy:end -->");
        let start = doc.find(begin).expect("begin marker") + begin.len();
        let stop = doc.find(end).expect("end marker");
        let table = markdown();
        if doc[start..stop] != table {
            if std::env::var_os("UPDATE_DOCS").is_some() {
                let updated = format!("{}{table}{}", &doc[..start], &doc[stop..]);
                std::fs::write(path, updated).unwrap();
            } else {
                panic!(
                    "docs/anomalies.md's policy table differs from policy::markdown(); \
                     UPDATE_DOCS=1 cargo test -p eosim-checker docs_anomalies rewrites it"
                );
            }
        }
    }
}
