//! not-converged: the run said it did not converge (its `end` line); the finding lists the
//! invocations left open.

use serde::{Deserialize, Serialize};

use super::Finding;
use crate::causal::FindingRecords;
use crate::detect::Context;

/// The run did not converge: after every fault healed, work was still unfinished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotConverged {
    /// History indices of invocations that never completed.
    pub open_ops: Vec<u64>,
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

impl Finding for NotConverged {
    fn records(&self) -> Option<FindingRecords<'_>> {
        None
    }
}

/// The run said it did not converge: list the invocations left open.
pub(crate) fn find(cx: &Context) -> Vec<NotConverged> {
    if cx.history.converged != Some(false) {
        return Vec::new();
    }
    let open_ops = cx
        .pairs
        .iter()
        .filter(|(_, c)| c.is_none())
        .map(|(i, _)| *i as u64)
        .collect();
    vec![NotConverged { open_ops }]
}
