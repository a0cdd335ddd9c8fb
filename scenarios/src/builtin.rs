//! Scenarios embedded in the binary, addressable by name.

use std::path::Path;

use crate::spec::{Scenario, ScenarioError};

/// (name, TOML text) of every built-in scenario.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "produce-retries",
        include_str!("../builtin/produce-retries.toml"),
    ),
    (
        "transactional-copy",
        include_str!("../builtin/transactional-copy.toml"),
    ),
    (
        "zombie-fencing",
        include_str!("../builtin/zombie-fencing.toml"),
    ),
    (
        "zombie-fencing-v2",
        include_str!("../builtin/zombie-fencing-v2.toml"),
    ),
    ("jepsen-queue", include_str!("../builtin/jepsen-queue.toml")),
    ("eos-test", include_str!("../builtin/eos-test.toml")),
    (
        "eos-test-complex",
        include_str!("../builtin/eos-test-complex.toml"),
    ),
    (
        "eos-test-failure-recovery",
        include_str!("../builtin/eos-test-failure-recovery.toml"),
    ),
    (
        "eos-test-rebalance",
        include_str!("../builtin/eos-test-rebalance.toml"),
    ),
    ("word-count", include_str!("../builtin/word-count.toml")),
    ("long-outages", include_str!("../builtin/long-outages.toml")),
    ("txn-timeouts", include_str!("../builtin/txn-timeouts.toml")),
    (
        "epoch-exhaustion",
        include_str!("../builtin/epoch-exhaustion.toml"),
    ),
    ("copy-outages", include_str!("../builtin/copy-outages.toml")),
    ("new-topic", include_str!("../builtin/new-topic.toml")),
    (
        "queue-batches",
        include_str!("../builtin/queue-batches.toml"),
    ),
];

/// Loads a built-in scenario by name, or a scenario file by path.
pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
    if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        return Scenario::parse(text, &format!("builtin:{name}"));
    }
    let path = Path::new(name_or_path);
    let unreadable = |e: std::io::Error| ScenarioError {
        file: name_or_path.to_string(),
        position: None,
        field: None,
        message: if e.kind() == std::io::ErrorKind::NotFound {
            let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
            format!(
                "no such file, and not a built-in scenario (built-in: {})",
                names.join(", ")
            )
        } else {
            e.to_string()
        },
    };
    // Read at most one byte past the limit: `parse_bytes` rejects a larger file without
    // this reading all of it.
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, crate::limits::MAX_FILE_BYTES + 1),
        &mut bytes,
    )
    .map_err(unreadable)?;
    Scenario::parse_bytes(&bytes, name_or_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_is_named_after_its_key() {
        for (name, text) in BUILTIN {
            let scenario = Scenario::parse(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(scenario.name, *name);
            assert!(
                !scenario.expect.is_empty(),
                "{name} states its expected outcomes"
            );
        }
    }

    #[test]
    fn unknown_name_says_what_exists() {
        let err = load("no-such-scenario").unwrap_err().to_string();
        assert!(err.contains("produce-retries"), "{err}");
    }
}
