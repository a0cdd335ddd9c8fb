//! Findings. Each anomaly is its own type that names the records, offsets and history events
//! involved and explains itself in a sentence or two (Jepsen's habit: one function per anomaly).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A value written to one offset but found at several (e.g. a retry appended again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duplicate {
    pub topic: String,
    pub partition: u32,
    pub value: u64,
    /// Every offset the value occupies, ascending.
    pub offsets: Vec<u64>,
    /// History indices of the send invocations of this value.
    pub sends: Vec<u64>,
    /// History index of the send's acknowledgement, if any.
    pub ack: Option<u64>,
    /// Offset the acknowledgement reported.
    pub acked_offset: Option<u64>,
}

/// A send acknowledged as ok whose value the log does not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostWrite {
    pub topic: String,
    pub partition: u32,
    pub value: u64,
    pub send: u64,
    pub ack: u64,
    pub acked_offset: Option<u64>,
}

/// A value the workload meant to send that never reached the log (the send failed, timed out
/// or never completed, and nothing retried it to success).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    pub topic: String,
    pub partition: u32,
    pub value: u64,
    pub send: u64,
    /// History index of the completion (fail or info), if the send completed.
    pub completion: Option<u64>,
    /// "fail", "info" or "none".
    pub outcome: String,
    pub error: Option<String>,
}

/// Two different values reported at one offset by different observers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InconsistentOffsets {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    /// Each distinct value with where it was seen ("final log", "ack op 12", "poll op 40").
    pub observations: Vec<(u64, String)>,
}

/// A value in the log that no client ever sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnexpectedWrite {
    pub topic: String,
    pub partition: u32,
    pub value: u64,
    pub offsets: Vec<u64>,
}

/// The run did not converge: after every fault healed, work was still unfinished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotConverged {
    /// History indices of invocations that never completed.
    pub open_ops: Vec<u64>,
}

/// Any finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Anomaly {
    Duplicate(Duplicate),
    LostWrite(LostWrite),
    Missing(Missing),
    InconsistentOffsets(InconsistentOffsets),
    UnexpectedWrite(UnexpectedWrite),
    NotConverged(NotConverged),
}

/// The kind of a finding, for counts and expectations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyKind {
    Duplicate,
    LostWrite,
    Missing,
    InconsistentOffsets,
    UnexpectedWrite,
    NotConverged,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 6] = [
        AnomalyKind::Duplicate,
        AnomalyKind::LostWrite,
        AnomalyKind::Missing,
        AnomalyKind::InconsistentOffsets,
        AnomalyKind::UnexpectedWrite,
        AnomalyKind::NotConverged,
    ];

    /// The kebab-case name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::LostWrite => "lost-write",
            AnomalyKind::Missing => "missing",
            AnomalyKind::InconsistentOffsets => "inconsistent-offsets",
            AnomalyKind::UnexpectedWrite => "unexpected-write",
            AnomalyKind::NotConverged => "not-converged",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Duplicate {
    pub fn explain(&self) -> String {
        let sent = match self.sends.len() {
            1 => format!("sent once (op {})", self.sends[0]),
            n => format!("sent {n} times (ops {:?})", self.sends),
        };
        let ack = match (self.ack, self.acked_offset) {
            (Some(op), Some(off)) => format!(", acknowledged at offset {off} (op {op})"),
            (Some(op), None) => format!(", acknowledged (op {op})"),
            _ => String::new(),
        };
        format!(
            "value {} was {sent}{ack} but occupies offsets {:?} of {}-{}: the log holds one \
             intended write {} times, so a resend was appended again instead of being \
             recognised as a duplicate",
            self.value,
            self.offsets,
            self.topic,
            self.partition,
            self.offsets.len()
        )
    }
}

impl LostWrite {
    pub fn explain(&self) -> String {
        let at = self
            .acked_offset
            .map(|o| format!(" at offset {o}"))
            .unwrap_or_default();
        format!(
            "value {} was acknowledged{at} (send op {}, ack op {}) but {}-{} does not hold it: \
             an acknowledged write was lost",
            self.value, self.send, self.ack, self.topic, self.partition
        )
    }
}

impl Missing {
    pub fn explain(&self) -> String {
        let how = match (self.outcome.as_str(), self.completion) {
            ("fail", Some(op)) => format!("failed (op {op})"),
            ("info", Some(op)) => format!("ended with an unknown outcome (op {op})"),
            _ => "never completed".to_string(),
        };
        let error = self
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        format!(
            "value {} was meant for {}-{} (send op {}) but the send {how}{error}, and nothing \
             retried it: the value never reached the log",
            self.value, self.topic, self.partition, self.send
        )
    }
}

impl InconsistentOffsets {
    pub fn explain(&self) -> String {
        let seen: Vec<String> = self
            .observations
            .iter()
            .map(|(v, src)| format!("{v} ({src})"))
            .collect();
        format!(
            "offset {} of {}-{} was reported holding different values: {}",
            self.offset,
            self.topic,
            self.partition,
            seen.join(", ")
        )
    }
}

impl UnexpectedWrite {
    pub fn explain(&self) -> String {
        format!(
            "value {} sits at offsets {:?} of {}-{} but no client ever sent it",
            self.value, self.offsets, self.topic, self.partition
        )
    }
}

impl NotConverged {
    pub fn explain(&self) -> String {
        let shown: Vec<String> = self.open_ops.iter().take(10).map(u64::to_string).collect();
        format!(
            "after every fault healed the run did not finish: {} operation(s) never completed \
             (ops {}{})",
            self.open_ops.len(),
            shown.join(", "),
            if self.open_ops.len() > 10 {
                ", …"
            } else {
                ""
            }
        )
    }
}

impl Anomaly {
    pub fn kind(&self) -> AnomalyKind {
        match self {
            Anomaly::Duplicate(_) => AnomalyKind::Duplicate,
            Anomaly::LostWrite(_) => AnomalyKind::LostWrite,
            Anomaly::Missing(_) => AnomalyKind::Missing,
            Anomaly::InconsistentOffsets(_) => AnomalyKind::InconsistentOffsets,
            Anomaly::UnexpectedWrite(_) => AnomalyKind::UnexpectedWrite,
            Anomaly::NotConverged(_) => AnomalyKind::NotConverged,
        }
    }

    /// One or two sentences: what went wrong, with the records and events involved.
    pub fn explain(&self) -> String {
        match self {
            Anomaly::Duplicate(a) => a.explain(),
            Anomaly::LostWrite(a) => a.explain(),
            Anomaly::Missing(a) => a.explain(),
            Anomaly::InconsistentOffsets(a) => a.explain(),
            Anomaly::UnexpectedWrite(a) => a.explain(),
            Anomaly::NotConverged(a) => a.explain(),
        }
    }
}
