//! The event trace of one run and its stable 64-bit hash.
//!
//! Every network event, node transition and model note is folded into an xxh3 hash over an
//! explicit little-endian encoding (never `std::hash`, whose output may change between Rust
//! releases), so the hash is the same across runs, threads, builds and machines. The events
//! themselves are kept only when asked for (`--trace`, the determinism check): one seed stays
//! cheap.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::Serialize;
use xxhash_rust::xxh3::Xxh3;

use crate::node::NodeId;

/// Why the network dropped a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// The link is cut by a partition.
    Partition,
    /// Random background loss of the link policy.
    Loss,
    /// A targeted fault (drop-requests, lose-acks).
    Fault,
    /// The destination crashed or restarted while the message was in flight.
    DestinationDown,
    /// A response arrived for a call nobody waits for any more (it timed out).
    NoWaiter,
    /// Sent on a connection that broke earlier or was replaced (a dead TCP stream).
    ConnectionBroken,
    /// The destination runs but has no request inbox open for its current life yet (it has
    /// not started serving, e.g. paused before its server bound): TCP's connection refused.
    NotListening,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum TraceKind {
    Send {
        to: NodeId,
        call: u64,
        label: &'static str,
        response: bool,
        /// The message's contents, digested (`content_digest`): two runs whose messages
        /// differ only in what they carry get different trace hashes.
        content: u64,
    },
    Deliver {
        from: NodeId,
        call: u64,
        label: &'static str,
        response: bool,
    },
    Drop {
        to: NodeId,
        call: u64,
        label: &'static str,
        response: bool,
        reason: DropReason,
    },
    Duplicate {
        to: NodeId,
        call: u64,
        label: &'static str,
        response: bool,
    },
    Delay {
        to: NodeId,
        call: u64,
        label: &'static str,
        response: bool,
        extra_ms: u64,
    },
    Crash,
    Restart,
    Pause,
    Resume,
    /// A clean shutdown was requested (SIGTERM).
    Stop,
    /// The node ended after a stop request: by itself, or killed when its grace period ran
    /// out (`forced`).
    Stopped {
        forced: bool,
    },
    /// A fault of the plan took effect (index into the plan).
    Fault {
        index: u32,
        description: String,
    },
    Heal,
    /// A model-level event worth hashing and showing (e.g. "append", partition, offset).
    Note {
        what: &'static str,
        a: u64,
        b: u64,
    },
}

/// One trace entry: when (virtual nanoseconds since the start), where, what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceEvent {
    pub at_ns: u64,
    pub node: NodeId,
    #[serde(flatten)]
    pub kind: TraceKind,
}

/// Hash, event count and (when recorded) the events of one run.
#[derive(Clone, Debug, Default)]
pub struct TraceSummary {
    pub hash: u64,
    pub events: u64,
    pub recorded: Option<Vec<TraceEvent>>,
    /// Node names, indexed by `NodeId`, for rendering.
    pub node_names: Vec<String>,
}

impl TraceSummary {
    /// The hash as 16 lowercase hex digits, the form reports and snapshots use.
    pub fn hash_hex(&self) -> String {
        format!("{:016x}", self.hash)
    }

    /// Renders one event with node names: time, node, what happened.
    pub fn render(&self, event: &TraceEvent) -> String {
        let ms = event.at_ns as f64 / 1e6;
        format!(
            "{ms:>12.3} ms  {:<12} {}",
            self.node_name(event.node),
            self.describe(&event.kind)
        )
    }

    fn node_name(&self, n: NodeId) -> &str {
        self.node_names
            .get(n.0 as usize)
            .map_or("?", |s| s.as_str())
    }

    /// What happened, with node names (no time, no acting node).
    pub fn describe(&self, kind: &TraceKind) -> String {
        match kind {
            TraceKind::Send { .. }
            | TraceKind::Deliver { .. }
            | TraceKind::Drop { .. }
            | TraceKind::Duplicate { .. }
            | TraceKind::Delay { .. } => self.describe_message(kind),
            TraceKind::Crash => "crash".to_string(),
            TraceKind::Restart => "restart".to_string(),
            TraceKind::Pause => "pause".to_string(),
            TraceKind::Resume => "resume".to_string(),
            TraceKind::Stop => "stop requested".to_string(),
            TraceKind::Stopped { forced: false } => "stopped cleanly".to_string(),
            TraceKind::Stopped { forced: true } => "killed: stop grace period over".to_string(),
            TraceKind::Fault { index, description } => format!("fault #{index}: {description}"),
            TraceKind::Heal => "heal: every fault lifted".to_string(),
            // A first number above 32 bits is a (tag, index) pair, e.g. a topic's hash and a
            // partition: shown as `tag/index`.
            TraceKind::Note { what, a, b } if *a > u32::MAX as u64 => {
                format!("{what} {:04x}/{} {b}", a >> 32, a & 0xffff_ffff)
            }
            TraceKind::Note { what, a, b } => format!("{what} {a} {b}"),
        }
    }

    /// A message event (send, deliver, drop, duplicate, hold), with node names.
    fn describe_message(&self, kind: &TraceKind) -> String {
        let name = |n: NodeId| self.node_name(n);
        match kind {
            TraceKind::Send {
                to,
                call,
                label,
                response,
                ..
            } => {
                format!(
                    "send {} #{call} {label} -> {}",
                    kind_word(*response),
                    name(*to)
                )
            }
            TraceKind::Deliver {
                from,
                call,
                label,
                response,
            } => {
                format!(
                    "deliver {} #{call} {label} <- {}",
                    kind_word(*response),
                    name(*from)
                )
            }
            TraceKind::Drop {
                to,
                call,
                label,
                response,
                reason,
            } => {
                format!(
                    "drop {} #{call} {label} -> {} ({reason:?})",
                    kind_word(*response),
                    name(*to)
                )
            }
            TraceKind::Duplicate {
                to,
                call,
                label,
                response,
            } => {
                format!(
                    "duplicate {} #{call} {label} -> {}",
                    kind_word(*response),
                    name(*to)
                )
            }
            TraceKind::Delay {
                to,
                call,
                label,
                response,
                extra_ms,
            } => {
                format!(
                    "hold {} #{call} {label} -> {} for +{extra_ms} ms",
                    kind_word(*response),
                    name(*to)
                )
            }
            _ => unreachable!("not a message event: {kind:?}"),
        }
    }
}

fn kind_word(response: bool) -> &'static str {
    if response { "response" } else { "request" }
}

struct TraceState {
    hasher: Xxh3,
    /// Encoded events not yet fed to `hasher` (see `hash_event`).
    pending: Vec<u8>,
    events: u64,
    recorded: Option<Vec<TraceEvent>>,
    /// Virtual nanoseconds madsim's clock had advanced when the run began. Elapsed time is
    /// computed from the clock's advance (a `Duration`), not by subtracting `Instant`s: the
    /// same nanoseconds, without the timespec arithmetic (~4% of a short seed).
    start_ns: u64,
    /// The instant at which madsim's clock had advanced by zero: its `now_instant` is this
    /// plus the advance, so one read of the advance gives both the instant and the elapsed
    /// nanoseconds.
    zero: madsim::time::Instant,
    /// Reading the clock through the handle skips madsim's `clock_gettime` interposition.
    clock: madsim::time::TimeHandle,
}

impl TraceState {
    fn read_clock(&self) -> ClockReading {
        let advance = self.clock.elapsed();
        ClockReading {
            instant: self.zero + advance,
            elapsed_ns: advance.as_nanos() as u64 - self.start_ns,
        }
    }
}

/// The virtual clock at one moment: as an instant, and in nanoseconds since the run began.
#[derive(Clone, Copy)]
struct ClockReading {
    instant: madsim::time::Instant,
    elapsed_ns: u64,
}

/// The clock as read during the current task poll. madsim moves its clock only between task
/// polls (by 50–100 ns after each poll, and to the next timer when no task is ready), so within
/// a poll every read gives the same time, and the first one is kept for the rest of the poll:
/// a read takes madsim's clock lock (an atomic read-modify-write), and a message's way through
/// the engine reads the clock about ten times in three polls. Only the polls of the tasks
/// `Sim` spawns and of the run's own future keep readings (`keeping_poll_clock`); outside them
/// (a future dropped by the runtime, a task spawned some other way) every read goes to the
/// clock.
#[derive(Clone, Copy)]
enum PollClock {
    /// No poll that keeps readings is under way.
    Outside,
    /// One is, and it has not read the clock yet.
    Unread,
    Read(ClockReading),
}

thread_local! {
    // One run per OS thread (madsim runs all of a seed's tasks on the thread that called
    // `block_on`), so the trace of the current run lives in a thread-local.
    static TRACE: RefCell<Option<TraceState>> = const { RefCell::new(None) };
    static POLL_CLOCK: Cell<PollClock> = const { Cell::new(PollClock::Outside) };
}

/// Wraps a task's future so that each of its polls keeps its first clock reading
/// (`PollClock`). The readings, and so every time and trace, are those of reading the clock
/// each time. The future is boxed: a task's future is large (kilobytes for a node's program),
/// and madsim moves it several times on its way into a task, where a box moves as a pointer.
pub(crate) fn keeping_poll_clock<F: Future>(future: F) -> PollClocked<F> {
    PollClocked {
        future: Box::pin(future),
    }
}

/// A future whose polls keep their clock reading (`keeping_poll_clock`).
pub(crate) struct PollClocked<F> {
    future: Pin<Box<F>>,
}

impl<F: Future> Future for PollClocked<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _poll = PollClockScope::enter();
        self.future.as_mut().poll(cx)
    }
}

/// A poll that keeps its clock reading, from `enter` until dropped (unwinding included).
struct PollClockScope {
    outer: PollClock,
}

impl PollClockScope {
    fn enter() -> Self {
        Self {
            outer: POLL_CLOCK.replace(PollClock::Unread),
        }
    }
}

impl Drop for PollClockScope {
    fn drop(&mut self) {
        POLL_CLOCK.set(self.outer);
    }
}

/// The clock now: the current poll's reading, or a fresh one (kept if a poll is under way).
fn clock_now(state: &TraceState) -> ClockReading {
    match POLL_CLOCK.get() {
        PollClock::Read(reading) => reading,
        PollClock::Unread => {
            let reading = state.read_clock();
            POLL_CLOCK.set(PollClock::Read(reading));
            reading
        }
        PollClock::Outside => state.read_clock(),
    }
}

/// Starts the trace of a run on this thread. Called by the runner inside `block_on`.
pub(crate) fn begin(record: bool) {
    let clock = madsim::time::TimeHandle::current();
    let advance = clock.elapsed();
    let zero = clock.now_instant() - advance;
    TRACE.with(|t| {
        *t.borrow_mut() = Some(TraceState {
            hasher: Xxh3::new(),
            pending: Vec::with_capacity(HASH_CHUNK + 256),
            events: 0,
            recorded: record.then(Vec::new),
            start_ns: advance.as_nanos() as u64,
            zero,
            clock,
        })
    });
    // A reading kept before the trace began counted from another start.
    if let PollClock::Read(_) = POLL_CLOCK.get() {
        POLL_CLOCK.set(PollClock::Unread);
    }
}

/// Ends the trace of this thread's run and returns it.
pub(crate) fn finish(node_names: Vec<String>) -> TraceSummary {
    // A reading kept from now on would outlive the trace it was read for.
    if let PollClock::Read(_) = POLL_CLOCK.get() {
        POLL_CLOCK.set(PollClock::Unread);
    }
    TRACE.with(|t| match t.borrow_mut().take() {
        Some(mut state) => TraceSummary {
            hash: {
                state.hasher.update(&state.pending);
                state.hasher.digest()
            },
            events: state.events,
            recorded: state.recorded,
            node_names,
        },
        None => TraceSummary {
            node_names,
            ..TraceSummary::default()
        },
    })
}

/// Virtual nanoseconds since the start of this thread's run (0 outside a run).
pub fn elapsed_ns() -> u64 {
    // A reading kept by this poll is the answer: no need to look at the trace (a reading is
    // kept only while a run's trace is under way).
    if let PollClock::Read(reading) = POLL_CLOCK.get() {
        return reading.elapsed_ns;
    }
    TRACE.with(|t| t.borrow().as_ref().map_or(0, |s| clock_now(s).elapsed_ns))
}

/// The current virtual instant of this thread's run (cheaper than `Instant::now()`).
/// Panics outside a run: simulated code must never read the OS clock.
pub fn now() -> madsim::time::Instant {
    if let PollClock::Read(reading) = POLL_CLOCK.get() {
        return reading.instant;
    }
    TRACE.with(|t| match t.borrow().as_ref() {
        Some(s) => clock_now(s).instant,
        None => panic!("sim::trace::now called outside a simulated run"),
    })
}

/// Records an event of node `node` at the current virtual time.
pub fn record(node: NodeId, kind: TraceKind) {
    TRACE.with(|t| {
        let mut guard = t.borrow_mut();
        let Some(state) = guard.as_mut() else { return };
        let at_ns = clock_now(state).elapsed_ns;
        hash_event(&mut state.hasher, &mut state.pending, at_ns, node, &kind);
        state.events += 1;
        if let Some(events) = state.recorded.as_mut() {
            events.push(TraceEvent { at_ns, node, kind });
        }
    });
}

/// A stable digest of a message's contents for the trace: the value's `Hash` impl (derived
/// on the model's wire types) feeds `StableHasher`, which folds every integer as a
/// fixed-width little-endian word (`usize`/`isize` as 64 bits), so the digest does not depend
/// on the machine. It does depend on std's `Hash` impls for `str`, slices and enum
/// discriminants staying as they are (stable for years; a change would show as every
/// snapshot's trace hash moving). One digest per message is on the hot path: a
/// multiply-rotate fold with a final avalanche costs a few instructions per word, where a
/// streaming xxh3 per message cost 3.6 % of a produce-retries seed (callgrind).
pub fn content_digest<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = StableHasher(0x243F_6A88_85A3_08D3);
    value.hash(&mut hasher);
    std::hash::Hasher::finish(&hasher)
}

/// `std::hash::Hasher` folding fixed-width little-endian words: `h = (rotl(h, 5) ^ w) * K`
/// (the FxHash step), then the SplitMix64 finaliser. Not for adversarial input; enough to
/// tell two message contents apart in a trace.
struct StableHasher(u64);

impl StableHasher {
    fn fold(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

impl std::hash::Hasher for StableHasher {
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        self.fold(bytes.len() as u64);
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.fold(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.fold(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.fold(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.fold(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.fold(i);
    }
    fn write_u128(&mut self, i: u128) {
        self.fold(i as u64);
        self.fold((i >> 64) as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.fold(i as u64);
    }
    fn write_i8(&mut self, i: i8) {
        self.write_u8(i as u8);
    }
    fn write_i16(&mut self, i: i16) {
        self.write_u16(i as u16);
    }
    fn write_i32(&mut self, i: i32) {
        self.write_u32(i as u32);
    }
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    fn write_i128(&mut self, i: i128) {
        self.write_u128(i as u128);
    }
    fn write_isize(&mut self, i: isize) {
        self.write_u64(i as i64 as u64);
    }
}

/// Records a model-level note (hashed, and shown with `--trace`).
pub fn note(node: NodeId, what: &'static str, a: u64, b: u64) {
    record(node, TraceKind::Note { what, a, b });
}

/// Events are encoded into this buffer and hashed a chunk at a time: xxh3's streaming digest
/// depends only on the bytes, not on how they are split, and one large update costs far less
/// than the six small ones an event would otherwise take.
const HASH_CHUNK: usize = 4096;

/// Appends an event's encoding to `buf`, flushing it into `h` once it holds a chunk.
fn hash_event(h: &mut Xxh3, buf: &mut Vec<u8>, at_ns: u64, node: NodeId, kind: &TraceKind) {
    encode_event(buf, at_ns, node, kind);
    if buf.len() >= HASH_CHUNK {
        h.update(buf);
        buf.clear();
    }
}

/// The event's bytes as hashed: explicit little-endian fields (the hash is pinned by tests):
/// virtual time (8 bytes), node (4), then the kind's tag and fields. The fixed-size fields
/// are gathered in an array of the kind's own constant size and appended in one copy, then
/// the variable-length text (a label, a description) and any trailing field.
fn encode_event(b: &mut Vec<u8>, at_ns: u64, node: NodeId, kind: &TraceKind) {
    // A message event: time, node, tag, response flag, peer (4), call (8).
    let msg = |tag: u8, peer: NodeId, call: u64, response: bool| {
        let mut head = [0u8; 26];
        head[..12].copy_from_slice(&start(at_ns, node));
        head[12] = tag;
        head[13] = response as u8;
        head[14..18].copy_from_slice(&peer.0.to_le_bytes());
        head[18..].copy_from_slice(&call.to_le_bytes());
        head
    };
    match kind {
        TraceKind::Send {
            to,
            call,
            label,
            response,
            content,
        } => put(
            b,
            &msg(1, *to, *call, *response),
            label.as_bytes(),
            &content.to_le_bytes(),
        ),
        TraceKind::Deliver {
            from,
            call,
            label,
            response,
        } => put(b, &msg(2, *from, *call, *response), label.as_bytes(), &[]),
        TraceKind::Drop {
            to,
            call,
            label,
            response,
            reason,
        } => put(
            b,
            &msg(3, *to, *call, *response),
            label.as_bytes(),
            &[*reason as u8],
        ),
        TraceKind::Duplicate {
            to,
            call,
            label,
            response,
        } => put(b, &msg(4, *to, *call, *response), label.as_bytes(), &[]),
        TraceKind::Delay {
            to,
            call,
            label,
            response,
            extra_ms,
        } => put(
            b,
            &msg(5, *to, *call, *response),
            label.as_bytes(),
            &extra_ms.to_le_bytes(),
        ),
        other => encode_other_event(b, start(at_ns, node), other),
    }
}

/// `encode_event` for the kinds that are not messages: node lifecycle, faults, notes.
fn encode_other_event(b: &mut Vec<u8>, start: [u8; 12], kind: &TraceKind) {
    // The event's start and its tag.
    let head = |tag: u8| {
        let mut head = [0u8; 13];
        head[..12].copy_from_slice(&start);
        head[12] = tag;
        head
    };
    match kind {
        TraceKind::Crash => b.extend_from_slice(&head(6)),
        TraceKind::Restart => b.extend_from_slice(&head(7)),
        TraceKind::Pause => b.extend_from_slice(&head(8)),
        TraceKind::Resume => b.extend_from_slice(&head(9)),
        TraceKind::Heal => b.extend_from_slice(&head(11)),
        TraceKind::Stop => b.extend_from_slice(&head(13)),
        TraceKind::Stopped { forced } => put(b, &head(14), &[], &[*forced as u8]),
        TraceKind::Fault { index, description } => {
            let mut fault = [0u8; 17];
            fault[..13].copy_from_slice(&head(10));
            fault[13..].copy_from_slice(&index.to_le_bytes());
            put(b, &fault, description.as_bytes(), &[]);
        }
        TraceKind::Note { what, a, b: second } => {
            let mut tail = [0u8; 16];
            tail[..8].copy_from_slice(&a.to_le_bytes());
            tail[8..].copy_from_slice(&second.to_le_bytes());
            put(b, &head(12), what.as_bytes(), &tail);
        }
        message => unreachable!("{message:?} is encoded by encode_event"),
    }
}

/// Appends an event's fixed-size fields, its text and its trailing field.
#[inline(always)]
fn put<const H: usize, const T: usize>(
    b: &mut Vec<u8>,
    head: &[u8; H],
    text: &[u8],
    tail: &[u8; T],
) {
    b.reserve(H + text.len() + T);
    b.extend_from_slice(head);
    b.extend_from_slice(text);
    b.extend_from_slice(tail);
}

/// The fields every event starts with: virtual time and node.
fn start(at_ns: u64, node: NodeId) -> [u8; 12] {
    let mut head = [0u8; 12];
    head[..8].copy_from_slice(&at_ns.to_le_bytes());
    head[8..].copy_from_slice(&node.0.to_le_bytes());
    head
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.3} ms node {} {:?}",
            self.at_ns as f64 / 1e6,
            self.node.0,
            self.kind
        )
    }
}

/// The first index at which two recorded traces differ, if any.
pub fn first_difference(a: &[TraceEvent], b: &[TraceEvent]) -> Option<usize> {
    let common = a.len().min(b.len());
    (0..common)
        .find(|&i| a[i] != b[i])
        .or((a.len() != b.len()).then_some(common))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind's bytes, written out field by field: time, node, tag, then the kind's fields
    /// in order, integers little-endian (the layout every pinned trace hash was made with).
    fn reference(at_ns: u64, node: NodeId, kind: &TraceKind) -> Vec<u8> {
        let mut b = at_ns.to_le_bytes().to_vec();
        b.extend(node.0.to_le_bytes());
        let mut msg = |tag: u8, peer: NodeId, call: u64, label: &str, response: bool| {
            b.extend([tag, response as u8]);
            b.extend(peer.0.to_le_bytes());
            b.extend(call.to_le_bytes());
            b.extend(label.as_bytes());
        };
        match kind {
            TraceKind::Send {
                to,
                call,
                label,
                response,
                content,
            } => {
                msg(1, *to, *call, label, *response);
                b.extend(content.to_le_bytes());
            }
            TraceKind::Deliver {
                from,
                call,
                label,
                response,
            } => msg(2, *from, *call, label, *response),
            TraceKind::Drop {
                to,
                call,
                label,
                response,
                reason,
            } => {
                msg(3, *to, *call, label, *response);
                b.push(*reason as u8);
            }
            TraceKind::Duplicate {
                to,
                call,
                label,
                response,
            } => msg(4, *to, *call, label, *response),
            TraceKind::Delay {
                to,
                call,
                label,
                response,
                extra_ms,
            } => {
                msg(5, *to, *call, label, *response);
                b.extend(extra_ms.to_le_bytes());
            }
            TraceKind::Crash => b.push(6),
            TraceKind::Restart => b.push(7),
            TraceKind::Pause => b.push(8),
            TraceKind::Resume => b.push(9),
            TraceKind::Fault { index, description } => {
                b.push(10);
                b.extend(index.to_le_bytes());
                b.extend(description.as_bytes());
            }
            TraceKind::Heal => b.push(11),
            TraceKind::Note { what, a, b: second } => {
                b.push(12);
                b.extend(what.as_bytes());
                b.extend(a.to_le_bytes());
                b.extend(second.to_le_bytes());
            }
            TraceKind::Stop => b.push(13),
            TraceKind::Stopped { forced } => b.extend([14, *forced as u8]),
        }
        b
    }

    #[test]
    fn every_kind_is_encoded_field_by_field() {
        let (to, from) = (NodeId(3), NodeId(70_000));
        let kinds = [
            TraceKind::Send {
                to,
                call: 9,
                label: "Produce",
                response: false,
                content: u64::MAX - 5,
            },
            TraceKind::Deliver {
                from,
                call: 1 << 40,
                label: "Fetch",
                response: true,
            },
            TraceKind::Drop {
                to,
                call: 2,
                label: "",
                response: true,
                reason: DropReason::NoWaiter,
            },
            TraceKind::Duplicate {
                to,
                call: 3,
                label: "EndTxn",
                response: false,
            },
            TraceKind::Delay {
                to,
                call: 4,
                label: "Produce",
                response: true,
                extra_ms: 700,
            },
            TraceKind::Crash,
            TraceKind::Restart,
            TraceKind::Pause,
            TraceKind::Resume,
            TraceKind::Fault {
                index: 258,
                description: "crash broker-1".to_string(),
            },
            TraceKind::Heal,
            TraceKind::Note {
                what: "append",
                a: 1 << 33,
                b: 7,
            },
            TraceKind::Stop,
            TraceKind::Stopped { forced: true },
        ];
        for kind in &kinds {
            let mut encoded = Vec::new();
            encode_event(&mut encoded, 123_456_789_012, NodeId(5), kind);
            assert_eq!(
                encoded,
                reference(123_456_789_012, NodeId(5), kind),
                "{kind:?}"
            );
        }
    }
}
