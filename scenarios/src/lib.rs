//! Scenarios: TOML files that describe a cluster, an application, a processing guarantee,
//! protocol variants, faults and the expected outcome; and the code that turns one into a
//! simulated run and checks it.

pub mod app;
pub mod builder;
pub mod builtin;
pub mod convergence;
pub mod coverage;
pub mod expect;
pub mod hunt;
pub mod limits;
pub mod locate;
pub mod run;
pub mod shrink;
pub mod spec;

pub use app::{App, AppEnv, AppSpec};
pub use builder::{SimResults, Simulation, SimulationBuilder};
pub use builtin::{BUILTIN, load};
pub use coverage::Coverage;
pub use expect::{Expectation, RunKey};
pub use run::{RunOptions, RunOutcome, RunStats, run};
pub use spec::{Scenario, ScenarioError};
