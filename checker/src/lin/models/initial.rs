//! A model started from a given state instead of its own `init` (Knossos' convention: a
//! register at 0, a multi-register at x = 0, y = 0), for `CheckOptions::initial` and
//! `eosim check --initial`.

use super::{Conversion, FromHistory, Impossible, Model, Operation, Partition, Semantics};
use crate::lin::edn::Value;
use crate::lin::history::RawOperation;

/// Models whose state can be given as an EDN value.
pub trait InitialState: Model {
    /// The state `value` writes down; `Err` says what the model expects instead.
    fn initial_state(value: &Value) -> Result<Self::State, String>;
}

/// `model`, started from `state`.
pub struct Initially<'m, M: Model> {
    pub model: &'m M,
    pub state: M::State,
}

impl<M: Model> Model for Initially<'_, M>
where
    M::State: Sync,
{
    type Input = M::Input;
    type Output = M::Output;
    type State = M::State;

    fn name(&self) -> &'static str {
        self.model.name()
    }

    fn init(&self) -> M::State {
        self.state.clone()
    }

    fn step(
        &self,
        state: &M::State,
        input: &M::Input,
        output: Option<&M::Output>,
    ) -> Option<M::State> {
        self.model.step(state, input, output)
    }

    fn is_read_only(&self, input: &M::Input, output: Option<&M::Output>) -> bool {
        self.model.is_read_only(input, output)
    }

    fn read_is_legal(
        &self,
        state: &M::State,
        input: &M::Input,
        output: Option<&M::Output>,
    ) -> bool {
        self.model.read_is_legal(state, input, output)
    }

    fn resets(&self, input: &M::Input) -> bool {
        self.model.resets(input)
    }

    fn may_enable(&self, reset: &M::Input, read: &M::Input, output: Option<&M::Output>) -> bool {
        self.model.may_enable(reset, read, output)
    }

    /// Depends on the state alone, not on where the model started: sound from any.
    fn outgrown(&self, state: &M::State, input: &M::Input, output: Option<&M::Output>) -> bool {
        self.model.outgrown(state, input, output)
    }

    fn partition(&self, operations: &[Operation<M::Input, M::Output>]) -> Vec<Partition> {
        self.model.partition(operations)
    }

    /// None: the models' cheap looks assume their own initial state (a read of a value
    /// nothing wrote is impossible from `nil`, not from a state that holds it), so the
    /// search decides.
    fn impossible(&self, _operations: &[&Operation<M::Input, M::Output>]) -> Option<Impossible> {
        None
    }

    fn describe_operation(&self, input: &M::Input, output: Option<&M::Output>) -> String {
        self.model.describe_operation(input, output)
    }

    fn describe_state(&self, state: &M::State) -> String {
        self.model.describe_state(state)
    }
}

impl<M: FromHistory> FromHistory for Initially<'_, M>
where
    M::State: Sync,
{
    fn convert(
        raw: &RawOperation,
        semantics: &Semantics,
    ) -> Result<Conversion<M::Input, M::Output>, String> {
        M::convert(raw, semantics)
    }
}
