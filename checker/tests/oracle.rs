//! The search against a brute-force oracle on small random histories: a history is
//! linearizable iff some order of its operations — every completed one, any subset of those
//! with unknown outcome — respects real time and is legal for the model.

use std::sync::Arc;

use checker::lin::Partition;
use checker::lin::edn::Value;
use checker::lin::models::cas_register::{CasInput, CasOutput};
use checker::lin::models::kv::KvInput;
use checker::lin::models::log::{LogInput, LogOutput};
use checker::lin::models::mutex::MutexInput;
use checker::lin::models::register::RegisterInput;
use checker::lin::models::{CasRegister, Kv, Log, Mutex, Register};
use checker::lin::{
    CheckOptions, Model, Operation, OperationCounts, OperationSource, Verdict, check_operations,
};
use proptest::prelude::*;

/// Tries every order of a subset recursively: `placed` marks operations already in the order.
fn brute_force<M: Model>(model: &M, history: &[Operation<M::Input, M::Output>]) -> bool {
    fn extend<M: Model>(
        model: &M,
        history: &[Operation<M::Input, M::Output>],
        placed: &mut Vec<bool>,
        state: &M::State,
    ) -> bool {
        let all_known_placed = history
            .iter()
            .zip(placed.iter())
            .all(|(op, &done)| done || op.ret.is_none());
        if all_known_placed {
            return true;
        }
        for next in 0..history.len() {
            if placed[next] {
                continue;
            }
            // Real time: nothing unplaced may have returned before `next` was invoked.
            let blocked = history.iter().enumerate().any(|(other, op)| {
                !placed[other]
                    && other != next
                    && op.ret.is_some_and(|ret| ret < history[next].call)
            });
            if blocked {
                continue;
            }
            let op = &history[next];
            if let Some(after) = model.step(state, &op.input, op.output.as_ref()) {
                placed[next] = true;
                if extend(model, history, placed, &after) {
                    return true;
                }
                placed[next] = false;
            }
        }
        false
    }
    extend(
        model,
        history,
        &mut vec![false; history.len()],
        &model.init(),
    )
}

/// A random history of `count` operations: intervals over a small clock, outputs from a
/// sequential run at random points inside them, then optionally one output corrupted.
#[derive(Clone, Debug)]
struct Skeleton {
    /// (call, length, linearization point within, unknown outcome, applied if unknown)
    intervals: Vec<(u64, u64, u64, bool, bool)>,
    choices: Vec<u8>,
    corrupt: Option<(usize, u8)>,
}

fn skeleton() -> impl Strategy<Value = Skeleton> {
    let interval = (
        0u64..12,
        0u64..6,
        0u64..6,
        prop::bool::weighted(0.2),
        any::<bool>(),
    );
    (
        prop::collection::vec(interval, 1..7),
        prop::collection::vec(any::<u8>(), 7),
        prop::option::of((0usize..7, any::<u8>())),
    )
        .prop_map(|(intervals, choices, corrupt)| Skeleton {
            intervals,
            choices,
            corrupt,
        })
}

/// Builds a history: `generate(choice)` picks an input; `run(state, input)` gives the true
/// output and next state; `corrupt(output, choice)` changes an output.
fn build<M: Model, G, R, C>(
    model: &M,
    skeleton: &Skeleton,
    generate: G,
    run: R,
    corrupt: C,
) -> Vec<Operation<M::Input, M::Output>>
where
    M::Input: Clone,
    M::Output: Clone,
    G: Fn(u8) -> M::Input,
    R: Fn(&M::State, &M::Input) -> (Option<M::Output>, M::State),
    C: Fn(&M::Output, u8) -> M::Output,
{
    // Distinct even times for events, odd offsets for linearization points.
    let mut order: Vec<usize> = (0..skeleton.intervals.len()).collect();
    let point = |index: usize| {
        let (call, length, offset, _, _) = skeleton.intervals[index];
        (call * 2) * 16 + (offset.min(length) * 2) * 16 + 1 + index as u64
    };
    order.sort_by_key(|&index| point(index));
    let mut outputs: Vec<Option<M::Output>> = vec![None; skeleton.intervals.len()];
    let inputs: Vec<M::Input> = (0..skeleton.intervals.len())
        .map(|index| generate(skeleton.choices[index]))
        .collect();
    let mut state = model.init();
    for &index in &order {
        let (_, _, _, unknown, applied) = skeleton.intervals[index];
        if unknown && !applied {
            continue;
        }
        let (output, next) = run(&state, &inputs[index]);
        outputs[index] = output;
        state = next;
    }
    (0..skeleton.intervals.len())
        .map(|index| {
            let (call, length, _, unknown, _) = skeleton.intervals[index];
            let mut output = outputs[index].clone();
            if let (Some((target, choice)), Some(value)) = (skeleton.corrupt, &output)
                && target % skeleton.intervals.len() == index
            {
                output = Some(corrupt(value, choice));
            }
            let source = OperationSource {
                process: index.to_string(),
                invoke_line: index + 1,
                complete_line: None,
            };
            Operation {
                input: inputs[index].clone(),
                output: if unknown { None } else { output },
                call: call * 32 + index as u64,
                ret: (!unknown).then_some((call + length) * 32 + 16 + index as u64),
                source,
            }
        })
        .collect()
}

fn assert_agrees<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
) -> Result<(), TestCaseError>
where
    M::Input: std::fmt::Debug,
    M::Output: std::fmt::Debug,
{
    let expected = if brute_force(model, history) {
        Verdict::Linearizable
    } else {
        Verdict::NotLinearizable
    };
    if std::env::var_os("ORACLE_STATS").is_some() {
        eprintln!("oracle: {} {}", model.name(), expected);
    }
    for (threads, partition) in [(1, true), (2, true), (1, false)] {
        let options = CheckOptions {
            threads,
            partition,
            time_budget: None,
            ..CheckOptions::default()
        };
        let report = check_operations(model, history, OperationCounts::default(), &options);
        prop_assert_eq!(
            report.verdict,
            expected,
            "threads={} partition={} history={:#?}",
            threads,
            partition,
            history
        );
    }
    Ok(())
}

fn small_value(choice: u8) -> Value {
    match choice % 4 {
        0 => Value::Nil,
        other => Value::Int(i64::from(other)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn register_matches_brute_force(skeleton in skeleton()) {
        let history = build(&Register, &skeleton,
            |choice| if choice.is_multiple_of(2) { RegisterInput::Read } else { RegisterInput::Write(small_value(choice / 2 % 3 + 1)) },
            |state: &Value, input| match input {
                RegisterInput::Read => (Some(state.clone()), state.clone()),
                RegisterInput::Write(value) => (None, value.clone()),
            },
            |_, choice| small_value(choice));
        assert_agrees(&Register, &history)?;
    }

    #[test]
    fn cas_register_matches_brute_force(skeleton in skeleton()) {
        let history = build(&CasRegister, &skeleton,
            |choice| match choice % 3 {
                0 => CasInput::Read,
                1 => CasInput::Write(small_value(choice / 3 % 3 + 1)),
                _ => CasInput::Cas { expected: small_value(choice / 3), new: small_value(choice / 12 % 3 + 1) },
            },
            |state: &Value, input| match input {
                CasInput::Read => (Some(CasOutput::Read(state.clone())), state.clone()),
                CasInput::Write(value) => (None, value.clone()),
                CasInput::Cas { expected, new } if expected == state => (Some(CasOutput::CasSucceeded), new.clone()),
                CasInput::Cas { .. } => (Some(CasOutput::CasFailed), state.clone()),
            },
            |output, choice| match output {
                CasOutput::Read(_) => CasOutput::Read(small_value(choice)),
                CasOutput::CasSucceeded => CasOutput::CasFailed,
                CasOutput::CasFailed => CasOutput::CasSucceeded,
            });
        assert_agrees(&CasRegister, &history)?;
    }

    #[test]
    fn kv_matches_brute_force(skeleton in skeleton()) {
        let key = |choice: u8| -> Arc<str> { if choice.is_multiple_of(2) { "a".into() } else { "b".into() } };
        let history = build(&Kv, &skeleton,
            |choice| match choice % 3 {
                0 => KvInput::Get { key: key(choice / 3) },
                1 => KvInput::Put { key: key(choice / 3), value: ["x", "y"][usize::from(choice / 6 % 2)].into() },
                _ => KvInput::Append { key: key(choice / 3), value: ["x", "y"][usize::from(choice / 6 % 2)].into() },
            },
            |state, input| {
                let output = match input {
                    KvInput::Get { key } => Some(state.value(key).into()),
                    _ => None,
                };
                (output, Kv.step(state, input, None).unwrap())
            },
            |value, choice| format!("{value}{}", ["x", "y"][usize::from(choice % 2)]).into());
        assert_agrees(&Kv, &history)?;
    }

    #[test]
    fn mutex_matches_brute_force(skeleton in skeleton()) {
        let history = build(&Mutex, &skeleton,
            |choice| if choice.is_multiple_of(2) { MutexInput::Acquire } else { MutexInput::Release },
            |held: &bool, input| (Some(()), Mutex.step(held, input, None).unwrap_or(*held)),
            |_, _| ());
        assert_agrees(&Mutex, &history)?;
    }

    #[test]
    fn log_matches_brute_force(skeleton in skeleton()) {
        let history = build(&Log, &skeleton,
            |choice| if choice.is_multiple_of(2) {
                LogInput::Append(Value::Int(i64::from(choice / 2 % 3)))
            } else {
                LogInput::Read { from: u64::from(choice / 2 % 3), limit: [None, Some(1)][usize::from(choice / 6 % 2)] }
            },
            |log: &Vec<Value>, input| match input {
                LogInput::Append(value) => {
                    let mut next = log.clone();
                    next.push(value.clone());
                    (Some(LogOutput::Appended { offset: log.len() as u64 }), next)
                }
                LogInput::Read { from, limit } => {
                    let start = (*from as usize).min(log.len());
                    let end = limit.map_or(log.len(), |limit| (start + limit as usize).min(log.len()));
                    (Some(LogOutput::Read(log[start..end].to_vec())), log.clone())
                }
            },
            |output, choice| match output {
                LogOutput::Appended { offset } => LogOutput::Appended { offset: offset + 1 + u64::from(choice % 2) },
                LogOutput::Read(values) => {
                    let mut values = values.clone();
                    values.push(Value::Int(i64::from(choice % 3)));
                    LogOutput::Read(values)
                }
            });
        assert_agrees(&Log, &history)?;
    }
}

/// A model without its cheap look before the search ([`Model::impossible`]): the search
/// alone decides.
struct SearchOnly<M>(M);

impl<M: Model> Model for SearchOnly<M> {
    type Input = M::Input;
    type Output = M::Output;
    type State = M::State;

    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn init(&self) -> M::State {
        self.0.init()
    }

    fn step(
        &self,
        state: &M::State,
        input: &M::Input,
        output: Option<&M::Output>,
    ) -> Option<M::State> {
        self.0.step(state, input, output)
    }

    fn is_read_only(&self, input: &M::Input, output: Option<&M::Output>) -> bool {
        self.0.is_read_only(input, output)
    }

    fn read_is_legal(
        &self,
        state: &M::State,
        input: &M::Input,
        output: Option<&M::Output>,
    ) -> bool {
        self.0.read_is_legal(state, input, output)
    }

    fn partition(&self, operations: &[Operation<M::Input, M::Output>]) -> Vec<Partition> {
        self.0.partition(operations)
    }

    fn describe_operation(&self, input: &M::Input, output: Option<&M::Output>) -> String {
        self.0.describe_operation(input, output)
    }

    fn describe_state(&self, state: &M::State) -> String {
        self.0.describe_state(state)
    }
}

/// Operations on a clock of a few ticks, so that calls and returns often fall on the same
/// tick (concurrent, as in the search), with outputs drawn freely rather than from a run:
/// (call, length, unknown outcome, input choice, output choice).
fn loose_operations() -> impl Strategy<Value = Vec<(u64, u64, bool, u8, u8)>> {
    let operation = (
        0u64..6,
        0u64..4,
        prop::bool::weighted(0.15),
        any::<u8>(),
        any::<u8>(),
    );
    prop::collection::vec(operation, 1..7)
}

fn loose<I, O>(
    operations: &[(u64, u64, bool, u8, u8)],
    input: impl Fn(u8) -> I,
    output: impl Fn(&I, u8) -> Option<O>,
) -> Vec<Operation<I, O>> {
    operations
        .iter()
        .enumerate()
        .map(|(index, &(call, length, unknown, choice, read))| {
            let input = input(choice);
            let output = if unknown { None } else { output(&input, read) };
            Operation {
                output,
                input,
                call,
                ret: (!unknown).then_some(call + length),
                source: OperationSource {
                    process: index.to_string(),
                    invoke_line: index + 1,
                    complete_line: None,
                },
            }
        })
        .collect()
}

/// The cheap look never changes a verdict: where it rejects a partition, no order of it is
/// legal (brute force), and the check's verdict with it is the search's alone.
fn assert_rejection_sound<M: Model + Copy>(
    model: M,
    history: &[Operation<M::Input, M::Output>],
) -> Result<(), TestCaseError>
where
    M::Input: std::fmt::Debug + Clone,
    M::Output: std::fmt::Debug + Clone,
{
    for partition in model.partition(history) {
        let members: Vec<&Operation<M::Input, M::Output>> = partition
            .operations
            .iter()
            .map(|&index| &history[index])
            .collect();
        let rejected = model.impossible(&members);
        if std::env::var_os("ORACLE_STATS").is_some() {
            // Which look rejected it, told by its reason's wording (kv has two).
            eprintln!(
                "rejection: {} {}",
                model.name(),
                rejected.as_ref().map_or("none", |r| {
                    if r.reason.contains("returned before it was invoked") {
                        "contradicted"
                    } else {
                        "unwritten"
                    }
                })
            );
        }
        if let Some(impossible) = rejected {
            let owned: Vec<Operation<M::Input, M::Output>> = partition
                .operations
                .iter()
                .map(|&index| history[index].clone())
                .collect();
            prop_assert!(
                !brute_force(&model, &owned),
                "rejected ({}) but linearizable: {:#?}",
                impossible.reason,
                owned
            );
        }
    }
    let options = CheckOptions {
        time_budget: None,
        ..CheckOptions::default()
    };
    let with = check_operations(&model, history, OperationCounts::default(), &options);
    let without = check_operations(
        &SearchOnly(model),
        history,
        OperationCounts::default(),
        &options,
    );
    prop_assert_eq!(with.verdict, without.verdict, "history={:#?}", history);
    assert_agrees(&model, history)
}

fn kv_key(choice: u8) -> Arc<str> {
    ["a", "b"][usize::from(choice % 2)].into()
}

/// Short strings over two letters: what puts and appends write and gets read, so that a
/// read is often, but not always, some concatenation of what was written.
fn kv_text(choice: u8) -> Arc<str> {
    ["", "x", "y", "xy", "yx", "xx"][usize::from(choice % 6)].into()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn register_rejection_before_search_is_sound(operations in loose_operations()) {
        let history = loose(&operations,
            |choice| if choice.is_multiple_of(2) { RegisterInput::Read } else { RegisterInput::Write(small_value(choice / 2 % 3 + 1)) },
            |input, read| matches!(input, RegisterInput::Read).then(|| small_value(read)));
        assert_rejection_sound(Register, &history)?;
    }

    #[test]
    fn cas_register_rejection_before_search_is_sound(operations in loose_operations()) {
        let history = loose(&operations,
            |choice| match choice % 3 {
                0 => CasInput::Read,
                1 => CasInput::Write(small_value(choice / 3 % 3 + 1)),
                _ => CasInput::Cas { expected: small_value(choice / 3), new: small_value(choice / 12 % 3 + 1) },
            },
            |input, read| Some(match input {
                CasInput::Read => CasOutput::Read(small_value(read)),
                CasInput::Write(_) => return None,
                CasInput::Cas { .. } if read.is_multiple_of(2) => CasOutput::CasSucceeded,
                CasInput::Cas { .. } => CasOutput::CasFailed,
            }));
        assert_rejection_sound(CasRegister, &history)?;
    }

    #[test]
    fn kv_rejection_before_search_is_sound(operations in loose_operations()) {
        let history = loose(&operations,
            |choice| match choice % 3 {
                0 => KvInput::Get { key: kv_key(choice / 3) },
                1 => KvInput::Put { key: kv_key(choice / 3), value: kv_text(choice / 6) },
                _ => KvInput::Append { key: kv_key(choice / 3), value: kv_text(choice / 6) },
            },
            |input, read| matches!(input, KvInput::Get { .. }).then(|| kv_text(read)));
        assert_rejection_sound(Kv, &history)?;
    }
}

proptest! {
    // Few of these histories are not linearizable (one read made stale): many cases, each
    // cheap.
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn kv_stale_reads_rejected_before_search_are_sound(skeleton in skeleton()) {
        // Gets of one key read a value the key held at some time (a run's, then possibly one
        // shortened: a stale read), so that the look that compares a get with the last
        // operation before it has work.
        let key: Arc<str> = "a".into();
        let history = build(&Kv, &skeleton,
            |choice| match choice % 4 {
                0 | 1 => KvInput::Get { key: key.clone() },
                2 => KvInput::Put { key: key.clone(), value: ["x", "y"][usize::from(choice / 4 % 2)].into() },
                _ => KvInput::Append { key: key.clone(), value: ["x", "y"][usize::from(choice / 4 % 2)].into() },
            },
            |state, input| {
                let output = match input {
                    KvInput::Get { key } => Some(state.value(key).into()),
                    _ => None,
                };
                (output, Kv.step(state, input, None).unwrap())
            },
            |value, choice| {
                let cut = usize::from(1 + choice % 2).min(value.len());
                if choice.is_multiple_of(4) { value[cut..].into() } else { value[..value.len() - cut].into() }
            });
        assert_rejection_sound(Kv, &history)?;
    }
}
