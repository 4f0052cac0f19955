//! `demo/CounterSM@1`, the reducer of `worlds/counter` (the AgentOS conformance counter).
//!
//! `Start{target}` sets `remaining = target` and `pc = Counting` (`Done` at once if the target
//! is 0); each `Tick` while `Counting` decrements `remaining`, and reaching 0 sets `Done`; a
//! `Tick` in any other phase changes nothing. A null state (the first step) reads as
//! `{pc: Idle, remaining: 0}`.

use serde::{Deserialize, Serialize};
use worldline_sdk::{Output, ReduceError, Reducer, Step};

/// `demo/CounterPc@1`: the counter's phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum CounterPc {
    /// Not started.
    #[default]
    Idle,
    /// Counting down.
    Counting,
    /// Reached zero.
    Done,
}

/// `demo/CounterState@1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterState {
    /// The phase.
    pub pc: CounterPc,
    /// Ticks left until `Done`.
    pub remaining: u64,
}

/// `demo/CounterStart@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterStart {
    /// How many ticks to count.
    pub target: u64,
}

/// `demo/CounterEvent@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum CounterEvent {
    /// Start (or restart) counting down from `target`.
    Start(CounterStart),
    /// One tick (`demo/CounterTick@1`, a unit).
    Tick,
}

/// The reducer.
pub struct Counter;

impl Reducer for Counter {
    type State = CounterState;
    type Event = CounterEvent;

    fn reduce(
        state: Option<CounterState>,
        event: CounterEvent,
        _step: &Step,
    ) -> Result<Output<CounterState>, ReduceError> {
        let mut s = state.unwrap_or_default();
        match event {
            CounterEvent::Start(CounterStart { target }) => {
                s.remaining = target;
                s.pc = if target == 0 {
                    CounterPc::Done
                } else {
                    CounterPc::Counting
                };
            }
            CounterEvent::Tick if s.pc == CounterPc::Counting => {
                s.remaining = s.remaining.saturating_sub(1);
                if s.remaining == 0 {
                    s.pc = CounterPc::Done;
                }
            }
            CounterEvent::Tick => {}
        }
        Ok(Output::new(s))
    }
}

worldline_sdk::reducer!(Counter);

#[cfg(test)]
mod tests;
