//! Typed request/response networking between nodes, with faults.
//!
//! Built beside madsim's network rather than on it, because eosim needs what madsim lacks:
//! TCP-like connections, duplicate delivery, holding a message and releasing it late, and
//! dropping a response *after* its request took effect (the lost ack).
//!
//! Connections. Calls from a client to a server travel on a connection (one per ordered pair
//! of nodes, replaced by a new *generation* when it breaks). A connection is FIFO in each
//! direction: a message's due time is `max(now + latency, previous due time on it)`. When the
//! network loses a message (a partition, random loss, a targeted drop, a lost ack, a crashed
//! destination) the connection breaks, as a TCP stream would: everything sent on it afterwards
//! is lost too, until the client notices. The client notices when a call times out: it closes
//! the connection, every other call still waiting on it fails at once (Kafka's client fails all
//! in-flight requests of a connection it closes), and the next call opens a new generation. So
//! a later request can never overtake a lost earlier one on the same connection, which is what
//! Kafka's idempotent producer relies on. A held message (`Delay`) stalls its connection: what
//! follows on it queues behind. A held request models a server that received it and handles
//! it late (a slow request handler; Kafka mutes a connection while one of its requests is
//! being handled, hence the stall): it survives the client closing the connection and is
//! handled after requests the client sent since on a new one — how a late Produce or EndTxn
//! happens (KAFKA-17754) — unless something sent before it on the connection was discarded
//! unread when it closed: the server reads a stream in order, so it never read that one either
//! (before this held, a held produce overtook an unread earlier one onto its partition and the
//! earlier one's retries were refused as out of order: produce-retries --swarm seed 17001540). A held response is in the network and dies with its connection. A
//! duplicated copy travels outside the connection order.
//!
//! TCP's promises, kept (DESIGN.md, "Faults are physically possible"): a message sent to a
//! node that is down is lost (no connection can be made), and so is everything behind it on
//! its stream, including what was already in flight when it was lost; so is a request to a
//! node that runs but has no server listening yet (connection refused: paused or restarted
//! before it opened its inbox); a crash of the server
//! resets the stream; when the client closes a connection (its call timed out) nothing still
//! in flight on it arrives; a restarted client opens new connections. A request takes effect
//! late only by being received and handled late (a paused or slow server), never by
//! travelling on a dead stream. Before this held, a request sent while a broker was down
//! could reach its next incarnation ahead of an earlier, lost one (idempotent-producer loss,
//! produce-retries seed 6940), and a held WriteTxnMarkers could arrive after the
//! coordinator's retry had completed the transaction (eos-test seed 633).
//!
//! Invariants: a message addressed to an earlier incarnation of a node (it crashed meanwhile)
//! is never delivered; a response reaches only the call that is still waiting for it; nothing
//! sent on a broken or replaced connection is delivered; a duplicated copy travels outside
//! the stream's order but not past a reset of its connection.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use madsim::time::Instant;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::task::{Poll, Waker};

use crate::chan::{self as mpsc, OneshotSender, oneshot_channel};

use crate::coverage::SimPoint;
use crate::node::{NodeId, SUPERVISOR, Sim};
use crate::resource::{Calendar, Servers};
use crate::run_lock::{RunLock, RunLockGuard};
use crate::trace::{self, DropReason, TraceKind, now as sim_now};

/// What a message is about, for content filters on message faults: each field the message
/// has (a field it lacks is `None`, and a filter on it does not match).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageContent<'a> {
    /// How it ends a transaction ("commit", "abort").
    pub result: Option<&'static str>,
    pub transactional_id: Option<&'a str>,
    /// The one partition it is about (`topic`, index).
    pub partition: Option<(&'a str, u32)>,
    /// The producer epoch it carries.
    pub epoch: Option<i64>,
}

/// A content filter of a message rule: every field given must match (`MessageContent`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContentFilter {
    pub result: Option<String>,
    pub transactional_id: Option<String>,
    /// `topic-index`, e.g. "events-0".
    pub partition: Option<String>,
    pub epoch: Option<i64>,
}

impl ContentFilter {
    /// Whether no field is filtered (then the content is never computed).
    pub fn is_empty(&self) -> bool {
        *self == ContentFilter::default()
    }

    pub fn matches(&self, content: &MessageContent<'_>) -> bool {
        self.result
            .as_deref()
            .is_none_or(|r| content.result == Some(r))
            && (self.transactional_id.as_deref())
                .is_none_or(|id| content.transactional_id == Some(id))
            && self.epoch.is_none_or(|e| content.epoch == Some(e))
            && self.partition.as_deref().is_none_or(|wanted| {
                content
                    .partition
                    .is_some_and(|(topic, index)| is_partition(wanted, topic, index))
            })
    }
}

/// Whether `wanted` ("events-0") names partition `index` of `topic`.
fn is_partition(wanted: &str, topic: &str, index: u32) -> bool {
    wanted
        .strip_prefix(topic)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|number| number.parse() == Ok(index))
}

/// A request's content, kept for its response while a content-filtered response fault is
/// armed: a response is matched by the content of the request it answers (an EndTxn(commit)'s
/// answer, a produce to `t0-1`'s acknowledgement).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContent {
    result: Option<&'static str>,
    transactional_id: Option<String>,
    partition: Option<(String, u32)>,
    epoch: Option<i64>,
}

impl RequestContent {
    fn of(content: &MessageContent<'_>) -> Self {
        Self {
            result: content.result,
            transactional_id: content.transactional_id.map(str::to_string),
            partition: content.partition.map(|(t, i)| (t.to_string(), i)),
            epoch: content.epoch,
        }
    }

    fn as_content(&self) -> MessageContent<'_> {
        MessageContent {
            result: self.result,
            transactional_id: self.transactional_id.as_deref(),
            partition: self.partition.as_ref().map(|(t, i)| (t.as_str(), *i)),
            epoch: self.epoch,
        }
    }
}

/// A message type the network can carry. `label` names the message kind for fault filters and
/// the trace (e.g. "produce").
pub trait Message: Clone + Send + std::hash::Hash + 'static {
    fn label(&self) -> &'static str;

    /// What it is about, for content filters (default: nothing).
    fn content(&self) -> MessageContent<'_> {
        MessageContent::default()
    }
    /// Records the message carries, for the cost model's transfer time (default 0).
    fn records(&self) -> u64 {
        0
    }
}

/// Which half of a call a fault targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    Request,
    Response,
}

/// What a targeted fault does to the messages it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleAction {
    Drop,
    Duplicate,
    /// Hold the message and deliver it this much later than it would have arrived.
    Delay {
        extra_ms: u64,
    },
}

/// A targeted fault: applies `action` to the next `remaining` messages that match.
#[derive(Clone, Debug)]
pub struct MessageRule {
    pub direction: Direction,
    pub from: Option<NodeId>,
    pub to: Option<NodeId>,
    pub label: Option<String>,
    /// Only messages with this content (requests: responses carry no content).
    pub content: ContentFilter,
    pub action: RuleAction,
    pub remaining: u32,
    /// The plan fault (index) this rule comes from, for the coverage of faults.
    pub fault: Option<u32>,
}

impl MessageRule {
    fn matches<Req: Message, Resp: Message>(
        &self,
        from: NodeId,
        to: NodeId,
        label: &str,
        body: &Body<Req, Resp>,
        request_content: Option<&RequestContent>,
    ) -> bool {
        let response = matches!(body, Body::Response(_));
        Sim::direction_matches(self.direction, response)
            && self.from.is_none_or(|f| f == from)
            && self.to.is_none_or(|t| t == to)
            && self.label.as_deref().is_none_or(|l| l == label)
            && (self.content.is_empty()
                || match (body, request_content) {
                    (Body::Request(request), _) => self.content.matches(&request.content()),
                    (Body::Response(_), Some(asked)) => self.content.matches(&asked.as_content()),
                    (Body::Response(response), None) => self.content.matches(&response.content()),
                })
    }

    /// Whether it filters responses by content (the requests' contents must then be kept).
    pub fn filters_responses_by_content(&self) -> bool {
        self.direction == Direction::Response && !self.content.is_empty()
    }
}

/// Link policy for every message, and the cost model. Defaults: latency 0.5–2 ms, no loss, no
/// costs (a message takes its drawn latency whatever it carries).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetConfig {
    /// Smallest one-way latency, microseconds.
    pub latency_min_us: u64,
    /// Largest one-way latency, microseconds.
    pub latency_max_us: u64,
    /// Probability that any one message is lost (0.0–1.0).
    pub loss: f64,
    /// Cost model: fixed time every message takes on top of its latency (request parsing,
    /// framing), microseconds. Default 0.
    pub message_overhead_us: u64,
    /// Cost model: bytes of one record (`Message::records`). Default 0.
    pub record_bytes: u64,
    /// Cost model: transfer time per KiB of records, microseconds (1 KiB/µs ≈ 1 GB/s).
    /// Default 0.
    pub transfer_us_per_kib: u64,
    /// Shared resources: each node's network link, megabits per second in each direction
    /// (its NIC). A message's bytes (`message_bytes` + records × `record_bytes`) occupy the
    /// sender's out-link and the receiver's in-link; messages that share a link queue (see
    /// `crate::resource`). Default 0: links without limit, messages never slow each other.
    pub link_mbit_per_s: u64,
    /// Shared resources: bytes of a message besides its records (headers, request fields),
    /// on the links. Default 0.
    pub message_bytes: u64,
    /// Shared resources: CPU time a client node (one that serves no requests) spends on
    /// each message it sends or receives (building or parsing a request, the client's
    /// network thread), microseconds; one message at a time per node. Default 0.
    pub client_message_us: u64,
    /// Shared resources: a client node's CPU time per record a message carries (serialising
    /// a produced record, deserialising and processing a fetched one), microseconds, on the
    /// same CPU as `client_message_us`. Default 0.
    pub client_record_us: u64,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            latency_min_us: 500,
            latency_max_us: 2_000,
            loss: 0.0,
            message_overhead_us: 0,
            record_bytes: 0,
            transfer_us_per_kib: 0,
            link_mbit_per_s: 0,
            message_bytes: 0,
            client_message_us: 0,
            client_record_us: 0,
        }
    }
}

impl NetConfig {
    /// What the cost model adds to a message carrying `records` records.
    pub fn cost(&self, records: u64) -> Duration {
        let bytes = records * self.record_bytes;
        Duration::from_micros(
            self.message_overhead_us + (bytes * self.transfer_us_per_kib).div_ceil(1024),
        )
    }

    /// Whether any shared resource is modelled (links or client CPUs); without one, a
    /// message's time is its latency and `cost` alone, as before resources existed.
    pub fn shares_resources(&self) -> bool {
        self.link_mbit_per_s > 0 || self.client_message_us > 0 || self.client_record_us > 0
    }

    /// Bytes of a message carrying `records` records, on the links.
    pub fn message_size(&self, records: u64) -> u64 {
        self.message_bytes + records * self.record_bytes
    }

    /// A client CPU's time for a message carrying `records` records.
    pub fn client_cpu(&self, records: u64) -> Duration {
        Duration::from_micros(self.client_message_us + records * self.client_record_us)
    }
}

/// Each node's shared resources (`NetConfig::shares_resources`), by node id: its out-link,
/// in-link and, for a client, its CPU.
#[derive(Default)]
struct NodeResources {
    out_link: Vec<Calendar<Instant>>,
    in_link: Vec<Calendar<Instant>>,
    cpu: Vec<Servers<Instant>>,
}

impl NodeResources {
    /// A node's link in `table`, made on first use, without the busy spans that ended by
    /// `now` (every booking arrives at or after the time it is made, so none can reach them).
    fn link(
        table: &mut Vec<Calendar<Instant>>,
        node: NodeId,
        now: Instant,
    ) -> &mut Calendar<Instant> {
        let i = node.0 as usize;
        if table.len() <= i {
            table.resize_with(i + 1, Calendar::default);
        }
        table[i].forget_before(now);
        &mut table[i]
    }

    /// A client node's CPU, one server, made on first use.
    fn cpu(&mut self, node: NodeId) -> &mut Servers<Instant> {
        let i = node.0 as usize;
        if self.cpu.len() <= i {
            self.cpu.resize_with(i + 1, || Servers::new(1));
        }
        &mut self.cpu[i]
    }

    /// When a message sent at `sent` (after the sender's `service`) reaches its receiver
    /// through the shared resources: the sender's CPU (a client), its out-link, the latency,
    /// the receiver's in-link (cut-through: the in-link takes the bytes as they arrive, so an
    /// idle path adds the transfer time once), the receiver's CPU (a client).
    fn arrival(
        &mut self,
        config: &NetConfig,
        hop: Hop,
        (now, sent): (Instant, Instant),
        latency: Duration,
    ) -> Instant {
        let Hop {
            from,
            to,
            records,
            client_sends,
            client_receives,
        } = hop;
        let cpu = config.client_cpu(records);
        let mut t = sent;
        if client_sends {
            t = self.cpu(from).serve(t, cpu);
        }
        let wire =
            crate::resource::transfer_time(config.message_size(records), config.link_mbit_per_s);
        if config.link_mbit_per_s > 0 {
            let out_done = Self::link(&mut self.out_link, from, now).serve(t, wire);
            let first_bit = out_done - wire + latency;
            t = Self::link(&mut self.in_link, to, now).serve(first_bit, wire);
        } else {
            t += latency;
        }
        if client_receives {
            t = self.cpu(to).serve(t, cpu);
        }
        t
    }
}

/// One message's way through the shared resources.
#[derive(Clone, Copy)]
struct Hop {
    from: NodeId,
    to: NodeId,
    records: u64,
    /// Whether the sender (receiver) is a client, whose CPU the message costs.
    client_sends: bool,
    client_receives: bool,
}

/// Message counts of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetStats {
    /// Messages handed to the network (requests + responses, duplicates included).
    pub sent: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub delayed: u64,
}

/// `NetStats` as the network counts them. Only the run's thread writes them (with the
/// network's `RunLock` held), by a load and a store rather than an atomic read-modify-write;
/// any thread may read them: a panicking run's counts are read by the thread that started it,
/// after the run's thread ended.
#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
    delayed: AtomicU64,
}

impl Counters {
    fn count(counter: &AtomicU64) {
        counter.store(counter.load(Relaxed) + 1, Relaxed);
    }

    fn snapshot(&self) -> NetStats {
        NetStats {
            sent: self.sent.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            duplicated: self.duplicated.load(Relaxed),
            delayed: self.delayed.load(Relaxed),
        }
    }
}

/// Why a call returned no response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No response within the timeout: the request may or may not have taken effect.
    #[error("request timed out")]
    Timeout,
    /// The connection was closed while the call waited (another call on it timed out): the
    /// request may or may not have taken effect.
    #[error("connection closed")]
    Disconnected,
}

/// A connection: from a client to a server, in one generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ConnId {
    client: NodeId,
    server: NodeId,
    generation: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct ConnState {
    generation: u64,
    /// A message on the current generation was lost: the stream is dead.
    broken: bool,
    /// Due time of the last message queued on it, per direction (to server, to client).
    last_due: [Option<Instant>; 2],
    /// Per direction, the send order (`InFlight::seq`) of the first message lost at delivery
    /// (its destination was down): what travels behind it on the stream is lost too.
    lost_from_seq: [Option<u64>; 2],
    /// Incarnations of (client, server) when this generation was opened. A client's new
    /// incarnation opens a new generation (a new process has new sockets); a server that
    /// crashed since the opening has reset the stream (nothing more gets through it).
    opened: Option<(u32, u32)>,
}

impl ConnState {
    /// The generation a client's call goes out on. A client in a new incarnation opens a new
    /// generation; a server that crashed since the generation was opened (its incarnation
    /// moved) or that is down now breaks it: the call is lost, and so is everything after it
    /// until the client's timeout closes the connection.
    fn open(&mut self, client_incarnation: u32, server_incarnation: u32, server_down: bool) -> u64 {
        match self.opened {
            None => self.opened = Some((client_incarnation, server_incarnation)),
            Some((client, _)) if client != client_incarnation => {
                *self = ConnState {
                    generation: self.generation + 1,
                    opened: Some((client_incarnation, server_incarnation)),
                    ..ConnState::default()
                };
            }
            Some(_) => {}
        }
        if server_down
            || self
                .opened
                .is_some_and(|(_, server)| server != server_incarnation)
        {
            self.broken = true;
        }
        self.generation
    }

    /// Whether a message sent on `generation` may still travel: the stream was not replaced,
    /// and no message on it was lost.
    fn carries(&self, generation: u64) -> bool {
        self.generation == generation && !self.broken
    }
}

/// Where to send the response to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyTo {
    pub node: NodeId,
    incarnation: u32,
    call: u64,
    conn: ConnId,
}

/// A request delivered to a serving node.
#[derive(Debug)]
pub struct Incoming<Req> {
    pub request: Req,
    pub reply_to: ReplyTo,
}

enum Body<Req, Resp> {
    Request(Req),
    Response(Resp),
}

struct Envelope<Req, Resp> {
    from: NodeId,
    to: NodeId,
    /// Incarnation of the destination when sent.
    to_incarnation: u32,
    from_incarnation: u32,
    call: u64,
    conn: ConnId,
    /// A copy made by a duplicate fault: travels outside the connection.
    stray: bool,
    /// A request a `Delay` fault holds at the server: received, handled late (a slow request
    /// handler). It outlives its connection (Kafka handles a request it has read even if the
    /// client has since closed the connection), not the server's incarnation.
    received: bool,
    label: &'static str,
    body: Body<Req, Resp>,
    /// A response's request content, kept only while a content-filtered response fault is
    /// armed.
    request_content: Option<Box<RequestContent>>,
}

impl<Req: Message, Resp: Message> Envelope<Req, Resp> {
    /// The trace's digest of the message's content.
    fn content_digest(&self) -> u64 {
        match &self.body {
            Body::Request(request) => trace::content_digest(request),
            Body::Response(response) => trace::content_digest(response),
        }
    }

    /// Records the message carries, for the cost model.
    fn records(&self) -> u64 {
        match &self.body {
            Body::Request(request) => request.records(),
            Body::Response(response) => response.records(),
        }
    }
}

impl<Req: Clone, Resp: Clone> Envelope<Req, Resp> {
    fn duplicate(&self) -> Box<Self> {
        Box::new(Self {
            from: self.from,
            to: self.to,
            to_incarnation: self.to_incarnation,
            from_incarnation: self.from_incarnation,
            call: self.call,
            conn: self.conn,
            stray: true,
            received: self.received,
            label: self.label,
            body: match &self.body {
                Body::Request(r) => Body::Request(r.clone()),
                Body::Response(r) => Body::Response(r.clone()),
            },
            request_content: self.request_content.clone(),
        })
    }
}

struct Waiter<Resp> {
    node: NodeId,
    incarnation: u32,
    conn: ConnId,
    reply: Reply<Resp>,
}

/// Where a call's outcome goes.
enum Reply<Resp> {
    /// An `async` caller waiting on this one call.
    Once(OneshotSender<Result<Resp, CallError>>),
    /// A client that multiplexes many calls over one channel, tagging each.
    Sink(CallSink<Resp>, u64),
}

/// The receiving end's sender for `Net::start_call`: outcomes arrive as (tag, result).
pub type CallSink<Resp> = mpsc::UnboundedSender<(u64, Result<Resp, CallError>)>;

impl<Resp> Reply<Resp> {
    /// Delivers the outcome; false if nobody listens any more.
    fn send(self, outcome: Result<Resp, CallError>) -> bool {
        match self {
            Reply::Once(tx) => tx.send(outcome).is_ok(),
            Reply::Sink(tx, tag) => tx.send((tag, outcome)).is_ok(),
        }
    }
}

/// A message in flight, ordered by (due time, send order) alone: the keys are unique.
struct InFlight<Req, Resp> {
    due: Instant,
    seq: u64,
    envelope: Box<Envelope<Req, Resp>>,
}

impl<Req, Resp> PartialEq for InFlight<Req, Resp> {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}

impl<Req, Resp> Eq for InFlight<Req, Resp> {}

impl<Req, Resp> PartialOrd for InFlight<Req, Resp> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<Req, Resp> Ord for InFlight<Req, Resp> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// Calls waiting for their outcome, by call id. Ids are handed out one by one in increasing
/// order, so a deque from the oldest id still waiting replaces a map; iteration is in id
/// order, as a map's.
struct Waiters<Resp> {
    /// Call id of `slots[0]`.
    first: u64,
    slots: VecDeque<Option<Waiter<Resp>>>,
}

impl<Resp> Waiters<Resp> {
    fn new() -> Self {
        Self {
            first: 0,
            slots: VecDeque::new(),
        }
    }

    fn insert(&mut self, call: u64, waiter: Waiter<Resp>) {
        if self.slots.is_empty() {
            self.first = call;
        }
        let index = call.checked_sub(self.first).expect("call ids increase") as usize;
        while self.slots.len() < index {
            self.slots.push_back(None);
        }
        assert_eq!(self.slots.len(), index, "call ids increase");
        self.slots.push_back(Some(waiter));
    }

    fn remove(&mut self, call: u64) -> Option<Waiter<Resp>> {
        let index = call.checked_sub(self.first)? as usize;
        let waiter = self.slots.get_mut(index)?.take();
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.first += 1;
        }
        waiter
    }

    fn contains(&self, call: u64) -> bool {
        call.checked_sub(self.first)
            .and_then(|index| self.slots.get(index as usize))
            .is_some_and(Option::is_some)
    }

    /// Each waiting call with its id, in id order.
    fn iter(&self) -> impl Iterator<Item = (u64, &Waiter<Resp>)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.as_ref().map(|w| (self.first + i as u64, w)))
    }
}

/// Connection states by (client, server): a table indexed by node ids (a run has a few
/// nodes), a connection never used reads as the default state, as a map's `or_default` would.
#[derive(Default)]
struct Conns {
    by_client: Vec<Vec<ConnState>>,
}

impl Conns {
    fn get(&mut self, (client, server): (NodeId, NodeId)) -> &mut ConnState {
        let (c, s) = (client.0 as usize, server.0 as usize);
        if self.by_client.len() <= c {
            self.by_client.resize_with(c + 1, Vec::new);
        }
        let row = &mut self.by_client[c];
        if row.len() <= s {
            row.resize_with(s + 1, ConnState::default);
        }
        &mut row[s]
    }
}

struct NetState<Req, Resp> {
    config: NetConfig,
    /// Messages in flight, earliest (due time, send order) first. A heap of boxed entries:
    /// cheaper than a B-tree's insert and remove.
    queue: BinaryHeap<Reverse<InFlight<Req, Resp>>>,
    next_seq: u64,
    next_call: u64,
    /// Connections by (client, server).
    conns: Conns,
    /// Request inboxes of serving nodes, with the incarnation they belong to.
    inboxes: Vec<Option<(u32, mpsc::UnboundedSender<Incoming<Req>>)>>,
    waiters: Waiters<Resp>,
    /// Call deadlines, earliest first, expired by the delivery loop (cheaper than a madsim
    /// timer per call, which madsim cannot cancel once the call is answered). A heap with
    /// lazy deletion (cheaper than a B-tree set's insert and remove): an answered call's
    /// entry stays until it reaches the top, where `drop_answered_deadlines` discards it.
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Calls answered for an earlier incarnation of the caller: the waiter is gone, yet the
    /// deadline still counts as pending until it passes (the delivery loop wakes then and
    /// finds nothing to do). Rare; kept so that runs replay exactly as they always have.
    orphaned_deadlines: Vec<u64>,
    /// Per closed connection generation (client, server, generation): the send order of the
    /// first request discarded unread when it closed. A request held at the server behind it
    /// was never read either (TCP delivers a stream in order, and Kafka reads a connection's
    /// next request only after answering the one before), so it is discarded too.
    unread_from: BTreeMap<(NodeId, NodeId, u64), u64>,
    /// The contents of requests delivered while a content-filtered response fault was armed,
    /// by call, until their response is sent (`RequestContent`).
    request_contents: BTreeMap<u64, RequestContent>,
    rng: ChaCha8Rng,
    /// The nodes' shared resources (used only when `config.shares_resources()`).
    resources: NodeResources,
    /// The delivery loop's wake-up, with the semantics of a `tokio::sync::Notify` that only
    /// that loop waits on: a wake-up while it waits wakes it; one while it is busy is kept as
    /// a permit for its next wait. Cheaper than `Notify` (no waiter list, no future per turn).
    woken: bool,
    /// The delivery loop's waker while it waits (taken by the wake-up that wakes it).
    waiting: Option<Waker>,
}

/// The typed network of a run. Cheap to clone.
pub struct Net<Req, Resp> {
    state: Arc<RunLock<NetState<Req, Resp>>>,
    /// Message counts, outside the lock: readable from any thread.
    stats: Arc<Counters>,
    sim: Sim,
}

impl<Req, Resp> Clone for Net<Req, Resp> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            stats: self.stats.clone(),
            sim: self.sim.clone(),
        }
    }
}

impl<Req: Message, Resp: Message> Net<Req, Resp> {
    /// Creates the network and starts its delivery loop on the supervisor.
    pub fn new(sim: &Sim, config: NetConfig) -> Self {
        assert!(
            config.latency_min_us <= config.latency_max_us,
            "latency range is empty"
        );
        assert!(
            (0.0..=1.0).contains(&config.loss),
            "loss must be a probability"
        );
        let state = NetState {
            config,
            queue: BinaryHeap::new(),
            next_seq: 0,
            next_call: 0,
            conns: Conns::default(),
            inboxes: Vec::new(),
            waiters: Waiters::new(),
            deadlines: BinaryHeap::new(),
            orphaned_deadlines: Vec::new(),
            request_contents: BTreeMap::new(),
            unread_from: BTreeMap::new(),
            rng: sim.rng("network"),
            resources: NodeResources::default(),
            woken: false,
            waiting: None,
        };
        let net = Self {
            state: Arc::new(RunLock::new(state)),
            stats: Arc::default(),
            sim: sim.clone(),
        };
        let runner = net.clone();
        sim.spawn_supervisor(async move { runner.delivery_loop().await });
        net
    }

    fn lock(&self) -> RunLockGuard<'_, NetState<Req, Resp>> {
        self.state.lock()
    }

    /// Wakes the delivery loop (or leaves it a permit if it is not waiting).
    fn wake_delivery(&self) {
        let waker = {
            let mut state = self.lock();
            state.woken = true;
            state.waiting.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The run this network belongs to.
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// The link policy and cost model this network was made with.
    pub fn config(&self) -> NetConfig {
        self.lock().config.clone()
    }

    /// Message counts so far.
    pub fn stats(&self) -> NetStats {
        self.stats.snapshot()
    }

    /// Reads the message counts from any thread, holding only the counters: unlike a `Net`
    /// clone, it owns no channel end or run-locked state, so it may outlive the run (a
    /// panicked run's counts are read, and the reader dropped, on the thread that started it;
    /// dropping the network's state there would take its `RunLock` off the run's thread).
    pub fn stats_reader(&self) -> impl Fn() -> NetStats + Send + Sync + 'static {
        let counters = Arc::clone(&self.stats);
        move || counters.snapshot()
    }

    /// Books a replicated write's traffic on the links (`NetConfig::link_mbit_per_s`): from
    /// `ready`, the leader's out-link carries `bytes` to each follower in turn (each follower
    /// fetches on its own connection) and each follower's in-link takes them as they arrive
    /// (cut-through, as `NodeResources::arrival`). Returns when the last follower has them;
    /// `ready` without links or followers. The fetch's latency is not added: the caller's
    /// durability wait (`sync_us`) stands for the follower round trip. Draws nothing random,
    /// sends no message: only the links' bookings change.
    pub fn replicate(
        &self,
        leader: NodeId,
        followers: &[NodeId],
        bytes: u64,
        ready: Instant,
    ) -> Instant {
        let mut state = self.lock();
        let mbit_per_s = state.config.link_mbit_per_s;
        if mbit_per_s == 0 {
            return ready;
        }
        let (wire, now) = (crate::resource::transfer_time(bytes, mbit_per_s), sim_now());
        let resources = &mut state.resources;
        let mut replicated = ready;
        for &follower in followers {
            let out_link = NodeResources::link(&mut resources.out_link, leader, now);
            let sent = out_link.serve(ready, wire);
            let in_link = NodeResources::link(&mut resources.in_link, follower, now);
            let received = in_link.serve(sent - wire, wire);
            replicated = replicated.max(received);
        }
        replicated
    }

    /// Opens `node`'s request inbox for its current incarnation. Call it from the node's
    /// `init`: requests that arrive while no inbox is open (or for an earlier incarnation)
    /// are dropped.
    pub fn serve(&self, node: NodeId) -> mpsc::UnboundedReceiver<Incoming<Req>> {
        let incarnation = self.sim.incarnation(node);
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = self.lock();
        let index = node.0 as usize;
        if state.inboxes.len() <= index {
            state.inboxes.resize_with(index + 1, || None);
        }
        state.inboxes[index] = Some((incarnation, tx));
        rx
    }

    /// Sends `request` from `from` to `to` and waits up to `timeout` for the response. On a
    /// timeout the connection is closed (see the module docs).
    pub async fn call(
        &self,
        from: NodeId,
        to: NodeId,
        request: Req,
        timeout: Duration,
    ) -> Result<Resp, CallError> {
        let (reply, response) = oneshot_channel();
        self.start(from, to, request, timeout, Reply::Once(reply));
        // A dropped sender (the run is being torn down) reads as a closed connection.
        response.await.unwrap_or(Err(CallError::Disconnected))
    }

    /// Starts a call without waiting: its outcome (the response, or the timeout or
    /// disconnection) arrives on `sink` tagged with `tag`. For clients that keep many calls in
    /// flight; cheaper than one future per call.
    pub fn start_call(
        &self,
        from: NodeId,
        to: NodeId,
        request: Req,
        timeout: Duration,
        sink: &CallSink<Resp>,
        tag: u64,
    ) {
        self.start(from, to, request, timeout, Reply::Sink(sink.clone(), tag));
    }

    fn start(&self, from: NodeId, to: NodeId, request: Req, timeout: Duration, reply: Reply<Resp>) {
        let (from_incarnation, to_incarnation, to_down) = {
            let world = self.sim.lock();
            let server = &world.nodes[to.0 as usize];
            (
                world.nodes[from.0 as usize].incarnation,
                server.incarnation,
                server.state.is_down(),
            )
        };
        let deadline = sim_now() + timeout;
        let (call, conn, earliest) = {
            let mut state = self.lock();
            let call = state.next_call;
            state.next_call += 1;
            let generation =
                state
                    .conns
                    .get((from, to))
                    .open(from_incarnation, to_incarnation, to_down);
            let conn = ConnId {
                client: from,
                server: to,
                generation,
            };
            let earliest = state.next_wake().is_none_or(|t| deadline < t);
            state.waiters.insert(
                call,
                Waiter {
                    node: from,
                    incarnation: from_incarnation,
                    conn,
                    reply,
                },
            );
            state.deadlines.push(Reverse((deadline, call)));
            (call, conn, earliest)
        };
        if earliest {
            self.wake_delivery();
        }
        let label = request.label();
        self.route(
            Box::new(Envelope {
                from,
                to,
                to_incarnation,
                from_incarnation,
                call,
                conn,
                stray: false,
                received: false,
                label,
                body: Body::Request(request),
                request_content: None,
            }),
            Duration::ZERO,
        );
    }

    /// Calls whose deadline has passed time out; each closes its connection: every other
    /// call still waiting on it fails with `Disconnected`, and the next call opens a new
    /// generation.
    fn expire_calls(&self, now: Instant) {
        let mut state = self.lock();
        while let Some(&Reverse((deadline, call))) = state.deadlines.peek() {
            if deadline > now {
                return;
            }
            state.deadlines.pop();
            if !state.orphaned_deadlines.is_empty() {
                state.orphaned_deadlines.retain(|&c| c != call);
            }
            let Some(waiter) = state.waiters.remove(call) else {
                continue;
            };
            let conn = waiter.conn;
            let _ = waiter.reply.send(Err(CallError::Timeout));
            let current = state.conns.get((conn.client, conn.server));
            if current.generation != conn.generation {
                continue; // already closed by another call's timeout
            }
            *current = ConnState {
                generation: conn.generation + 1,
                ..ConnState::default()
            };
            let closed: Vec<u64> = state
                .waiters
                .iter()
                .filter(|(_, w)| w.conn == conn)
                .map(|(c, _)| c)
                .collect();
            for other in closed {
                let waiter = state.waiters.remove(other).expect("listed above");
                let _ = waiter.reply.send(Err(CallError::Disconnected));
            }
        }
    }

    /// Sends the response to a request that `server` received.
    pub fn reply(&self, server: NodeId, reply_to: ReplyTo, response: Resp) {
        self.reply_after(server, reply_to, response, Duration::ZERO);
    }

    /// Answers a request after `service` of server-side work (e.g. a disk sync the cost
    /// model charges), on top of the response's own latency and cost.
    pub fn reply_after(
        &self,
        server: NodeId,
        reply_to: ReplyTo,
        response: Resp,
        service: Duration,
    ) {
        let from_incarnation = self.sim.incarnation(server);
        let label = response.label();
        let request_content = if self.sim.response_filters_armed() {
            (self.lock().request_contents.remove(&reply_to.call)).map(Box::new)
        } else {
            None
        };
        self.route(
            Box::new(Envelope {
                from: server,
                to: reply_to.node,
                to_incarnation: reply_to.incarnation,
                from_incarnation,
                call: reply_to.call,
                conn: reply_to.conn,
                stray: false,
                received: false,
                label,
                body: Body::Response(response),
                request_content,
            }),
            service,
        );
    }

    /// Applies connection state, link policy and targeted faults, then queues the message
    /// (or not). The envelope is boxed once here and stays in its box until delivered.
    fn route(&self, mut envelope: Box<Envelope<Req, Resp>>, service: Duration) {
        let response = matches!(envelope.body, Body::Response(_));
        let (from, to, call, label) = (envelope.from, envelope.to, envelope.call, envelope.label);
        let content = envelope.content_digest();
        trace::record(
            from,
            TraceKind::Send {
                to,
                call,
                label,
                response,
                content,
            },
        );
        let conn_key = (envelope.conn.client, envelope.conn.server);
        // One lock for the whole routing decision (`link_faults` takes the world's lock inside
        // it; nothing takes the two the other way round).
        let mut state = self.lock();
        let conn_dead = !state.conns.get(conn_key).carries(envelope.conn.generation);
        // Faults apply only to messages that would otherwise travel: a message on a dead
        // connection does not use up a targeted fault.
        let (cut, action) = if conn_dead {
            (false, None)
        } else {
            let asked = envelope.request_content.as_deref();
            self.link_faults(from, to, label, &envelope.body, asked)
        };
        Counters::count(&self.stats.sent);
        if let Some(reason) = state.drop_reason(conn_dead, cut, action) {
            Counters::count(&self.stats.dropped);
            if !conn_dead {
                state.conns.get(conn_key).broken = true;
                SimPoint::ConnectionBroken.hit();
            }
            drop(state);
            trace::record(
                from,
                TraceKind::Drop {
                    to,
                    call,
                    label,
                    response,
                    reason,
                },
            );
            return;
        }
        let arrival = state.arrival(from, to, envelope.records(), service);
        let extra = match action {
            Some(RuleAction::Delay { extra_ms }) => self.hold(&mut envelope, extra_ms),
            _ => Duration::ZERO,
        };
        let due = state.fifo_due(conn_key, response, arrival + extra);
        if action == Some(RuleAction::Duplicate) {
            self.enqueue_duplicate(&mut state, &envelope, due);
        }
        let earliest = state.enqueue(due, envelope);
        drop(state);
        if earliest {
            self.wake_delivery();
        }
    }

    /// A `Delay` fault's hold on a message: how much later it arrives.
    fn hold(&self, envelope: &mut Envelope<Req, Resp>, extra_ms: u64) -> Duration {
        let response = matches!(envelope.body, Body::Response(_));
        Counters::count(&self.stats.delayed);
        // A held request is one the server received and handles late; a held response is
        // still in the network (and dies with its connection).
        envelope.received = !response;
        trace::record(
            envelope.from,
            TraceKind::Delay {
                to: envelope.to,
                call: envelope.call,
                label: envelope.label,
                response,
                extra_ms,
            },
        );
        Duration::from_millis(extra_ms)
    }

    /// A `Duplicate` fault's copy of a message due at `due`: it travels outside the
    /// connection, a freshly drawn latency after the original.
    fn enqueue_duplicate(
        &self,
        state: &mut NetState<Req, Resp>,
        envelope: &Envelope<Req, Resp>,
        due: Instant,
    ) {
        Counters::count(&self.stats.duplicated);
        Counters::count(&self.stats.sent);
        trace::record(
            envelope.from,
            TraceKind::Duplicate {
                to: envelope.to,
                call: envelope.call,
                label: envelope.label,
                response: matches!(envelope.body, Body::Response(_)),
            },
        );
        let copy_due = due + state.latency();
        let copy = envelope.duplicate();
        state.enqueue(copy_due, copy);
    }

    /// Whether the link is cut, and the targeted fault (if any) that takes this message.
    fn link_faults(
        &self,
        from: NodeId,
        to: NodeId,
        label: &str,
        body: &Body<Req, Resp>,
        request_content: Option<&RequestContent>,
    ) -> (bool, Option<RuleAction>) {
        let mut world = self.sim.lock();
        if world.rules.is_empty() && world.cut_links.is_empty() {
            return (false, None);
        }
        if world.cut_links.contains(&(from, to)) {
            return (true, None);
        }
        let Some(i) = world
            .rules
            .iter()
            .position(|r| r.matches(from, to, label, body, request_content))
        else {
            return (false, None);
        };
        let rule = &mut world.rules[i];
        let action = rule.action;
        if let Some(fault) = rule.fault {
            crate::coverage::fault_used(fault);
        }
        rule.remaining -= 1;
        if rule.remaining == 0 {
            world.rules.remove(i);
        }
        (false, Some(action))
    }

    async fn delivery_loop(self) {
        let mut alarm = crate::alarm::Alarm::new();
        loop {
            let next_wake = self.lock().next_wake();
            let now = sim_now();
            if next_wake.is_some_and(|at| at <= now) {
                self.deliver_due(now);
                self.expire_calls(now);
                continue;
            }
            // Wake then, or earlier if something earlier is queued (a wake-up first, as a
            // biased select would).
            alarm.set(next_wake);
            std::future::poll_fn(|cx| {
                {
                    let mut state = self.lock();
                    if std::mem::take(&mut state.woken) {
                        return Poll::Ready(());
                    }
                    match &mut state.waiting {
                        Some(w) => w.clone_from(cx.waker()),
                        slot => *slot = Some(cx.waker().clone()),
                    }
                }
                alarm.poll_fired(cx)
            })
            .await;
        }
    }

    fn deliver_due(&self, now: Instant) {
        loop {
            let envelope = {
                let mut state = self.lock();
                match state.queue.peek() {
                    Some(Reverse(first)) if first.due <= now => {
                        let first = state.queue.pop().expect("peeked").0;
                        (first.seq, *first.envelope)
                    }
                    _ => return,
                }
            };
            self.deliver(envelope.0, envelope.1);
        }
    }

    fn deliver(&self, seq: u64, envelope: Envelope<Req, Resp>) {
        let (from, to, call, label) = (envelope.from, envelope.to, envelope.call, envelope.label);
        let (conn, stray, received) = (envelope.conn, envelope.stray, envelope.received);
        let to_incarnation = envelope.to_incarnation;
        let (down, current_incarnation) = self.destination_down(to, to_incarnation);
        let response = matches!(envelope.body, Body::Response(_));
        let mut state = self.lock();
        let StreamAtArrival {
            closed,
            reset,
            behind_lost,
        } = state.stream_at_arrival(seq, conn, response, stray, received);
        // A running node that is not serving refuses the request: a loss on the stream like
        // any other, so nothing behind it on the connection may arrive either. (Before this
        // held, a producer's seq-0 produce to a broker paused before it bound its server was
        // dropped while its seq-1 produce on the same connection was appended after the
        // resume, and the seq-0 retry was refused as out of order: produce-retries --swarm
        // seed 27002826.)
        let refused = !down && !response && !state.is_serving(to, current_incarnation);
        if reset && !response && !stray {
            state.note_unread(conn, seq);
        }
        if down || refused || reset || behind_lost {
            Counters::count(&self.stats.dropped);
            if down {
                SimPoint::DeliveryToDownNode.hit();
            }
            if !reset && !stray && !received {
                state.lose_on_stream(conn, response, seq);
            }
            drop(state);
            let reason = match (down, refused) {
                (true, _) => DropReason::DestinationDown,
                (false, true) => DropReason::NotListening,
                (false, false) => DropReason::ConnectionBroken,
            };
            trace_arrival(from, to, call, label, response, Err(reason));
            return;
        }
        if received && closed {
            // Held at the server (a delay fault) past the close of its connection: it still
            // takes effect, late.
            SimPoint::HeldRequestAfterClose.hit();
        }
        let delivered = match envelope.body {
            Body::Request(request) => {
                let reply_to = ReplyTo {
                    node: from,
                    incarnation: envelope.from_incarnation,
                    call,
                    conn,
                };
                self.hand_over_request(&mut state, to, request, reply_to)
            }
            Body::Response(resp) => state.hand_over_response(call, to, to_incarnation, resp),
        };
        match delivered {
            Ok(()) => Counters::count(&self.stats.delivered),
            Err(_) => Counters::count(&self.stats.dropped),
        }
        drop(state);
        trace_arrival(from, to, call, label, response, delivered);
    }

    /// Whether the destination `to` is down or no longer the incarnation a message was sent
    /// to, and its current incarnation.
    fn destination_down(&self, to: NodeId, to_incarnation: u32) -> (bool, u32) {
        let (to_state, current_incarnation) = {
            let world = self.sim.lock();
            let n = &world.nodes[to.0 as usize];
            (n.state, n.incarnation)
        };
        let down = to_state.is_down() || current_incarnation != to_incarnation;
        (down, current_incarnation)
    }

    /// Puts a request into the serving node's inbox, keeping its content while a
    /// content-filtered response fault is armed.
    fn hand_over_request(
        &self,
        state: &mut NetState<Req, Resp>,
        to: NodeId,
        request: Req,
        reply_to: ReplyTo,
    ) -> Result<(), DropReason> {
        if self.sim.response_filters_armed() {
            let content = RequestContent::of(&request.content());
            state.request_contents.insert(reply_to.call, content);
        }
        let (_, inbox) = state.inboxes[to.0 as usize]
            .as_ref()
            .expect("a request is delivered only to a serving node (checked above)");
        inbox
            .send(Incoming { request, reply_to })
            .map_err(|_| DropReason::NotListening)
    }
}

/// Where a message arriving at its destination stands on its connection.
struct StreamAtArrival {
    /// The connection generation it was sent on has been replaced.
    closed: bool,
    /// Lost with its connection: sent on a closed one and not held at the server, or held
    /// behind a request the closed connection never read.
    reset: bool,
    /// Behind a message its (still open) stream lost: TCP delivers nothing after a loss.
    behind_lost: bool,
}

/// Records a message's arrival at `to`: delivered, or dropped for a reason.
fn trace_arrival(
    from: NodeId,
    to: NodeId,
    call: u64,
    label: &'static str,
    response: bool,
    outcome: Result<(), DropReason>,
) {
    match outcome {
        Ok(()) => trace::record(
            to,
            TraceKind::Deliver {
                from,
                call,
                label,
                response,
            },
        ),
        Err(reason) => trace::record(
            to,
            TraceKind::Drop {
                to,
                call,
                label,
                response,
                reason,
            },
        ),
    }
}

impl<Req, Resp> NetState<Req, Resp> {
    /// Whether `node` has a request inbox open for `incarnation` (its server is listening).
    fn is_serving(&self, node: NodeId, incarnation: u32) -> bool {
        self.inboxes
            .get(node.0 as usize)
            .and_then(|inbox| inbox.as_ref())
            .is_some_and(|(life, tx)| *life == incarnation && !tx.is_closed())
    }

    /// Whether `node` has ever opened a request inbox (a server, not a client), for the
    /// shared resources: a client's CPU is charged per message, a server's is its own
    /// (`crate::resource` in the server's loop).
    fn is_server(&self, node: NodeId) -> bool {
        self.inboxes
            .get(node.0 as usize)
            .is_some_and(|inbox| inbox.is_some())
    }

    /// When the delivery loop must act next: the next message due or call deadline.
    fn next_wake(&mut self) -> Option<Instant> {
        self.drop_answered_deadlines();
        let message = self.queue.peek().map(|Reverse(first)| first.due);
        let deadline = self.deadlines.peek().map(|Reverse(d)| d.0);
        match (message, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Discards the top deadlines of calls no longer pending (answered, or closed by another
    /// call's timeout), so that the top is the earliest pending one.
    fn drop_answered_deadlines(&mut self) {
        while let Some(&Reverse((_, call))) = self.deadlines.peek() {
            if self.waiters.contains(call) || self.orphaned_deadlines.contains(&call) {
                return;
            }
            self.deadlines.pop();
        }
    }

    /// Where a message (send order `seq`) arriving now stands on its connection.
    fn stream_at_arrival(
        &mut self,
        seq: u64,
        conn: ConnId,
        response: bool,
        stray: bool,
        received: bool,
    ) -> StreamAtArrival {
        assert!(
            !(received && response),
            "only a request is held at the server"
        );
        let direction = response as usize;
        let (closed, behind_lost_on_stream) = {
            let c = self.conns.get((conn.client, conn.server));
            (
                c.generation != conn.generation,
                c.broken && c.lost_from_seq[direction].is_some_and(|lost| lost < seq),
            )
        };
        // A request held at the server was received before its connection closed (only a
        // crash loses it), unless something sent before it on the connection was never read:
        // then neither was it.
        let unread_ahead = received
            && !stray
            && if closed {
                self.unread_from
                    .get(&(conn.client, conn.server, conn.generation))
                    .is_some_and(|&first| first < seq)
            } else {
                behind_lost_on_stream
            };
        let reset = (!received && closed) || unread_ahead;
        let behind_lost = !stray && !received && !reset && behind_lost_on_stream;
        StreamAtArrival {
            closed,
            reset,
            behind_lost,
        }
    }

    /// A request (send order `seq`) discarded unread with its closed connection: requests
    /// held at the server behind it were never read either.
    fn note_unread(&mut self, conn: ConnId, seq: u64) {
        let first = self
            .unread_from
            .entry((conn.client, conn.server, conn.generation))
            .or_insert(seq);
        *first = (*first).min(seq);
    }

    /// A message (send order `seq`) lost at delivery: a TCP stream that lost a message
    /// delivers nothing behind it.
    fn lose_on_stream(&mut self, conn: ConnId, response: bool, seq: u64) {
        let c = self.conns.get((conn.client, conn.server));
        if !c.broken {
            SimPoint::ConnectionBroken.hit();
        }
        c.broken = true;
        let lost = &mut c.lost_from_seq[response as usize];
        *lost = Some(lost.map_or(seq, |l| l.min(seq)));
    }

    /// Hands a response to the waiter of its call, if the caller's incarnation it was sent
    /// to still waits for it.
    fn hand_over_response(
        &mut self,
        call: u64,
        to: NodeId,
        to_incarnation: u32,
        resp: Resp,
    ) -> Result<(), DropReason> {
        let waiter = self.waiters.remove(call);
        let accepted = match waiter {
            Some(w) if w.node == to && w.incarnation == to_incarnation => w.reply.send(Ok(resp)),
            Some(_) => {
                self.orphaned_deadlines.push(call);
                false
            }
            None => false,
        };
        if accepted {
            Ok(())
        } else {
            Err(DropReason::NoWaiter)
        }
    }

    /// Why a message being sent is dropped, if it is: its connection is dead, its link cut,
    /// a `Drop` fault takes it, or random loss. The loss draw is made for every message on a
    /// live connection (while `loss` > 0), whatever else drops it.
    fn drop_reason(
        &mut self,
        conn_dead: bool,
        cut: bool,
        action: Option<RuleAction>,
    ) -> Option<DropReason> {
        let lost = !conn_dead && self.config.loss > 0.0 && {
            let loss = self.config.loss;
            self.rng.gen_bool(loss)
        };
        if conn_dead {
            Some(DropReason::ConnectionBroken)
        } else if cut {
            Some(DropReason::Partition)
        } else if action == Some(RuleAction::Drop) {
            Some(DropReason::Fault)
        } else if lost {
            Some(DropReason::Loss)
        } else {
            None
        }
    }

    /// When a message sent now from `from` to `to` arrives: after a drawn latency, its
    /// records' transfer cost and the server's `service` time, or, with shared resources,
    /// when the nodes' resources have carried it.
    fn arrival(&mut self, from: NodeId, to: NodeId, records: u64, service: Duration) -> Instant {
        let now = sim_now();
        let latency = self.latency() + self.config.cost(records) + service;
        if !self.config.shares_resources() {
            return now + latency;
        }
        let hop = Hop {
            from,
            to,
            records,
            client_sends: !self.is_server(from),
            client_receives: !self.is_server(to),
        };
        // Server-side work first, then the resources; the drawn latency is the wire's.
        let wire_latency = latency - service;
        self.resources
            .arrival(&self.config, hop, (now, now + service), wire_latency)
    }

    fn latency(&mut self) -> Duration {
        let (lo, hi) = (self.config.latency_min_us, self.config.latency_max_us);
        Duration::from_micros(if lo == hi {
            lo
        } else {
            self.rng.gen_range(lo..=hi)
        })
    }

    /// Due time that keeps a connection FIFO in one direction: never before the previous
    /// message on it.
    fn fifo_due(&mut self, conn: (NodeId, NodeId), response: bool, wanted: Instant) -> Instant {
        let slot = &mut self.conns.get(conn).last_due[response as usize];
        let due = slot.map_or(wanted, |last| last.max(wanted));
        *slot = Some(due);
        due
    }

    /// Queues a message; returns whether it is now the earliest in flight.
    fn enqueue(&mut self, due: Instant, envelope: Box<Envelope<Req, Resp>>) -> bool {
        let seq = self.next_seq;
        self.next_seq += 1;
        let earliest = self
            .queue
            .peek()
            .is_none_or(|Reverse(first)| due < first.due);
        self.queue.push(Reverse(InFlight { due, seq, envelope }));
        earliest
    }
}

/// The supervisor's node id, for calls made by the workload driver.
pub const SUPERVISOR_NODE: NodeId = SUPERVISOR;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_filter_names_topic_and_index() {
        assert!(is_partition("events-0", "events", 0));
        assert!(is_partition("my-topic-12", "my-topic", 12));
        assert!(!is_partition("events-1", "events", 0));
        assert!(!is_partition("events-0", "event", 0));
        assert!(!is_partition("events0", "events", 0));
    }
}
