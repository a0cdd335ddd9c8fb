//! Targeted message faults: each adds a network rule that takes the next `count` messages
//! matching its filter (dropped, duplicated or held), so a plan can aim at "the next two
//! produce acks from broker-2".

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::kind::{FaultKind, FieldBound};
use super::mix::MixDraw;
use super::outage::resolve;
use super::plan_check::PlanCheck;
use super::{Fault, FaultAction};
use crate::net::{ContentFilter, Direction, MessageRule, RuleAction};
use crate::node::Sim;

/// `count` of a message fault: 1..=100 messages.
pub const MAX_MESSAGES_PER_FAULT: u32 = 100;
/// `extra_ms` of a delay: at most 600,000 ms.
pub const MAX_DELAY_MS: u64 = 600_000;

/// Which messages a targeted fault applies to. Every field is optional: absent means any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageFilter {
    /// Sending node name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Receiving node name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Message kind, as the model labels it (e.g. "produce").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Content: how the request ends a transaction ("commit" or "abort": EndTxn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Content: the request's transactional id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactional_id: Option<String>,
    /// Content: the one partition the request is about, `topic-index` (e.g. "events-0").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Content: the producer epoch the request carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
}

impl MessageFilter {
    /// The content part of the filter (requests only: responses carry no content).
    pub fn content(&self) -> ContentFilter {
        ContentFilter {
            result: self.result.clone(),
            transactional_id: self.transactional_id.clone(),
            partition: self.partition.clone(),
            epoch: self.epoch,
        }
    }
}

impl fmt::Display for MessageFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message.as_deref().unwrap_or("any"))?;
        let epoch = self.epoch.map(|e| format!("epoch {e}"));
        let content = [
            &self.result,
            &self.transactional_id,
            &self.partition,
            &epoch,
        ];
        for field in content.into_iter().flatten() {
            write!(f, "[{field}]")?;
        }
        write!(
            f,
            " {}->{}",
            self.from.as_deref().unwrap_or("*"),
            self.to.as_deref().unwrap_or("*")
        )
    }
}

/// A positive count and filter ends a plan may name (the supervisor too). Content filters
/// apply to both directions: a response is matched by the content of the request it answers.
fn check_targeted(
    filter: &MessageFilter,
    count: u32,
    _direction: Direction,
    plan: &PlanCheck<'_>,
) -> Result<(), String> {
    if count == 0 {
        return Err("count must be at least 1".into());
    }
    for name in filter.from.iter().chain(&filter.to) {
        if name != "supervisor" {
            plan.known(name)?;
        }
    }
    Ok(())
}

fn count_bound(count: u32) -> FieldBound {
    FieldBound {
        field: "count",
        value: count.into(),
        min: 1,
        max: MAX_MESSAGES_PER_FAULT.into(),
    }
}

fn add_rule(
    sim: &Sim,
    filter: &MessageFilter,
    direction: Direction,
    action: RuleAction,
    count: u32,
) {
    sim.add_rule(MessageRule {
        direction,
        from: filter.from.as_deref().map(|n| resolve(sim, n)),
        to: filter.to.as_deref().map(|n| resolve(sim, n)),
        label: filter.message.clone(),
        content: filter.content(),
        action,
        remaining: count,
        fault: None,
    })
}

/// Declares the message faults that take `count` messages one way and do one thing to
/// them: the struct, its `FaultKind` (report text, checks, rule, bounds, weakening to one
/// message) and its mix draw (towards the drawn node for requests, back for responses).
macro_rules! counted_message_faults {
    ($( $(#[$doc:meta])* $Kind:ident, $draw:ident: $direction:ident, $action:ident, $says:literal; )+) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $Kind {
            #[serde(flatten)]
            pub filter: MessageFilter,
            pub count: u32,
        }

        impl FaultKind for $Kind {
            fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, $says, self.count, self.filter)
            }

            fn check(&self, plan: &mut PlanCheck<'_>) -> Result<(), String> {
                check_targeted(&self.filter, self.count, Direction::$direction, plan)
            }

            fn apply(&self, sim: &Sim) {
                add_rule(sim, &self.filter, Direction::$direction, RuleAction::$action, self.count)
            }

            fn messages(&self) -> Option<(&MessageFilter, u32)> {
                Some((&self.filter, self.count))
            }

            fn bounds(&self) -> Vec<FieldBound> {
                vec![count_bound(self.count)]
            }

            fn weaker(&self, faults: &[Fault], index: usize) -> Vec<Vec<Fault>> {
                if self.count <= 1 {
                    return Vec::new();
                }
                let one = $Kind { filter: self.filter.clone(), count: 1 };
                vec![with(faults, index, one.into())]
            }
        }

        /// A mix's draw of this kind.
        pub(super) fn $draw(draw: &mut MixDraw<'_, '_>) -> Vec<Fault> {
            let filter = match Direction::$direction {
                Direction::Request => draw.towards.clone(),
                Direction::Response => draw.back.clone(),
            };
            draw.fault($Kind { filter, count: draw.count }.into())
        }
    )+};
}

counted_message_faults! {
    /// Drop the next `count` matching requests before they reach the server.
    DropRequests, draw_drop_requests: Request, Drop, "drop {} request(s) {}";
    /// Lost ack: drop the next `count` matching responses, after their request took effect.
    LoseAcks, draw_lose_acks: Response, Drop, "lose {} ack(s) {}";
    /// Deliver the next `count` matching requests twice.
    DuplicateRequests, draw_duplicate_requests: Request, Duplicate, "duplicate {} request(s) {}";
    /// Deliver the next `count` matching responses twice (duplicate ack).
    DuplicateResponses, draw_duplicate_responses: Response, Duplicate, "duplicate {} response(s) {}";
}

/// `faults` with the fault at `index` replaced by `action`.
fn with(faults: &[Fault], index: usize, action: FaultAction) -> Vec<Fault> {
    let mut weaker = faults.to_vec();
    weaker[index].action = action;
    weaker
}

/// Hold the next `count` matching messages and release them `extra_ms` late (after the
/// sender timed out and retried).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delay {
    #[serde(flatten)]
    pub filter: MessageFilter,
    pub direction: Direction,
    pub extra_ms: u64,
    pub count: u32,
}

impl FaultKind for Delay {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Delay {
            filter,
            direction,
            extra_ms,
            count,
        } = self;
        write!(f, "hold {count} {direction:?}(s) +{extra_ms} ms {filter}")
    }

    fn check(&self, plan: &mut PlanCheck<'_>) -> Result<(), String> {
        check_targeted(&self.filter, self.count, self.direction, plan)
    }

    fn apply(&self, sim: &Sim) {
        let action = RuleAction::Delay {
            extra_ms: self.extra_ms,
        };
        add_rule(sim, &self.filter, self.direction, action, self.count)
    }

    fn messages(&self) -> Option<(&MessageFilter, u32)> {
        Some((&self.filter, self.count))
    }

    fn bounds(&self) -> Vec<FieldBound> {
        let extra = FieldBound {
            field: "extra_ms",
            value: self.extra_ms,
            min: 0,
            max: MAX_DELAY_MS,
        };
        vec![count_bound(self.count), extra]
    }

    /// One message instead of several; half the hold.
    fn weaker(&self, faults: &[Fault], index: usize) -> Vec<Vec<Fault>> {
        let mut forms = Vec::new();
        if self.count > 1 {
            let one = Delay {
                count: 1,
                ..self.clone()
            };
            forms.push(with(faults, index, one.into()));
        }
        if self.extra_ms > 1 {
            let shorter = Delay {
                extra_ms: self.extra_ms / 2,
                ..self.clone()
            };
            forms.push(with(faults, index, shorter.into()));
        }
        forms
    }
}

/// A mix's hold: requests towards the drawn node or responses back, held up to
/// `max_delay_ms`.
pub(super) fn draw_delay(draw: &mut MixDraw<'_, '_>) -> Vec<Fault> {
    let (direction, filter) = if draw.rng.gen_bool(0.5) {
        (Direction::Request, draw.towards.clone())
    } else {
        (Direction::Response, draw.back.clone())
    };
    let extra_ms = draw.rng.gen_range(1..=draw.mix.max_delay_ms.max(1));
    let count = draw.count;
    draw.fault(
        Delay {
            filter,
            direction,
            extra_ms,
            count,
        }
        .into(),
    )
}
