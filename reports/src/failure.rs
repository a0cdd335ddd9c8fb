//! Why a run failed: a panic, a broken safety property, or a broken liveness property.

use checker::AnomalyKind;
use serde::{Deserialize, Serialize};

/// Why a run failed. A run can break several properties at once; its failure is the most
/// telling one, in declaration order (the derived `Ord` is that precedence): a panic first
/// (the run stopped, so nothing was checked), then safety (something bad happened: a bug
/// whatever the timing), then liveness (something good never happened in the time the run
/// had: it did not converge, or a transaction never ended, which may also mean the run was too
/// short).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// The simulation panicked: an invariant of the model or the engine broke.
    Panic,
    /// The checkers found an anomaly of a safety category (every category but liveness).
    Safety,
    /// The checkers found only liveness anomalies (`not-converged`, `hanging-transaction`).
    Liveness,
}

impl Failure {
    /// The failure of a run that panicked or not and whose checkers found `kinds`; `None`
    /// when it passed.
    pub fn of_run(panicked: bool, kinds: impl IntoIterator<Item = AnomalyKind>) -> Option<Self> {
        if panicked {
            return Some(Failure::Panic);
        }
        kinds.into_iter().map(Failure::of_kind).min()
    }

    /// The failure a finding of `kind` alone makes.
    pub fn of_kind(kind: AnomalyKind) -> Self {
        if kind.category().is_liveness() {
            Failure::Liveness
        } else {
            Failure::Safety
        }
    }

    /// The failure of a run from its kind names as version 1 of the JSON lists them (the
    /// kinds found, and [`PANIC_PSEUDO_KIND`] for a panic). A name this build does not know
    /// counts as safety: it came from a newer checker, and is an anomaly either way.
    pub fn of_kind_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        names
            .into_iter()
            .map(|name| match AnomalyKind::from_name(name) {
                Some(kind) => Failure::of_kind(kind),
                None if name == PANIC_PSEUDO_KIND => Failure::Panic,
                None => Failure::Safety,
            })
            .min()
    }

    pub fn name(self) -> &'static str {
        match self {
            Failure::Panic => "panic",
            Failure::Safety => "safety",
            Failure::Liveness => "liveness",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Version 1 of the JSON listed a panic among a run's anomaly kinds, under this name
/// (`anomaly_counts`, a sweep's `kinds` and `anomaly_counts`, compare's `findings`). Reports
/// still list it there so that readers of that version keep working; `failure` is the field
/// that says why a run failed, and nothing in eosim reads the pseudo kind back but
/// [`Failure::of_kind_names`].
pub const PANIC_PSEUDO_KIND: &str = "panic";

/// A run's kind names as version 1 of the JSON lists them: the kinds found, in their order,
/// then the panic pseudo kind if the run panicked.
pub fn kind_names(
    kinds: impl IntoIterator<Item = AnomalyKind>,
    failure: Option<Failure>,
) -> Vec<String> {
    let mut names: Vec<String> = kinds.into_iter().map(|k| k.name().to_string()).collect();
    if failure == Some(Failure::Panic) {
        names.push(PANIC_PSEUDO_KIND.to_string());
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_outranks_safety_which_outranks_liveness() {
        let not_converged = AnomalyKind::NotConverged;
        let duplicate = AnomalyKind::Duplicate;
        assert_eq!(Failure::of_run(false, []), None);
        assert_eq!(Failure::of_run(true, []), Some(Failure::Panic));
        assert_eq!(
            Failure::of_run(false, [not_converged]),
            Some(Failure::Liveness)
        );
        assert_eq!(
            Failure::of_run(false, [not_converged, duplicate]),
            Some(Failure::Safety)
        );
        assert_eq!(Failure::of_run(true, [duplicate]), Some(Failure::Panic));
    }

    #[test]
    fn every_kind_fails_a_run_by_its_category() {
        for &kind in AnomalyKind::ALL {
            let expected = if kind.category() == checker::AnomalyCategory::Liveness {
                Failure::Liveness
            } else {
                Failure::Safety
            };
            assert_eq!(Failure::of_kind(kind), expected, "{kind}");
        }
    }

    #[test]
    fn version_1_kind_names_give_the_failure_back() {
        for (panicked, kinds) in [
            (false, vec![]),
            (true, vec![]),
            (false, vec![AnomalyKind::NotConverged]),
            (
                false,
                vec![AnomalyKind::Duplicate, AnomalyKind::NotConverged],
            ),
            (true, vec![AnomalyKind::LostWrite]),
        ] {
            let failure = Failure::of_run(panicked, kinds.iter().copied());
            let names = kind_names(kinds, failure);
            assert_eq!(
                names.contains(&PANIC_PSEUDO_KIND.to_string()),
                panicked,
                "{names:?}"
            );
            assert_eq!(
                Failure::of_kind_names(names.iter().map(String::as_str)),
                failure
            );
        }
        assert_eq!(
            Failure::of_kind_names(["a-kind-from-a-newer-build"]),
            Some(Failure::Safety)
        );
    }

    #[test]
    fn failures_serialise_as_their_names() {
        for failure in [Failure::Panic, Failure::Safety, Failure::Liveness] {
            let json = serde_json::to_string(&failure).unwrap();
            assert_eq!(json, format!("\"{}\"", failure.name()));
            assert_eq!(serde_json::from_str::<Failure>(&json).unwrap(), failure);
        }
    }
}
