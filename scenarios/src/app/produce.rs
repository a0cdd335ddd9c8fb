//! The produce app: producers send unique values to the partitions of the cluster's topics
//! (the talk's "Error Scenario #1"). Settings: `[app.produce]`.

use model::apps::produce::{Completion, ProduceWorkload, producer_program};

use super::{
    App, AppEnv, AppNodes, BuiltinApp, ClientId, Progress, ReadBack, Started, app_client_ops, half,
};
use crate::limits;
use crate::run::producer_config;
use crate::spec::{Invalid, Scenario, bounded};

/// Node name of producer `p` (0-based).
pub fn producer_name(p: u32) -> String {
    format!("producer-{}", p + 1)
}

impl App for ProduceWorkload {
    fn nodes(&self) -> AppNodes {
        AppNodes {
            restartable: Vec::new(),
            other: (0..self.producers).map(producer_name).collect(),
        }
    }

    fn start(&self, env: &AppEnv) -> Started {
        let done = Completion::default();
        let partitions = env.cluster.spec.partitions();
        for p in 0..self.producers {
            let client = ClientId::producer(p);
            env.recorder.name_client(client, producer_name(p));
            let (env, workload, partitions, done) =
                (env.clone(), self.clone(), partitions.clone(), done.clone());
            let config = producer_config(env.guarantee);
            env.sim.clone().add_node(&producer_name(p), move |node| {
                producer_program(
                    env.client_context(node, client),
                    config.clone(),
                    p,
                    workload.clone(),
                    partitions.clone(),
                    done.clone(),
                )
            });
        }
        let producers = self.producers;
        Started {
            done: Box::pin(async move { done.wait_for(producers).await }),
            stop_when_done: Vec::new(),
        }
    }

    fn read_back(&self) -> ReadBack {
        ReadBack::Everything
    }

    fn progress(&self, done_ops: &[&checker::Op]) -> Progress {
        let sends: Vec<u64> = app_client_ops(done_ops)
            .filter(|op| matches!(op.op, checker::Operation::Send { .. }))
            .map(|op| op.time_ns)
            .collect();
        Progress {
            unit: "values sent (acknowledged, failed or unknown)",
            done: sends.len() as u64,
            expected: u64::from(self.producers) * u64::from(self.values_per_producer),
            paced_ms: u64::from(self.values_per_producer) * self.send_interval_ms,
            last_ns: sends.into_iter().max(),
        }
    }
}

impl BuiltinApp for ProduceWorkload {
    const NAME: &'static str = "produce";

    fn validate(&self, scenario: &Scenario) -> Result<(), Invalid> {
        bounded(
            "app.produce.producers",
            self.producers,
            1,
            limits::MAX_PRODUCERS,
        )?;
        bounded(
            "app.produce.values_per_producer",
            self.values_per_producer,
            0,
            limits::MAX_VALUES_PER_PRODUCER,
        )?;
        let total = u64::from(self.producers) * u64::from(self.values_per_producer);
        let max = scenario.workload_bound(limits::MAX_PRODUCE_VALUES);
        if total > max {
            return Err(Invalid::new(
                "app.produce.values_per_producer",
                format!(
                    "{} producers x {} values = {total} values; at most {max} in all{}",
                    self.producers,
                    self.values_per_producer,
                    scenario.lossy_note()
                ),
            ));
        }
        bounded(
            "app.produce.send_interval_ms",
            self.send_interval_ms,
            0,
            limits::MAX_SEND_INTERVAL_MS,
        )
    }

    fn smaller(&self) -> Vec<Self> {
        let mut out = Vec::new();
        if let Some(n) = half(self.values_per_producer) {
            out.push(Self {
                values_per_producer: n,
                ..self.clone()
            });
        }
        if let Some(n) = half(self.producers) {
            out.push(Self {
                producers: n,
                ..self.clone()
            });
        }
        out
    }

    fn size(&self) -> String {
        format!(
            "{} producers x {} values",
            self.producers, self.values_per_producer
        )
    }
}
