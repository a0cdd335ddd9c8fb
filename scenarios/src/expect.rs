//! Expected outcomes, keyed by guarantee and variants.

use std::collections::BTreeSet;
use std::fmt;

use checker::AnomalyKind;
use model::{Guarantee, Variant};
use serde::{Deserialize, Serialize};

/// What a sweep of a scenario under one run key must show. `anomalies = []`: every seed
/// passes. Otherwise: no seed shows a kind outside the list, and some seed shows one in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub anomalies: Vec<AnomalyKind>,
}

/// A guarantee plus the variants in force: "exactly-once" or "exactly-once+no-dedup".
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunKey {
    pub guarantee: Guarantee,
    pub variants: BTreeSet<Variant>,
}

impl RunKey {
    pub fn parse(key: &str) -> Result<Self, String> {
        let mut parts = key.split('+');
        let g = parts.next().unwrap_or_default();
        let guarantee = Guarantee::from_name(g).ok_or_else(|| {
            let known: Vec<_> = Guarantee::ALL.iter().map(|g| g.name()).collect();
            format!("unknown guarantee {g:?} (known: {})", known.join(", "))
        })?;
        let mut variants = BTreeSet::new();
        for v in parts {
            let variant = Variant::from_name(v).ok_or_else(|| {
                let known: Vec<_> = Variant::ALL.iter().map(|v| v.name()).collect();
                format!("unknown variant {v:?} (known: {})", known.join(", "))
            })?;
            variants.insert(variant);
        }
        Ok(Self {
            guarantee,
            variants,
        })
    }
}

impl fmt::Display for RunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.guarantee)?;
        for v in &self.variants {
            write!(f, "+{v}")?;
        }
        Ok(())
    }
}

impl Expectation {
    /// Judges a sweep: the anomaly kinds each seed showed. Ok, or why not.
    pub fn judge(&self, per_seed: &[(u64, BTreeSet<AnomalyKind>)]) -> Result<(), String> {
        let allowed: BTreeSet<AnomalyKind> = self.anomalies.iter().copied().collect();
        for (seed, kinds) in per_seed {
            if let Some(bad) = kinds.iter().find(|k| !allowed.contains(k)) {
                return Err(format!(
                    "seed {seed} shows {bad}, which is not expected (expected: {:?})",
                    self.anomalies
                ));
            }
        }
        if !allowed.is_empty() && per_seed.iter().all(|(_, k)| k.is_empty()) {
            return Err(format!(
                "no seed of {} showed any of {:?}",
                per_seed.len(),
                self.anomalies
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_keys_parse_and_print() {
        let key = RunKey::parse("exactly-once+no-dedup").unwrap();
        assert_eq!(key.to_string(), "exactly-once+no-dedup");
        assert!(
            RunKey::parse("twice")
                .unwrap_err()
                .contains("unknown guarantee")
        );
        assert!(
            RunKey::parse("exactly-once+nope")
                .unwrap_err()
                .contains("unknown variant")
        );
    }

    #[test]
    fn judging_a_sweep() {
        let pass = Expectation { anomalies: vec![] };
        let dup = Expectation {
            anomalies: vec![AnomalyKind::Duplicate],
        };
        let clean = vec![(0, BTreeSet::new()), (1, BTreeSet::new())];
        let dirty = vec![
            (0, BTreeSet::new()),
            (1, BTreeSet::from([AnomalyKind::Duplicate])),
        ];
        let lost = vec![(3, BTreeSet::from([AnomalyKind::LostWrite]))];
        assert!(pass.judge(&clean).is_ok());
        assert!(pass.judge(&dirty).unwrap_err().contains("seed 1"));
        assert!(dup.judge(&dirty).is_ok());
        assert!(dup.judge(&clean).unwrap_err().contains("no seed"));
        assert!(dup.judge(&lost).unwrap_err().contains("lost-write"));
    }
}
