//! Running an app from code, for a user's own `#[test]`: a builder over the scenario a file
//! would give, and the results of its seeds.
//!
//! ```ignore
//! let results = Simulation::builder(MyApp::new())
//!     .brokers(3)
//!     .topic("events", 6)
//!     .seeds(0..50)
//!     .run()?;
//! results.assert_all_passed();
//! ```

use std::collections::BTreeSet;
use std::ops::Range;

use checker::AnomalyKind;
use model::cluster::TopicSpec;
use model::{ClusterSpec, Guarantee, Variant};
use sim::{FaultMix, NetConfig};

use crate::app::{App, AppSpec};
use crate::run::{RunOptions, RunOutcome, run};
use crate::shrink::{ShrinkError, ShrinkOptions, ShrinkResult, shows, shrink, target_kind};
use crate::spec::{FaultsSpec, Scenario, ScenarioError};

/// A scenario built in code with the seeds to run it on.
#[derive(Clone, Debug)]
pub struct Simulation {
    pub scenario: Scenario,
    pub seeds: Range<u64>,
    /// Worker threads (each seed is single-threaded and deterministic on its own).
    pub jobs: usize,
}

/// Builds a [`Simulation`]. Defaults: 3 brokers, no topics (add at least one), the default
/// network, the default fault mix (8 faults over a 3 s fault phase, 60 s to heal),
/// exactly-once, no variants, seeds 0..20, one job per core.
pub struct SimulationBuilder {
    scenario: Scenario,
    seeds: Range<u64>,
    jobs: usize,
}

impl Simulation {
    /// A simulation of `app`, to be configured.
    pub fn builder(app: impl App + 'static) -> SimulationBuilder {
        SimulationBuilder {
            scenario: Scenario {
                name: "custom".into(),
                description: String::new(),
                guarantee: Guarantee::ExactlyOnce,
                variants: Vec::new(),
                seed: None,
                cluster: ClusterSpec::default(),
                app: AppSpec::custom(app),
                network: NetConfig::default(),
                faults: FaultsSpec {
                    phase_ms: 3_000,
                    mix: Some(FaultMix::default()),
                    ..FaultsSpec::default()
                },
                expect: Default::default(),
                reference: None,
            },
            seeds: 0..20,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// Runs every seed; the outcomes in seed order.
    pub fn run(&self) -> SimResults {
        let seeds: Vec<u64> = self.seeds.clone().collect();
        let outcomes = sim::run_seeds(&seeds, self.jobs, |seed| self.run_seed(seed), &|_| {});
        SimResults { outcomes }
    }

    /// Shrinks a failing seed: the smallest fault plan (and, for a built-in app, workload)
    /// that still shows the seed's first anomaly kind, confirmed by two identical replays.
    /// The minimal run is `result.outcome`; `result.plan` is the plan to keep as a
    /// regression (`RunOptions::plan_override`).
    pub fn shrink(&self, seed: u64) -> Result<ShrinkResult, ShrinkError> {
        let options = RunOptions {
            seed,
            ..RunOptions::default()
        };
        let original = run(&self.scenario, &options);
        let kind = target_kind(&original, None)?;
        shrink(
            &self.scenario,
            &original,
            &ShrinkOptions::new(&options),
            shows(kind),
        )
    }

    /// Runs one seed again (a failure's replay: the same seed gives the same run).
    pub fn run_seed(&self, seed: u64) -> RunOutcome {
        run(
            &self.scenario,
            &RunOptions {
                seed,
                ..RunOptions::default()
            },
        )
    }
}

impl SimulationBuilder {
    /// The scenario's name in reports (default "custom").
    pub fn name(mut self, name: &str) -> Self {
        self.scenario.name = name.to_string();
        self
    }

    /// Brokers in the cluster (default 3).
    pub fn brokers(mut self, brokers: u32) -> Self {
        self.scenario.cluster.brokers = brokers;
        self
    }

    /// Adds a topic.
    pub fn topic(mut self, name: &str, partitions: u32) -> Self {
        self.scenario.cluster.topics.push(TopicSpec {
            name: name.to_string(),
            partitions,
        });
        self
    }

    /// The network's latency, loss and costs (default: `NetConfig::default()`).
    pub fn network(mut self, network: NetConfig) -> Self {
        self.scenario.network = network;
        self
    }

    /// The random fault mix drawn from each seed (default `FaultMix::default()`).
    pub fn faults(mut self, mix: FaultMix) -> Self {
        self.scenario.faults.mix = Some(mix);
        self
    }

    /// No faults at all.
    pub fn no_faults(mut self) -> Self {
        self.scenario.faults.mix = None;
        self
    }

    /// Length of the fault phase, ms (default 3,000).
    pub fn fault_phase_ms(mut self, phase_ms: u64) -> Self {
        self.scenario.faults.phase_ms = phase_ms;
        self
    }

    /// Time the app has to finish its work after healing, ms (default 60,000).
    pub fn heal_deadline_ms(mut self, heal_deadline_ms: u64) -> Self {
        self.scenario.faults.heal_deadline_ms = heal_deadline_ms;
        self
    }

    /// The processing guarantee the app runs under (default exactly-once).
    pub fn guarantee(mut self, guarantee: Guarantee) -> Self {
        self.scenario.guarantee = guarantee;
        self
    }

    /// Switches a protocol variant on (a known bug of Kafka's history).
    pub fn variant(mut self, variant: Variant) -> Self {
        self.scenario.variants.push(variant);
        self
    }

    /// Swarm testing: each seed enables a random subset of the fault kinds, messages and
    /// nodes.
    pub fn swarm(mut self) -> Self {
        self.scenario = self.scenario.with_swarm();
        self
    }

    /// The seeds to run (default 0..20).
    pub fn seeds(mut self, seeds: Range<u64>) -> Self {
        self.seeds = seeds;
        self
    }

    /// Worker threads (default: one per core).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// Validates the scenario as a file's would be.
    pub fn build(self) -> Result<Simulation, ScenarioError> {
        self.scenario.validate_built()?;
        Ok(Simulation {
            scenario: self.scenario,
            seeds: self.seeds,
            jobs: self.jobs,
        })
    }

    /// Builds and runs every seed.
    pub fn run(self) -> Result<SimResults, ScenarioError> {
        Ok(self.build()?.run())
    }
}

/// The outcomes of a simulation's seeds.
#[derive(Debug)]
pub struct SimResults {
    pub outcomes: Vec<RunOutcome>,
}

impl SimResults {
    /// Seeds where some property failed (an anomaly, a panic).
    pub fn failures(&self) -> impl Iterator<Item = &RunOutcome> {
        self.outcomes.iter().filter(|o| !o.passed())
    }

    pub fn all_passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// Every anomaly kind some seed showed.
    pub fn kinds(&self) -> BTreeSet<AnomalyKind> {
        self.outcomes.iter().flat_map(|o| o.kinds()).collect()
    }

    /// Panics unless every seed passed, explaining the first failure.
    #[track_caller]
    pub fn assert_all_passed(&self) {
        if let Some(failed) = self.failures().next() {
            let count = self.failures().count();
            panic!(
                "{count} of {} seeds failed; the first, seed {}: {}",
                self.outcomes.len(),
                failed.seed,
                explain(failed)
            );
        }
    }
}

/// The panic or the anomalies of a failed run, one per line.
pub fn explain(outcome: &RunOutcome) -> String {
    if let Some(panic) = &outcome.panic {
        return format!("the simulation panicked: {panic}");
    }
    outcome
        .anomalies
        .iter()
        .map(|a| format!("\n  - {}: {}", a.kind(), a.explain()))
        .collect()
}
