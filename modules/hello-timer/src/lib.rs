//! `demo/TimerSM@1`, the reducer of `worlds/hello-timer` (AgentOS example 01).
//!
//! `Start{deliver_at_ns, key?}` records the deadline and key, sets `Awaiting` and emits
//! `timer.set` through cap slot `default` (`Done` at once if the deadline is 0); `Fired` while
//! awaiting sets `Done` and copies the timer's key to `fired_key`. Anything else changes nothing.

use serde::{Deserialize, Serialize};
use worldline_sdk::{Effect, Output, ReduceError, Reducer, Step, TimerFired};

/// `demo/TimerPc@1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum TimerPc {
    /// Not started.
    #[default]
    Idle,
    /// Waiting for the timer.
    Awaiting,
    /// The timer fired (or the deadline was 0).
    Done,
    /// Reserved by the AgentOS schema; this reducer never sets it.
    TimedOut,
}

/// `demo/TimerState@1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerState {
    /// The phase.
    pub pc: TimerPc,
    /// The key the timer was started with.
    pub key: Option<String>,
    /// The requested deadline.
    pub deadline_ns: Option<u64>,
    /// The key the fired timer carried.
    pub fired_key: Option<String>,
}

/// `demo/TimerStart@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerStart {
    /// When the timer should fire (ns since the epoch).
    pub deliver_at_ns: u64,
    /// An optional key.
    pub key: Option<String>,
}

/// `demo/TimerEvent@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum TimerEvent {
    /// Start waiting.
    Start(TimerStart),
    /// The timer's receipt.
    Fired(TimerFired),
}

/// The reducer.
pub struct HelloTimer;

impl Reducer for HelloTimer {
    type State = TimerState;
    type Event = TimerEvent;

    fn reduce(
        state: Option<TimerState>,
        event: TimerEvent,
        _step: &Step,
    ) -> Result<Output<TimerState>, ReduceError> {
        let mut s = state.unwrap_or_default();
        match event {
            TimerEvent::Start(start) => {
                s.key = start.key.clone();
                s.deadline_ns = Some(start.deliver_at_ns);
                s.fired_key = None;
                if start.deliver_at_ns == 0 {
                    s.pc = TimerPc::Done;
                    return Ok(Output::new(s));
                }
                s.pc = TimerPc::Awaiting;
                let timer = Effect::timer_set("default", start.deliver_at_ns, start.key.as_deref());
                Ok(Output::new(s).effect(timer))
            }
            TimerEvent::Fired(fired) if s.pc == TimerPc::Awaiting => {
                s.pc = TimerPc::Done;
                s.fired_key = fired.receipt.key.or(fired.requested.key);
                Ok(Output::new(s))
            }
            TimerEvent::Fired(_) => Ok(Output::new(s)),
        }
    }
}

worldline_sdk::reducer!(HelloTimer);
