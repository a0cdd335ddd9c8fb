//! The application seam: what runs on the simulated cluster's client nodes.
//!
//! An [`App`] says which nodes it runs on, starts its programs on them (and again after each
//! restart), says how its output is read back and judged, and how far it got. The run
//! (`crate::run`) builds the cluster, starts the app, runs the fault phase, heals, waits for
//! the app's work, reads the ground truth back and checks it; it knows nothing of any app.
//!
//! The built-in apps are declared once, in [`builtin_apps!`] below: each is a module of
//! this directory implementing [`App`] and [`BuiltinApp`] for its workload type, and a line
//! of the macro, which derives the scenario file's `[app.<name>]` table ([`AppSpec`]).
//! A user's app implements [`App`] only and runs through [`AppSpec::custom`].
//!
//! Architecture invariant: nothing outside this directory matches on an app.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use checker::{Anomaly, History, Op};
use model::client::ClientContext;
use model::cluster::TopicSpec;
use model::protocol::KafkaNet;
use model::{Cluster, ClusterSpec, Guarantee, Recorder, Variants};
use serde::{Deserialize, Serialize};
use sim::{NodeId, Sim};

/// Counts an app's finished workers; `Started::done` can wait for it.
pub use model::apps::produce::Completion;
pub use model::client::{ClientId, Incarnations};

use crate::spec::{Invalid, Scenario};

/// What a run gives an app to start on.
#[derive(Clone)]
pub struct AppEnv {
    pub sim: Sim,
    pub net: KafkaNet,
    pub cluster: Cluster,
    pub recorder: Recorder,
    /// The processing guarantee the run asks for.
    pub guarantee: Guarantee,
    /// Protocol variants in force (an app reads those that change its clients).
    pub variants: Variants,
}

impl AppEnv {
    /// The context of a client with history id `client_id` on `node`.
    pub fn client_context(&self, node: NodeId, client_id: ClientId) -> ClientContext {
        ClientContext {
            sim: self.sim.clone(),
            node,
            net: self.net.clone(),
            cluster: self.cluster.clone(),
            recorder: self.recorder.clone(),
            client_id,
            switches: model::client::ClientSwitches::from_variants(&self.variants),
        }
    }
}

/// The wait for an app's work to be done.
pub type Done = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A started app.
pub struct Started {
    /// Resolves when the app's work is done (the run waits for it until the heal deadline).
    pub done: Done,
    /// Nodes to stop once the work is done, before the ground truth is read (members of a
    /// group never stop by themselves).
    pub stop_when_done: Vec<NodeId>,
}

/// How the verifier reads the app's topics back after the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadBack {
    /// Read every record (read_uncommitted): the output is not transactional.
    Everything,
    /// Wait until no transaction is open in any partition (a hanging one is reported), then
    /// read at read_committed, as a downstream reader of transactional output does.
    Committed,
    /// Jepsen's final polls at read_committed, recorded as the verifier's poll operations;
    /// open transactions get `settle_ms` to be decided first.
    QueuePolls { settle_ms: u64 },
}

/// An app's nodes, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppNodes {
    /// Nodes a fault may crash, pause or stop (the app restarts its program on them).
    pub restartable: Vec<String>,
    /// Its other nodes (message faults may name them).
    pub other: Vec<String>,
}

/// How far an app's work got (for a run that did not converge).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// What is counted ("values sent", "input records processed").
    pub unit: &'static str,
    pub done: u64,
    pub expected: u64,
    /// The least time the work takes even without faults (its own pacing), ms.
    pub paced_ms: u64,
    /// When the last unit was done, ns.
    pub last_ns: Option<u64>,
}

/// An application under simulation.
pub trait App: Send + Sync {
    /// Its nodes (brokers and the verifier are the run's).
    fn nodes(&self) -> AppNodes;
    /// Topics the app creates beside the cluster's (same names are not created twice).
    fn extra_topics(&self, _cluster: &ClusterSpec) -> Vec<TopicSpec> {
        Vec::new()
    }
    /// Adds its nodes to the simulation and starts its programs.
    fn start(&self, env: &AppEnv) -> Started;
    /// How its output is read back.
    fn read_back(&self) -> ReadBack;
    /// What the aggregate verifier must check of its outputs (a Streams topology's, as its
    /// DSL vouches for them): written into the history's ground truth, so `check_all` runs
    /// them here and `eosim check` on the saved history runs them again.
    fn aggregate_checks(&self) -> Vec<checker::aggregate::AggregateCheck> {
        Vec::new()
    }
    /// Checks beyond the history's (exactly-once, Jepsen's, the aggregates): the app's own
    /// invariants.
    fn extra_checks(&self, _history: &History) -> Vec<Anomaly> {
        Vec::new()
    }
    /// How far it got, from the operations that completed by the deadline.
    fn progress(&self, done_ops: &[&Op]) -> Progress;
}

/// What a built-in app adds to [`App`]: its scenario-file settings are validated (naming the
/// field), shrunk and summarised.
pub(crate) trait BuiltinApp: App + Clone + Sized {
    /// Its table in a scenario file: `[app.<NAME>]`.
    const NAME: &'static str;
    /// Checks its settings against the scenario (cluster, network). Fields are named
    /// `app.<NAME>.<field>`.
    fn validate(&self, scenario: &Scenario) -> Result<(), Invalid>;
    /// Copies with one size knob cut (largest cut first), for shrinking.
    fn smaller(&self) -> Vec<Self>;
    /// One line on its size ("3 producers x 100 values").
    fn size(&self) -> String;
    /// Group members and streams tasks it keeps busy in the background (heartbeats,
    /// fetches), for the scenario's message budget.
    fn background_load(&self, _scenario: &Scenario) -> BackgroundLoad {
        BackgroundLoad::default()
    }
}

/// Group members and streams tasks, which send messages as long as the run lasts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackgroundLoad {
    pub members: u64,
    pub tasks: u64,
}

/// A user's app (not in scenario files: built in code, e.g. by the run builder).
#[derive(Clone)]
pub struct CustomApp(pub Arc<dyn App>);

impl fmt::Debug for CustomApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomApp")
    }
}

impl PartialEq for CustomApp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Declares the built-in apps once: each app's module (`<module>::` declares it), the
/// `[app.<name>]` table of scenario files and the dispatch to the module.
macro_rules! builtin_apps {
    ($($(#[$doc:meta])* $module:ident :: $variant:ident($workload:ty),)*) => {
        $(pub mod $module;)*

        /// The app a scenario runs, with its settings: a scenario file's `[app.<name>]` table
        /// (exactly one), or a user's app built in code.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum AppSpec {
            $($(#[$doc])* $variant($workload),)*
            /// A user's app: not written to or read from files.
            #[serde(skip)]
            Custom(CustomApp),
        }

        impl AppSpec {
            /// The names of the built-in apps, as scenario files write them.
            pub const BUILTIN_NAMES: &'static [&'static str] =
                &[$(<$workload as BuiltinApp>::NAME,)*];

            /// The app, to run.
            pub fn app(&self) -> &dyn App {
                match self {
                    $(AppSpec::$variant(w) => w,)*
                    AppSpec::Custom(custom) => custom.0.as_ref(),
                }
            }

            /// Its name (`[app.<name>]`; "custom" for a user's app).
            pub fn name(&self) -> &'static str {
                match self {
                    $(AppSpec::$variant(_) => <$workload as BuiltinApp>::NAME,)*
                    AppSpec::Custom(_) => "custom",
                }
            }

            pub(crate) fn validate(&self, scenario: &Scenario) -> Result<(), Invalid> {
                match self {
                    $(AppSpec::$variant(w) => w.validate(scenario),)*
                    AppSpec::Custom(custom) => validate_custom(custom.0.as_ref(), scenario),
                }
            }

            /// Copies with one size knob cut, largest cut first (none for a user's app).
            pub fn smaller(&self) -> Vec<AppSpec> {
                match self {
                    $(AppSpec::$variant(w) => w.smaller().into_iter().map(AppSpec::$variant).collect(),)*
                    AppSpec::Custom(_) => Vec::new(),
                }
            }

            /// One line on the workload's size.
            pub fn size(&self) -> String {
                match self {
                    $(AppSpec::$variant(w) => w.size(),)*
                    AppSpec::Custom(_) => "a user's app".to_string(),
                }
            }

            pub(crate) fn background_load(&self, scenario: &Scenario) -> BackgroundLoad {
                match self {
                    $(AppSpec::$variant(w) => w.background_load(scenario),)*
                    AppSpec::Custom(_) => BackgroundLoad::default(),
                }
            }
        }
    };
}

builtin_apps! {
    /// Producers send unique values to a topic (the talk's "Error Scenario #1").
    produce::Produce(model::apps::produce::ProduceWorkload),
    /// Copier instances copy a pre-filled input topic to an output topic (Kafka's
    /// transactions system test): the DIY poll/send/commit loop under at-least-once (and
    /// at-most-once), the transactional loop under exactly-once.
    copy::TransactionalCopy(model::apps::copy::CopyWorkload),
    /// Jepsen's queue workload: client processes do random sends, polls and transactions of
    /// both over the partitions of the topics.
    queue::JepsenQueue(model::apps::queue::QueueWorkload),
    /// A Kafka-Streams-like application (Kafka's EOS system test, word count) on streams
    /// instances in a consumer group; its topology's topics are created from its input
    /// topic's partition count.
    streams::Streams(model::apps::streams::StreamsWorkload),
}

impl AppSpec {
    /// A user's app, to run with the scenario's cluster, network and faults.
    pub fn custom(app: impl App + 'static) -> Self {
        AppSpec::Custom(CustomApp(Arc::new(app)))
    }
}

/// A user's app: its node names are unique and not the run's own (brokers, the verifier).
fn validate_custom(app: &dyn App, scenario: &Scenario) -> Result<(), Invalid> {
    let nodes = app.nodes();
    let mut seen = scenario.cluster.broker_names();
    seen.push(crate::spec::VERIFIER.to_string());
    for name in nodes.restartable.iter().chain(&nodes.other) {
        if name.is_empty() || seen.contains(name) {
            return Err(Invalid::new(
                "app",
                format!(
                    "the app's node name {name:?} is empty or taken (brokers, the verifier and each app node need their own)"
                ),
            ));
        }
        seen.push(name.clone());
    }
    Ok(())
}

/// The partition count of `topic` in `cluster`, if it is one of its topics.
pub(crate) fn topic_partitions(cluster: &ClusterSpec, topic: &str) -> Option<u32> {
    cluster
        .topics
        .iter()
        .find(|t| t.name == topic)
        .map(|t| t.partitions)
}

/// The operations among `ops` of the app's own clients (not the verifier's).
pub(crate) fn app_client_ops<'a>(ops: &'a [&'a Op]) -> impl Iterator<Item = &'a Op> {
    ops.iter()
        .copied()
        .filter(|op| !ClientId::of_process(op.process).is_verifier())
}

/// Half of a size knob (at least 1), if it can be cut: the shrinking step of every app.
pub(crate) fn half(n: u32) -> Option<u32> {
    (n > 1).then(|| (n / 2).max(1))
}
