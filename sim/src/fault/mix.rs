//! Random fault mixes: how many faults of which kinds, expanded from the seed into an
//! explicit plan, and swarm testing (each seed enables a subset of kinds, messages, nodes).

use std::collections::BTreeMap;
use std::fmt;

use rand::seq::SliceRandom;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

use super::message::{self, MessageFilter};
use super::{Fault, FaultAction, FaultPlan, outage, point};

/// Declares the kinds of fault a mix draws once, in draw order: each with its weight field
/// in `FaultMix` (whose name is the kind's name in `[faults.mix]` and in swarm reports), its
/// default weight, its doc and the function that draws one (`fn(&mut MixDraw) -> Vec<Fault>`,
/// in the kind's module). `MixKind`, `MixKind::ALL`, `name`, the weight fields of `FaultMix`
/// and their defaults, `weight`, `weight_mut` and the draw dispatch derive from the list.
macro_rules! mix_kinds {
    ($($(#[$doc:meta])* $kind:ident => $field:ident = $default:literal by $draw:path,)*) => {
        /// The kinds of fault a mix draws, in the order their weights are laid out for the
        /// draw (the order is part of every seed's plan: a new kind goes last).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
        pub enum MixKind {
            $($(#[$doc])* $kind,)*
        }

        impl MixKind {
            /// Every kind, in draw order.
            pub const ALL: &'static [MixKind] = &[$(MixKind::$kind,)*];

            /// The name of its weight in `[faults.mix]` (and in swarm reports).
            pub fn name(self) -> &'static str {
                match self {
                    $(MixKind::$kind => stringify!($field),)*
                }
            }

            /// Draws one fault of this kind (two for an outage and its end; none if no
            /// target is free).
            fn draw(self, draw: &mut MixDraw<'_, '_>) -> Vec<Fault> {
                match self {
                    $(MixKind::$kind => $draw(draw),)*
                }
            }
        }

        /// A random fault mix: how many faults of which kinds, expanded from the seed into an
        /// explicit plan. Weights are relative; a kind with weight 0 never occurs.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct FaultMix {
            /// Number of faults to draw (default 8). A crash or pause counts once; its
            /// restart or resume follows automatically.
            pub count: u32,
            $($(#[$doc])* #[doc = concat!("Weight (default ", $default, ").")] pub $field: u32,)*
            /// Longest crash or pause, ms (default 2000).
            pub max_outage_ms: u64,
            /// Shortest crash or pause, ms (default 1). A pause longer than a group's session
            /// timeout makes a zombie: the group moves on while the paused instance sleeps.
            pub min_outage_ms: u64,
            /// Restrict crashes and pauses to these nodes (default: every crash target).
            pub targets: Option<Vec<String>>,
            /// Largest `count` of one message fault (default 3).
            pub max_messages: u32,
            /// Largest extra delay of a held message, ms (default 3000).
            pub max_delay_ms: u64,
            /// Restrict message faults to this message kind, or to these kinds (one drawn per
            /// fault), e.g. `message = "produce"` or `message = ["end-txn", "produce"]`
            /// (default: any).
            pub message: Option<MessageKinds>,
            /// Swarm testing (Groce et al., ISSTA 2012; default false): each seed first draws
            /// which fault kinds, which message kinds and which nodes are enabled, each with
            /// probability 1/2 (at least one of each), then expands the mix over what it drew.
            /// An enabled kind keeps its weight (at least 1: swarm reaches kinds the mix leaves
            /// at 0). Seeds thereby concentrate on a few kinds of trouble each, which finds
            /// bugs a uniform mix dilutes.
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            pub swarm: bool,
        }

        impl Default for FaultMix {
            fn default() -> Self {
                Self {
                    count: 8,
                    $($field: $default,)*
                    max_outage_ms: 2_000,
                    min_outage_ms: 1,
                    targets: None,
                    max_messages: 3,
                    max_delay_ms: 3_000,
                    message: None,
                    swarm: false,
                }
            }
        }

        impl FaultMix {
            /// The weight of one kind of fault.
            pub fn weight(&self, kind: MixKind) -> u32 {
                match kind {
                    $(MixKind::$kind => self.$field,)*
                }
            }

            fn weight_mut(&mut self, kind: MixKind) -> &mut u32 {
                match kind {
                    $(MixKind::$kind => &mut self.$field,)*
                }
            }
        }
    };
}

mix_kinds! {
    /// Crash a crash target, restart it later.
    Crash => crash = 1 by outage::draw_crash,
    /// Pause a crash target, resume it later.
    Pause => pause = 0 by outage::draw_pause,
    /// Drop requests.
    DropRequests => drop_requests = 1 by message::draw_drop_requests,
    /// Lose acks.
    LoseAcks => lose_acks = 3 by message::draw_lose_acks,
    /// Duplicate requests.
    DuplicateRequests => duplicate_requests = 1 by message::draw_duplicate_requests,
    /// Duplicate responses.
    DuplicateResponses => duplicate_responses = 1 by message::draw_duplicate_responses,
    /// Hold messages and release them late.
    Delay => delay = 1 by message::draw_delay,
    /// Stop a crash target cleanly (SIGTERM), restart it later; a node whose application
    /// ignores stop requests is killed after the grace period. (Drawn last: mixes from
    /// before stops existed expand as they did.)
    Stop => stop = 0 by outage::draw_stop,
    /// Crash or pause a node that can reach a fault point of the model, right after it
    /// reaches it (one of the first three times); the healing phase undoes it.
    Point => point = 0 by point::draw_point,
}

/// One fault being drawn: its time, what every draw takes from the stream first (the node a
/// message fault aims at, as filters both ways, and a message count), and the stream for
/// what the kind draws itself.
pub struct MixDraw<'m, 't> {
    pub rng: &'m mut dyn RngCore,
    pub mix: &'m FaultMix,
    pub at_ms: u64,
    pub fault_phase_ms: u64,
    /// Requests towards the drawn node (to a server, from a client).
    pub towards: MessageFilter,
    /// Responses back (from a server, to a client).
    pub back: MessageFilter,
    pub count: u32,
    crash_targets: &'t [String],
    /// The model's fault points, with the crash targets that reach each.
    pub points: &'t [MixPoint<'t>],
    /// Nodes busy with an outage until this time (no overlapping outages per node).
    busy_until: &'m mut BTreeMap<&'t str, u64>,
}

impl<'t> MixDraw<'_, 't> {
    /// One fault at the drawn time.
    pub fn fault(&self, action: FaultAction) -> Vec<Fault> {
        vec![Fault {
            at_ms: self.at_ms,
            action,
        }]
    }

    /// Whether no outage or point fault drawn so far holds `node` at the drawn time.
    fn is_idle(&self, node: &str) -> bool {
        self.busy_until.get(node).is_none_or(|&t| t < self.at_ms)
    }

    /// Takes `node` for good if it is idle at the drawn time: a fault after which the plan
    /// must leave it alone (a point fault). Whether it was idle.
    pub fn reserve(&mut self, node: &'t str) -> bool {
        if !self.is_idle(node) {
            return false;
        }
        self.busy_until.insert(node, u64::MAX);
        true
    }

    /// An outage of one allowed, idle crash target: (the node, when the outage ends), or
    /// `None` if the drawn target is busy at the drawn time.
    pub fn outage(&mut self) -> Option<(String, u64)> {
        let crash_targets: &'t [String] = self.crash_targets;
        let only = self.mix.targets.as_ref();
        let allowed: Vec<&'t String> = crash_targets
            .iter()
            .filter(|n| only.is_none_or(|t| t.contains(n)))
            .collect();
        let node = *allowed.choose(&mut *self.rng)?;
        if !self.is_idle(node) {
            return None;
        }
        let shortest = self.mix.min_outage_ms.max(1);
        let outage = self
            .rng
            .gen_range(shortest..=self.mix.max_outage_ms.max(shortest));
        let end = (self.at_ms + outage).min(self.fault_phase_ms);
        self.busy_until.insert(node, end);
        Some((node.clone(), end))
    }
}

impl MixKind {
    /// A node outage (a crash, pause or stop, undone later), rather than a message fault.
    fn is_outage(self) -> bool {
        matches!(self, MixKind::Crash | MixKind::Pause | MixKind::Stop)
    }
}

/// Who a mix's faults may aim at: servers (requests to them, responses from them), clients
/// (requests from them, responses to them), the nodes that may crash, pause or stop, and the
/// model's fault points with the crash targets that reach each.
#[derive(Clone, Copy, Debug)]
pub struct MixTargets<'a> {
    pub crash: &'a [String],
    pub servers: &'a [String],
    pub clients: &'a [String],
    pub points: &'a [MixPoint<'a>],
}

/// A fault point a mix may aim at, and the crash targets that reach it.
#[derive(Clone, Copy, Debug)]
pub struct MixPoint<'a> {
    pub name: &'a str,
    pub nodes: &'a [String],
}

/// What a swarm mix enabled for one seed: shown in the run's report, so a plan is explained
/// and can be reproduced by hand.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SwarmDraw {
    /// Enabled fault kinds (mix weight names).
    pub faults: Vec<&'static str>,
    /// Message kinds message faults may target.
    pub messages: Vec<String>,
    /// Nodes message faults may aim at (servers and clients).
    pub nodes: Vec<String>,
    /// Nodes that may crash, pause or stop.
    pub crash_targets: Vec<String>,
}

impl fmt::Display for SwarmDraw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "faults [{}] messages [{}] nodes [{}] crash targets [{}]",
            self.faults.join(", "),
            self.messages.join(", "),
            self.nodes.join(", "),
            self.crash_targets.join(", ")
        )
    }
}

/// Each item with probability 1/2, at least one (drawn uniformly) if the list has any.
/// How many kinds (the first of `MixKind::ALL`) a swarm draw takes as one subset, as it did
/// when swarm testing came; a kind declared after them is drawn last (`swarm_draw`).
const SWARM_KINDS_DRAWN_FIRST: usize = 8;
const _: () = assert!(MixKind::ALL.len() >= SWARM_KINDS_DRAWN_FIRST);

fn swarm_subset<T: Clone>(rng: &mut impl Rng, items: &[T]) -> Vec<T> {
    let mut chosen: Vec<T> = items
        .iter()
        .filter(|_| rng.gen_bool(0.5))
        .cloned()
        .collect();
    if chosen.is_empty()
        && let Some(one) = items.choose(rng)
    {
        chosen.push(one.clone());
    }
    chosen
}

/// The message kinds a mix's message faults may target: one (`"produce"`) or several
/// (`["end-txn", "produce"]`), never none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageKinds(pub Vec<String>);

impl MessageKinds {
    pub fn one(kind: &str) -> Self {
        Self(vec![kind.to_string()])
    }

    /// The kind of one fault: the only one, or one drawn from `rng` (no draw for a single
    /// kind, so a one-kind mix expands as it did when it took only one).
    fn draw(&self, rng: &mut impl Rng) -> String {
        match self.0.as_slice() {
            [one] => one.clone(),
            many => many.choose(rng).expect("never empty").clone(),
        }
    }
}

impl Serialize for MessageKinds {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => serializer.serialize_str(one),
            many => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for MessageKinds {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Kinds;
        impl<'de> serde::de::Visitor<'de> for Kinds {
            type Value = MessageKinds;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a message kind or a non-empty list of message kinds")
            }

            fn visit_str<E: serde::de::Error>(self, kind: &str) -> Result<MessageKinds, E> {
                Ok(MessageKinds::one(kind))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<MessageKinds, A::Error> {
                let mut kinds = Vec::new();
                while let Some(kind) = seq.next_element::<String>()? {
                    kinds.push(kind);
                }
                if kinds.is_empty() {
                    return Err(serde::de::Error::custom(
                        "an empty list of message kinds (leave `message` out for any kind)",
                    ));
                }
                Ok(MessageKinds(kinds))
            }
        }
        deserializer.deserialize_any(Kinds)
    }
}

impl FaultMix {
    /// A swarm mix's draw for one seed (from its own stream, `rng`): which fault kinds (every
    /// kind, weight 0 included), which of `message_kinds` (within `message`, if the mix
    /// restricts it), which message-fault nodes and which crash targets (within `targets`)
    /// are enabled.
    pub fn swarm_draw(
        &self,
        rng: &mut impl Rng,
        message_kinds: &[String],
        targets: MixTargets<'_>,
    ) -> SwarmDraw {
        let kinds: Vec<&'static str> = MixKind::ALL.iter().map(|k| k.name()).collect();
        let messages: Vec<String> = match &self.message {
            Some(MessageKinds(only)) => only.clone(),
            None => message_kinds.to_vec(),
        };
        let nodes: Vec<String> = targets
            .servers
            .iter()
            .chain(targets.clients)
            .cloned()
            .collect();
        let crash: Vec<String> = targets
            .crash
            .iter()
            .filter(|n| self.targets.as_ref().is_none_or(|t| t.contains(n)))
            .cloned()
            .collect();
        // Kinds declared since swarm testing came are drawn after everything else, each on
        // its own coin: appending a kind to `mix_kinds!` changes no earlier draw (the kinds,
        // messages, nodes and targets of every seed stay), but a seed whose coin enables the
        // new kind (about half) draws its plan over one more kind. Appending `point`
        // (2026-12-06) was such a decision: the pinned digest moved with it.
        let (first, later) = kinds.split_at(SWARM_KINDS_DRAWN_FIRST);
        let mut draw = SwarmDraw {
            faults: swarm_subset(rng, first),
            messages: swarm_subset(rng, &messages),
            nodes: swarm_subset(rng, &nodes),
            crash_targets: swarm_subset(rng, &crash),
        };
        draw.faults
            .extend(later.iter().filter(|_| rng.gen_bool(0.5)).copied());
        draw
    }

    /// The plain mix a swarm draw stands for: enabled kinds at their weight (at least 1), the
    /// others at 0, message faults on the drawn kinds, outages on the drawn targets.
    pub fn narrowed_to(&self, draw: &SwarmDraw) -> FaultMix {
        let mut mix = self.clone();
        mix.swarm = false;
        for &kind in MixKind::ALL {
            let on = draw.faults.contains(&kind.name());
            *mix.weight_mut(kind) = if on { self.weight(kind).max(1) } else { 0 };
        }
        mix.message = (!draw.messages.is_empty()).then(|| MessageKinds(draw.messages.clone()));
        mix.targets = Some(draw.crash_targets.clone());
        mix
    }

    /// Draws an explicit plan over `[0, fault_phase_ms)`. Message faults aim at one node of
    /// `targets.servers` or `targets.clients` (requests to a server or from a client,
    /// responses from a server or to a client); outages at `targets.crash`. The result is
    /// valid: a node is never crashed twice without a restart between. (A swarm mix is
    /// narrowed with `swarm_draw` and `narrowed_to` first; `expand` ignores `swarm`.)
    pub fn expand(
        &self,
        rng: &mut impl Rng,
        fault_phase_ms: u64,
        targets: MixTargets<'_>,
    ) -> FaultPlan {
        let total: u32 = MixKind::ALL.iter().map(|&k| self.weight(k)).sum();
        let mut faults = Vec::new();
        let mut busy_until: BTreeMap<&str, u64> = BTreeMap::new();
        if total == 0 || fault_phase_ms == 0 {
            return FaultPlan(faults);
        }
        // A mix without clients draws its node among the servers alone, as it always did.
        let message_nodes: Vec<&String> = targets.servers.iter().chain(targets.clients).collect();
        for _ in 0..self.count {
            let at_ms = rng.gen_range(0..fault_phase_ms);
            let kind = self.draw_kind(rng, total);
            let node = message_nodes.choose(rng).map(|n| (*n).clone());
            let message = if kind.is_outage() {
                None
            } else {
                self.message.as_ref().map(|kinds| kinds.draw(rng))
            };
            let client = node.as_ref().is_some_and(|n| targets.clients.contains(n));
            let (towards, back) = aimed_filters(node, message, client);
            let count = rng.gen_range(1..=self.max_messages.max(1));
            let mut draw = MixDraw {
                rng,
                mix: self,
                at_ms,
                fault_phase_ms,
                towards,
                back,
                count,
                crash_targets: targets.crash,
                points: targets.points,
                busy_until: &mut busy_until,
            };
            faults.extend(kind.draw(&mut draw));
        }
        // Stable sort: a restart drawn at the same millisecond as its crash stays after it.
        faults.sort_by_key(|f| f.at_ms);
        FaultPlan(faults)
    }

    /// One kind, by weight (`total` is the sum of the weights).
    fn draw_kind(&self, rng: &mut impl Rng, total: u32) -> MixKind {
        let mut pick = rng.gen_range(0..total);
        for &kind in MixKind::ALL {
            let weight = self.weight(kind);
            if pick < weight {
                return kind;
            }
            pick -= weight;
        }
        unreachable!("weights sum to total")
    }
}

/// The filters of a message fault aimed at `node`: requests travel towards a server (from a
/// client), responses back.
fn aimed_filters(
    node: Option<String>,
    message: Option<String>,
    client: bool,
) -> (MessageFilter, MessageFilter) {
    let filter = |from: Option<String>, to: Option<String>| MessageFilter {
        from,
        to,
        message: message.clone(),
        ..MessageFilter::default()
    };
    if client {
        (filter(node.clone(), None), filter(None, node))
    } else {
        (filter(None, node.clone()), filter(node, None))
    }
}
