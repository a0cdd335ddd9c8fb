//! Named nodes and the run's world: crash, restart, pause, resume, clean stop, partitions,
//! fault rules.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::disk::Crashable;
use crate::net::{Direction, MessageRule};
use crate::run_lock::{RunLock, RunLockGuard};
use crate::trace::{self, TraceKind};

/// A node's index in its run (0 is the supervisor, which never crashes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct NodeId(pub u32);

/// The supervisor: runs the fault plan, the network's delivery loop and the workload driver.
pub const SUPERVISOR: NodeId = NodeId(0);

/// What a node is doing now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeState {
    Running,
    Crashed,
    /// Frozen: timers and mailbox keep filling; it acts on stale beliefs when resumed.
    Paused,
    /// Asked to shut down cleanly (SIGTERM): still running its shutdown.
    Stopping,
    /// Shut down cleanly (its application said so, or the grace period ran out).
    Stopped,
}

impl NodeState {
    /// Nothing runs on the node: connections to it cannot be made, messages to it are lost.
    pub fn is_down(self) -> bool {
        matches!(self, NodeState::Crashed | NodeState::Stopped)
    }
}

/// A clean-shutdown request (SIGTERM) to one life of a node. An application that supports
/// clean shutdown polls `is_requested` at safe points, finishes (commits, checkpoints, leaves
/// its group) and then calls `Sim::stopped`; one that does not is killed when the grace
/// period runs out.
#[derive(Debug, Default)]
pub struct StopSignal {
    requested: AtomicBool,
}

impl StopSignal {
    /// Whether this life of the node was asked to shut down.
    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::Relaxed)
    }
}

/// How long a node asked to stop may take before it is killed (Kafka Streams' system test
/// closes with a 300 s timeout; scaled down like every other timeout here).
pub const STOP_GRACE_MS: u64 = 5_000;

pub(crate) struct NodeEntry {
    pub(crate) name: String,
    pub(crate) state: NodeState,
    /// Bumped by every crash, so messages and calls addressed to an earlier life are dropped.
    pub(crate) incarnation: u32,
    madsim_node: Option<madsim::runtime::NodeHandle>,
    disks: Vec<Arc<dyn Crashable>>,
    /// This life's shutdown request (a fresh one for every restart).
    stop: Arc<StopSignal>,
    /// (what, undone after ms) of a point fault that fired on this node, applied by its next
    /// `Sim::settle`.
    pub(crate) pending_halt: Option<(crate::point::PointAction, Option<crate::point::UndoSender>)>,
}

pub(crate) struct World {
    pub(crate) nodes: Vec<NodeEntry>,
    /// Cut links (from, to): messages on them are dropped.
    pub(crate) cut_links: std::collections::BTreeSet<(NodeId, NodeId)>,
    /// Targeted message faults still to apply.
    pub(crate) rules: Vec<MessageRule>,
    /// Armed point faults (`point`).
    pub(crate) point_rules: Vec<crate::point::PointRule>,
    pub(crate) lose_unsynced_on_crash: bool,
    supervisor_tasks: Vec<madsim::task::AbortHandle>,
}

impl World {
    /// Moves `node` from one of the states `from` to `to` and returns its entry. Panics when
    /// it is in another state: fault plans are validated before they run, so that is a bug.
    fn transition(
        &mut self,
        node: NodeId,
        from: &[NodeState],
        to: NodeState,
        verb: &str,
    ) -> &mut NodeEntry {
        let entry = &mut self.nodes[node.0 as usize];
        assert!(
            from.contains(&entry.state),
            "{verb} of {} while it is {:?} (allowed from {from:?})",
            entry.name,
            entry.state
        );
        entry.state = to;
        entry
    }
}

/// Handle to the current run: create nodes, inject node and network faults.
#[derive(Clone)]
pub struct Sim {
    pub(crate) world: Arc<RunLock<World>>,
    seed: u64,
    /// Set when the run arms its first point fault: until then `reach` and `settle` (called
    /// on a broker's every request) return without taking the world's lock.
    pub(crate) points_armed: Arc<std::sync::atomic::AtomicBool>,
    /// Set once a message fault filtering responses by content is armed: from then on the
    /// network keeps each request's content for its response (`net::RequestContent`).
    response_filters_armed: Arc<std::sync::atomic::AtomicBool>,
}

impl Sim {
    pub(crate) fn new(seed: u64) -> Self {
        let supervisor = NodeEntry {
            name: "supervisor".to_string(),
            state: NodeState::Running,
            incarnation: 0,
            madsim_node: None,
            disks: Vec::new(),
            stop: Arc::default(),
            pending_halt: None,
        };
        let world = World {
            nodes: vec![supervisor],
            cut_links: Default::default(),
            rules: Vec::new(),
            point_rules: Vec::new(),
            lose_unsynced_on_crash: false,
            supervisor_tasks: Vec::new(),
        };
        Self {
            world: Arc::new(RunLock::new(world)),
            points_armed: Arc::default(),
            response_filters_armed: Arc::default(),
            seed,
        }
    }

    pub(crate) fn lock(&self) -> RunLockGuard<'_, World> {
        // A `RunLock` is never poisoned: after an invariant assertion fired while holding it
        // (they fire before any change, e.g. `World::transition`) the teardown carries on,
        // so that the run's report names that first panic.
        self.world.lock()
    }

    /// The seed of this run.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A random stream for `name`, derived from this run's seed.
    pub fn rng(&self, name: &str) -> rand_chacha::ChaCha8Rng {
        crate::rng::stream(self.seed, name)
    }

    /// Whether a crash loses writes that were not synced (default: false).
    pub fn set_lose_unsynced_on_crash(&self, lose: bool) {
        self.lock().lose_unsynced_on_crash = lose;
    }

    /// Creates a node. `init` runs now and again on every restart, with the node's id; the
    /// state it must keep across crashes has to live in objects it captures (see `disk`).
    pub fn add_node<F, Fut>(&self, name: &str, init: F) -> NodeId
    where
        F: Fn(NodeId) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let id = {
            let mut world = self.lock();
            assert!(
                world.nodes.iter().all(|n| n.name != name),
                "node name {name:?} used twice"
            );
            world.nodes.push(NodeEntry {
                name: name.to_string(),
                state: NodeState::Running,
                incarnation: 0,
                madsim_node: None,
                disks: Vec::new(),
                stop: Arc::default(),
                pending_halt: None,
            });
            NodeId(world.nodes.len() as u32 - 1)
        };
        let handle = madsim::runtime::Handle::current()
            .create_node()
            .name(name)
            .init(move || trace::keeping_poll_clock(init(id)))
            .build();
        self.lock().nodes[id.0 as usize].madsim_node = Some(handle);
        id
    }

    /// Registers storage that a crash of `node` affects.
    pub fn attach_disk(&self, node: NodeId, disk: Arc<dyn Crashable>) {
        self.lock().nodes[node.0 as usize].disks.push(disk);
    }

    /// Spawns a further task on `node`; it dies with the node.
    pub fn spawn_on<F>(&self, node: NodeId, fut: F) -> madsim::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if node == SUPERVISOR {
            return self.spawn_supervisor(fut);
        }
        // Looked up afresh: a restart gives the madsim node a new task set, and a handle
        // kept from before would spawn into the killed one (the task would never run).
        let handle = madsim::runtime::Handle::current()
            .get_node(self.madsim_id(node))
            .expect("node has a madsim handle");
        handle.spawn(trace::keeping_poll_clock(fut))
    }

    /// Spawns a task on the supervisor; it is aborted when the run ends.
    pub fn spawn_supervisor<F>(&self, fut: F) -> madsim::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let join = madsim::task::spawn(trace::keeping_poll_clock(fut));
        self.lock().supervisor_tasks.push(join.abort_handle());
        join
    }

    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.lock()
            .nodes
            .iter()
            .position(|n| n.name == name)
            .map(|i| NodeId(i as u32))
    }

    pub fn name(&self, node: NodeId) -> String {
        self.lock().nodes[node.0 as usize].name.clone()
    }

    pub fn node_names(&self) -> Vec<String> {
        self.lock().nodes.iter().map(|n| n.name.clone()).collect()
    }

    pub fn state(&self, node: NodeId) -> NodeState {
        self.lock().nodes[node.0 as usize].state
    }

    /// Current incarnation of `node` (bumped by each crash).
    pub fn incarnation(&self, node: NodeId) -> u32 {
        self.lock().nodes[node.0 as usize].incarnation
    }

    fn madsim_id(&self, node: NodeId) -> madsim::task::NodeId {
        assert_ne!(node, SUPERVISOR, "the supervisor cannot be faulted");
        self.lock().nodes[node.0 as usize]
            .madsim_node
            .as_ref()
            .expect("node has a madsim handle")
            .id()
    }

    /// Kills every task of `node`; its disks lose unsynced writes if the run says so.
    /// Panics if the node is already crashed (fault plans are validated before they run).
    pub fn crash(&self, node: NodeId) {
        let madsim_id = self.madsim_id(node);
        let (disks, lose) = {
            let mut world = self.lock();
            let lose = world.lose_unsynced_on_crash;
            let entry = world.transition(
                node,
                &[NodeState::Running, NodeState::Paused, NodeState::Stopping],
                NodeState::Crashed,
                "crash",
            );
            entry.incarnation += 1;
            (entry.disks.clone(), lose)
        };
        madsim::runtime::Handle::current().kill(madsim_id);
        for disk in disks {
            disk.crash(lose);
        }
        trace::record(node, TraceKind::Crash);
    }

    /// Restarts a crashed or stopped node: its `init` runs again on its durable state. A node
    /// still shutting down is cut short first.
    pub fn restart(&self, node: NodeId) {
        let madsim_id = self.madsim_id(node);
        if self.state(node) == NodeState::Stopping {
            self.end_life(node, NodeState::Stopped);
            trace::record(node, TraceKind::Stopped { forced: true });
        }
        {
            let mut world = self.lock();
            let entry = world.transition(
                node,
                &[NodeState::Crashed, NodeState::Stopped],
                NodeState::Running,
                "restart",
            );
            entry.stop = Arc::default();
            entry.pending_halt = None;
        }
        trace::record(node, TraceKind::Restart);
        madsim::runtime::Handle::current().restart(madsim_id);
    }

    /// Freezes a running node (a zombie in the making).
    pub fn pause(&self, node: NodeId) {
        let madsim_id = self.madsim_id(node);
        self.lock()
            .transition(node, &[NodeState::Running], NodeState::Paused, "pause");
        madsim::runtime::Handle::current().pause(madsim_id);
        trace::record(node, TraceKind::Pause);
    }

    /// Resumes a paused node: expired timers fire, buffered messages are handled.
    pub fn resume(&self, node: NodeId) {
        let madsim_id = self.madsim_id(node);
        self.lock()
            .transition(node, &[NodeState::Paused], NodeState::Running, "resume");
        madsim::runtime::Handle::current().resume(madsim_id);
        trace::record(node, TraceKind::Resume);
    }

    /// This life's shutdown request: what `stop` sets and the application polls.
    pub fn stop_signal(&self, node: NodeId) -> Arc<StopSignal> {
        self.lock().nodes[node.0 as usize].stop.clone()
    }

    /// Asks a running node to shut down cleanly (SIGTERM). It keeps running until its
    /// application calls `stopped`, or is killed after `grace_ms`.
    pub fn stop(&self, node: NodeId, grace_ms: u64) {
        let (signal, incarnation) = {
            let mut world = self.lock();
            let entry = world.transition(node, &[NodeState::Running], NodeState::Stopping, "stop");
            (entry.stop.clone(), entry.incarnation)
        };
        signal.requested.store(true, Ordering::Relaxed);
        trace::record(node, TraceKind::Stop);
        let sim = self.clone();
        self.spawn_supervisor(async move {
            madsim::time::sleep(Duration::from_millis(grace_ms)).await;
            let overdue = {
                let world = sim.lock();
                let entry = &world.nodes[node.0 as usize];
                entry.state == NodeState::Stopping && entry.incarnation == incarnation
            };
            if overdue {
                sim.end_life(node, NodeState::Stopped);
                trace::record(node, TraceKind::Stopped { forced: true });
            }
        });
    }

    /// The application of a stopping node finished its clean shutdown: the node ends (its
    /// disks keep everything: a clean shutdown syncs). Called from the node itself, which
    /// then awaits anything: its tasks are gone.
    pub fn stopped(&self, node: NodeId) {
        assert_eq!(
            self.state(node),
            NodeState::Stopping,
            "stopped without a stop request"
        );
        self.end_life(node, NodeState::Stopped);
        trace::record(node, TraceKind::Stopped { forced: false });
    }

    /// Ends the node's current life without losing any disk write: `state` becomes its state,
    /// messages to the ended life are dropped, its tasks are killed (madsim only flags them,
    /// so the caller may be one of them: it ends at its next await).
    fn end_life(&self, node: NodeId, state: NodeState) {
        let madsim_id = self.madsim_id(node);
        {
            let mut world = self.lock();
            let entry = &mut world.nodes[node.0 as usize];
            entry.state = state;
            entry.incarnation += 1;
        }
        madsim::runtime::Handle::current().kill(madsim_id);
    }

    /// Cuts every link between group `a` and group `b`, both ways.
    pub fn partition(&self, a: &[NodeId], b: &[NodeId]) {
        let mut world = self.lock();
        for &x in a {
            for &y in b {
                world.cut_links.insert((x, y));
                world.cut_links.insert((y, x));
            }
        }
    }

    /// Restores every cut link.
    pub fn heal_partitions(&self) {
        self.lock().cut_links.clear();
    }

    /// Adds a targeted message fault.
    pub fn add_rule(&self, rule: MessageRule) {
        if rule.filters_responses_by_content() {
            (self.response_filters_armed).store(true, std::sync::atomic::Ordering::Relaxed);
        }
        self.lock().rules.push(rule);
    }

    /// Whether a content-filtered response fault was armed in the run.
    pub(crate) fn response_filters_armed(&self) -> bool {
        (self.response_filters_armed).load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Marks the rule added last as plan fault `index`'s (`FaultPlan::execute`, right after
    /// applying a targeted fault).
    pub(crate) fn tag_new_rule(&self, index: u32) {
        if let Some(rule) = self.lock().rules.last_mut() {
            rule.fault = Some(index);
        }
    }

    /// Number of targeted message faults that have not been used up.
    pub fn pending_rules(&self) -> usize {
        self.lock().rules.len()
    }

    /// The healing phase begins: every partition healed, every message fault lifted, every
    /// paused node resumed and every crashed node restarted.
    pub fn heal_all(&self) {
        let (crashed, paused): (Vec<NodeId>, Vec<NodeId>) = {
            let mut world = self.lock();
            world.cut_links.clear();
            world.rules.clear();
            world.point_rules.clear();
            let ids = |state| {
                world
                    .nodes
                    .iter()
                    .enumerate()
                    .filter(move |(_, n)| n.state == state)
                    .map(|(i, _)| NodeId(i as u32))
                    .collect::<Vec<_>>()
            };
            let mut down = ids(NodeState::Crashed);
            down.extend(ids(NodeState::Stopped));
            down.extend(ids(NodeState::Stopping));
            down.sort();
            (down, ids(NodeState::Paused))
        };
        tracing::info!("heal: every fault lifted");
        trace::record(crate::node::SUPERVISOR, TraceKind::Heal);
        for node in paused {
            self.resume(node);
        }
        for node in crashed {
            self.restart(node);
        }
    }

    /// Ends the run's simulated processes so the runtime can be dropped without leaking
    /// tasks: aborts supervisor tasks and kills every node.
    pub(crate) fn teardown(&self) {
        let (tasks, ids) = {
            let mut world = self.lock();
            let tasks = std::mem::take(&mut world.supervisor_tasks);
            let ids: Vec<_> = world
                .nodes
                .iter()
                .filter_map(|n| n.madsim_node.as_ref().map(|h| h.id()))
                .collect();
            (tasks, ids)
        };
        for task in tasks {
            task.abort();
        }
        let handle = madsim::runtime::Handle::current();
        for id in ids {
            handle.kill(id);
        }
    }

    pub(crate) fn direction_matches(rule_dir: Direction, response: bool) -> bool {
        match rule_dir {
            Direction::Request => !response,
            Direction::Response => response,
        }
    }
}
