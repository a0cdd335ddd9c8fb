//! The regression library: every `scenarios/regressions/*.toml` is a shrunk reproduction with
//! its seed and the anomaly kinds it must show (none, for a bug that was fixed). Each must
//! still show exactly those kinds, replay identically, and keep its summary (insta snapshot).

use std::collections::BTreeSet;

use eosim::scenarios::{self, RunKey, RunOptions, Scenario};

#[test]
fn every_regression_fails_exactly_as_recorded() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression scenarios in {}",
        dir.display()
    );
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        let scenario =
            Scenario::parse(&text, &file.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        let seed = scenario
            .seed
            .unwrap_or_else(|| panic!("{name} records no seed"));
        assert_eq!(scenario.expect.len(), 1, "{name}: one expected outcome");
        let (key, expectation) = scenario.expect.iter().next().unwrap();
        let key = RunKey::parse(key).unwrap();
        let options = RunOptions {
            seed,
            guarantee: Some(key.guarantee),
            variants: key.variants.iter().copied().collect(),
            ..RunOptions::default()
        };
        let first = scenarios::run(&scenario, &options);
        let expected: BTreeSet<_> = expectation.anomalies.iter().copied().collect();
        assert_eq!(first.kinds(), expected, "{name}: {:#?}", first.anomalies);
        if !expected.is_empty() {
            let faults = first.plan.0.len();
            assert!(
                faults <= 3,
                "{name}: a shrunk failing plan has at most 3 faults, not {faults}"
            );
        }
        let second = scenarios::run(&scenario, &options);
        assert_eq!(
            first.trace.hash, second.trace.hash,
            "{name} replays identically"
        );
        let summary =
            eosim::report(&first, &format!("scenarios/regressions/{name}.toml")).to_text();
        insta::assert_snapshot!(format!("regression_{name}"), summary);
    }
}
