//! The transactional-copy app: a loader fills an input topic, copier instances copy it to an
//! output topic (Kafka's transactions system test; the talk's "Error Scenario #2"): the
//! do-it-yourself poll → send → commit loop under at-least-once and at-most-once, the
//! transactional loop under exactly-once. Settings: `[app.transactional-copy]`.

use std::collections::BTreeSet;

use model::apps::copy::{Copier, CopyAssignment, CopyCompletion, CopyWorkload, loader_program};

use super::{
    App, AppEnv, AppNodes, BackgroundLoad, BuiltinApp, ClientId, Incarnations, Progress, ReadBack,
    Started, half, topic_partitions,
};
use crate::limits;
use crate::spec::{Invalid, LOADER, Scenario, bounded, validate_session};

/// Node name of copier instance `k` (0-based).
pub fn copier_name(k: u32) -> String {
    format!("copier-{}", k + 1)
}

/// A copier incarnation's sub-clients (`Copier::client(1..=3)`).
const COPIER_ROLES: &[&str] = &["consumer", "producer", "member"];

impl App for CopyWorkload {
    fn nodes(&self) -> AppNodes {
        AppNodes {
            restartable: (0..self.instances).map(copier_name).collect(),
            other: vec![LOADER.to_string()],
        }
    }

    fn start(&self, env: &AppEnv) -> Started {
        let partitions = topic_partitions(&env.cluster.spec, &self.input_topic)
            .expect("validated: the input topic exists");
        env.recorder.name_client(ClientId::LOADER, LOADER);
        let (loader_env, loader_workload) = (env.clone(), self.clone());
        env.sim.add_node(LOADER, move |node| {
            let ctx = loader_env.client_context(node, ClientId::LOADER);
            loader_program(ctx, loader_workload.clone(), partitions)
        });
        let done = CopyCompletion::default();
        let exactly_once = env.guarantee.is_exactly_once();
        let mut copiers = Vec::new();
        for instance in 0..self.instances {
            let (env2, workload, done) = (env.clone(), self.clone(), done.clone());
            let incarnations = Incarnations::new(instance, copier_name(instance), COPIER_ROLES);
            let node = env.sim.add_node(&copier_name(instance), move |node| {
                let (_, client) = incarnations.next(&env2.recorder);
                Copier {
                    ctx: env2.client_context(node, client),
                    workload: workload.clone(),
                    instance,
                    partitions,
                    exactly_once,
                    done: done.clone(),
                }
                .run()
            });
            copiers.push(node);
        }
        Started {
            done: Box::pin(async move { done.wait_for(partitions as usize).await }),
            stop_when_done: copiers,
        }
    }

    fn read_back(&self) -> ReadBack {
        ReadBack::Committed
    }

    fn progress(&self, done_ops: &[&checker::Op]) -> Progress {
        let mut copied = BTreeSet::new();
        let mut last_ns = None;
        for (time_ns, step) in super::queue::committed_steps(done_ops) {
            if let checker::TxnStep::Send {
                topic,
                partition,
                value,
                ..
            } = step
                && **topic == *self.output_topic
                && copied.insert((*partition, *value))
            {
                last_ns = last_ns.max(Some(time_ns));
            }
        }
        Progress {
            unit: "input values copied",
            done: copied.len() as u64,
            expected: u64::from(self.values),
            paced_ms: 0,
            last_ns,
        }
    }
}

impl BuiltinApp for CopyWorkload {
    const NAME: &'static str = "transactional-copy";

    fn validate(&self, scenario: &Scenario) -> Result<(), Invalid> {
        const AT: &str = "app.transactional-copy";
        bounded(
            &format!("{AT}.instances"),
            self.instances,
            1,
            limits::MAX_COPY_INSTANCES,
        )?;
        scenario.bounded_workload(
            &format!("{AT}.values"),
            self.values,
            limits::MAX_COPY_VALUES,
        )?;
        bounded(
            &format!("{AT}.commit_every"),
            self.commit_every,
            1,
            limits::MAX_COMMIT_EVERY,
        )?;
        bounded(
            &format!("{AT}.txn_timeout_ms"),
            self.txn_timeout_ms,
            1,
            limits::MAX_TXN_TIMEOUT_MS,
        )?;
        validate_session(&format!("{AT}.session_timeout_ms"), self.session_timeout_ms)?;
        validate_topics(self, &scenario.cluster)
    }

    fn smaller(&self) -> Vec<Self> {
        let mut out = Vec::new();
        if let Some(n) = half(self.values) {
            out.push(Self {
                values: n,
                ..self.clone()
            });
        }
        if let Some(n) = half(self.instances) {
            out.push(Self {
                instances: n,
                ..self.clone()
            });
        }
        out
    }

    fn size(&self) -> String {
        format!("{} values, {} instances", self.values, self.instances)
    }

    fn background_load(&self, _scenario: &Scenario) -> BackgroundLoad {
        match self.assignment {
            CopyAssignment::Group => BackgroundLoad {
                members: u64::from(self.instances),
                tasks: 0,
            },
            CopyAssignment::Static => BackgroundLoad::default(),
        }
    }
}

/// The input and output topics exist, differ, and have as many partitions.
fn validate_topics(copy: &CopyWorkload, cluster: &model::ClusterSpec) -> Result<(), Invalid> {
    let not_a_topic = |field: &str, name: &str| {
        Invalid::new(
            &format!("app.transactional-copy.{field}"),
            format!("{name:?} is not a topic of cluster.topics"),
        )
    };
    let input = topic_partitions(cluster, &copy.input_topic)
        .ok_or_else(|| not_a_topic("input_topic", &copy.input_topic))?;
    match topic_partitions(cluster, &copy.output_topic) {
        None => Err(not_a_topic("output_topic", &copy.output_topic)),
        Some(output) if output != input || copy.output_topic == copy.input_topic => {
            Err(Invalid::new(
                "app.transactional-copy.output_topic",
                "must be another topic with as many partitions as the input",
            ))
        }
        Some(_) => Ok(()),
    }
}
