//! A mutex, as Knossos defines it: `acquire` is legal iff it is free, `release` iff it is held
//! (by anyone: Knossos does not track the owner).

use super::{Conversion, FromHistory, Model, Semantics, failed, unsupported};
use crate::lin::history::RawOperation;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MutexInput {
    Acquire,
    Release,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Mutex;

impl Model for Mutex {
    type Input = MutexInput;
    type Output = ();
    /// Whether the mutex is held; initially free.
    type State = bool;

    fn name(&self) -> &'static str {
        "mutex"
    }

    fn init(&self) -> bool {
        false
    }

    fn step(&self, held: &bool, input: &MutexInput, _output: Option<&()>) -> Option<bool> {
        match (input, held) {
            (MutexInput::Acquire, false) => Some(true),
            (MutexInput::Release, true) => Some(false),
            _ => None,
        }
    }

    fn describe_operation(&self, input: &MutexInput, _output: Option<&()>) -> String {
        match input {
            MutexInput::Acquire => "acquire".to_string(),
            MutexInput::Release => "release".to_string(),
        }
    }

    fn describe_state(&self, held: &bool) -> String {
        if *held { "held" } else { "free" }.to_string()
    }
}

impl super::InitialState for Mutex {
    /// `true` (held) or `false` (free).
    fn initial_state(value: &crate::lin::edn::Value) -> Result<bool, String> {
        use crate::lin::edn::Value;
        match value {
            Value::Bool(held) => Ok(*held),
            other => Err(format!("true (held) or false (free), found {other}")),
        }
    }
}

impl FromHistory for Mutex {
    fn convert(
        raw: &RawOperation,
        _semantics: &Semantics,
    ) -> Result<Conversion<MutexInput, ()>, String> {
        if failed(raw) {
            return Ok(Conversion::Dropped);
        }
        let input = match raw.f.as_str() {
            "acquire" => MutexInput::Acquire,
            "release" => MutexInput::Release,
            _ => return Err(unsupported("mutex", raw, ":acquire or :release")),
        };
        Ok(Conversion::Operation(input, Some(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquire_needs_free_and_release_needs_held() {
        let mutex = Mutex;
        let held = mutex
            .step(&mutex.init(), &MutexInput::Acquire, None)
            .unwrap();
        assert!(mutex.step(&held, &MutexInput::Acquire, None).is_none());
        assert_eq!(mutex.step(&held, &MutexInput::Release, None), Some(false));
        assert!(mutex.step(&false, &MutexInput::Release, None).is_none());
    }
}
