//! What serde's derived reader makes of one line: the oracle that the reader's fast paths
//! (`read.rs`, `canonical.rs`) are held to in their tests.

use super::{FinalLog, Line, Op};

/// The op on `line` (`None`: the derived reader refuses it, or it is no op).
pub(super) fn op(line: &str) -> Option<Op> {
    match serde_json::from_str::<Line>(line).ok()? {
        Line::Op(op) => Some(op),
        _ => None,
    }
}

/// The final log on `line` (`None`: the derived reader refuses it, or it is no final log).
pub(super) fn final_log(line: &str) -> Option<FinalLog> {
    match serde_json::from_str::<Line>(line).ok()? {
        Line::FinalLog(log) => Some(log),
        _ => None,
    }
}
