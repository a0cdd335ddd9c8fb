//! The allowed-error policy (checker) names the guarantees the scenarios (model) run under:
//! the checker cannot depend on the model, so the two lists are held equal here.

#[test]
fn the_policy_judges_every_guarantee_the_model_runs_under() {
    let model: Vec<&str> = eosim::model::Guarantee::ALL
        .iter()
        .map(|g| g.name())
        .collect();
    let policy: Vec<&str> = eosim::checker::anomaly::policy::Guarantee::ALL
        .iter()
        .map(|g| g.name())
        .collect();
    assert_eq!(policy, model);
}
