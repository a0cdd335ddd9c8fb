//! A cheap look for [`super::Kv::impossible`]: a get that contradicts what the key held when
//! the last operation before it in real time returned.
//!
//! A get (or put) that returned before a get was invoked is linearized before it; the key
//! then held the value that get read (or that put wrote). Between them only appends and puts
//! of the key change it: appends only lengthen it, so unless a put linearized in between
//! starts the value the later get read, that value starts with the earlier one. A put can be
//! linearized in between only if it was invoked before the later get returned and returned
//! (or has an unknown outcome) after the earlier operation was invoked (ties count as
//! concurrent, as in the search). So a later get whose value neither starts with the earlier
//! value nor with such a put's value is never legal: the partition is not linearizable.
//!
//! Only the last observation (by return, then by index) before each get is compared: one
//! binary search per get, and the puts of a value found by their calls, so the look costs
//! O(n log n) plus a lookup per distinct put length and get, however long the history.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::{Impossible, Model, Operation};
use crate::lin::models::kv::{Kv, KvInput};

type KvOperation = Operation<KvInput, Arc<str>>;

/// Per key: what an earlier operation leaves, and the puts that could intervene.
#[derive(Default)]
struct KeyOrder<'o> {
    /// Gets with a known value and puts with a known return: (return, index), sorted.
    observations: Vec<(u64, usize)>,
    /// Per value put: its puts as (call, the latest return among them so far; `u64::MAX`
    /// for an unknown outcome), sorted by call.
    puts: FxHashMap<&'o [u8], Vec<(u64, u64)>>,
    /// The distinct lengths of the values put, ascending.
    put_lengths: Vec<usize>,
}

/// The value an operation leaves the key holding, if it is known when it returns.
fn leaves(operation: &KvOperation) -> Option<&str> {
    operation.ret?;
    match (&operation.input, &operation.output) {
        (KvInput::Get { .. }, Some(read)) => Some(read),
        (KvInput::Put { value, .. }, _) => Some(value),
        _ => None,
    }
}

/// The keys' observations and puts (looked up only: the maps' order is never seen).
fn key_orders<'o>(operations: &[&'o KvOperation]) -> FxHashMap<&'o str, KeyOrder<'o>> {
    let mut keys: FxHashMap<&str, KeyOrder> = FxHashMap::default();
    for (index, operation) in operations.iter().enumerate() {
        let order = keys.entry(operation.input.key()).or_default();
        if let (Some(ret), Some(_)) = (operation.ret, leaves(operation)) {
            order.observations.push((ret, index));
        }
        if let KvInput::Put { value, .. } = &operation.input {
            let ret = operation.ret.unwrap_or(u64::MAX);
            let puts = order.puts.entry(value.as_bytes()).or_default();
            puts.push((operation.call, ret));
            if let Err(at) = order.put_lengths.binary_search(&value.len()) {
                order.put_lengths.insert(at, value.len());
            }
        }
    }
    for order in keys.values_mut() {
        order.observations.sort_unstable();
        for puts in order.puts.values_mut() {
            puts.sort_unstable();
            let mut latest = 0;
            for (_, ret) in puts.iter_mut() {
                latest = latest.max(*ret);
                *ret = latest;
            }
        }
    }
    keys
}

impl KeyOrder<'_> {
    /// Whether a put of a value `read` starts with was invoked by `until` and returned (or
    /// may still) at `since` or later.
    fn put_may_intervene(&self, read: &[u8], since: u64, until: u64) -> bool {
        self.put_lengths
            .iter()
            .take_while(|&&length| length <= read.len())
            .filter_map(|&length| self.puts.get(&read[..length]))
            .any(|puts| {
                let invoked = puts.partition_point(|&(call, _)| call <= until);
                invoked > 0 && puts[invoked - 1].1 >= since
            })
    }
}

/// The earliest-returning get (by return, then index) that contradicts the last observation
/// of its key before it, with the reason.
pub(super) fn contradicted_get(operations: &[&KvOperation]) -> Option<(u64, Impossible)> {
    let keys = key_orders(operations);
    let (ret, operation, earlier) = operations
        .iter()
        .enumerate()
        .filter_map(|(index, operation)| {
            let (KvInput::Get { key }, Some(read), Some(ret)) =
                (&operation.input, &operation.output, operation.ret)
            else {
                return None;
            };
            let order = &keys[&**key];
            let before = order
                .observations
                .partition_point(|&(returned, _)| returned < operation.call);
            let (_, earlier) = *order.observations.get(before.checked_sub(1)?)?;
            let earlier_op = operations[earlier];
            let held = leaves(earlier_op)?;
            let contradicted = !read.starts_with(held)
                && !order.put_may_intervene(read.as_bytes(), earlier_op.call, ret);
            contradicted.then_some((ret, index, earlier))
        })
        .min_by_key(|&(ret, index, _)| (ret, index))?;
    let earlier = operations[earlier];
    let reason = format!(
        "{} returned before it was invoked (line {}), and neither that value nor a put that \
         could come between begins the value it read",
        Kv.describe_operation(&earlier.input, earlier.output.as_ref()),
        earlier
            .source
            .complete_line
            .unwrap_or(earlier.source.invoke_line),
    );
    Some((ret, Impossible { operation, reason }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lin::models::OperationSource;

    fn op(input: KvInput, output: Option<&str>, call: u64, ret: Option<u64>) -> KvOperation {
        Operation {
            input,
            output: output.map(Arc::from),
            call,
            ret,
            source: OperationSource {
                process: "0".into(),
                invoke_line: call as usize + 1,
                complete_line: ret.map(|ret| ret as usize + 1),
            },
        }
    }

    fn get(read: &str, call: u64, ret: u64) -> KvOperation {
        op(
            KvInput::Get { key: "k".into() },
            Some(read),
            call,
            Some(ret),
        )
    }

    fn put(value: &str, call: u64, ret: Option<u64>) -> KvOperation {
        let input = KvInput::Put {
            key: "k".into(),
            value: value.into(),
        };
        op(input, None, call, ret)
    }

    fn rejected(history: &[KvOperation]) -> Option<usize> {
        let refs: Vec<&KvOperation> = history.iter().collect();
        contradicted_get(&refs).map(|(_, impossible)| impossible.operation)
    }

    #[test]
    fn a_get_that_does_not_extend_the_value_before_it_is_rejected() {
        // "ab" read, then "b": appends cannot shorten a value.
        let history = [get("ab", 0, 1), get("b", 2, 3)];
        assert_eq!(rejected(&history), Some(1));
        let refs: Vec<&KvOperation> = history.iter().collect();
        let (_, impossible) = contradicted_get(&refs).unwrap();
        assert!(
            impossible
                .reason
                .starts_with("get \"k\" → \"ab\" returned before it was invoked (line 2)"),
            "{}",
            impossible.reason
        );
        // Extending it is fine, and so is a get concurrent with the first (ties too).
        assert_eq!(rejected(&[get("a", 0, 1), get("ab", 2, 3)]), None);
        assert_eq!(rejected(&[get("ab", 0, 2), get("b", 2, 3)]), None);
        // A put that returned before is what the key held.
        assert_eq!(rejected(&[put("x", 0, Some(1)), get("y", 2, 3)]), Some(1));
    }

    #[test]
    fn a_put_that_may_come_between_saves_it() {
        // "bab" read, then "b": only a put of "b" between them explains it.
        let (first, second) = (get("bab", 2, 3), get("b", 4, 5));
        // Invoked before the second returned, returned after the first was invoked (a tie
        // counts) or never.
        for put in [
            put("b", 4, Some(9)),
            put("b", 0, Some(2)),
            put("b", 1, None),
        ] {
            let history = [first.clone(), second.clone(), put];
            assert_eq!(rejected(&history), None, "{:?}", history[2]);
        }
        // Too late, too early, or of a value the read does not start with.
        for put in [
            put("b", 6, Some(7)),
            put("b", 0, Some(1)),
            put("c", 3, Some(4)),
        ] {
            let history = [first.clone(), second.clone(), put];
            assert_eq!(rejected(&history), Some(1), "{:?}", history[2]);
        }
    }
}
