//! What a step returns: the new state and what it emits, or an error.

use core::fmt;

use serde::Serialize;

use crate::envelope::{EventEntry, StepOutput};
use crate::{Effect, to_cbor};

/// Why a step failed. Its message (at most 1 KiB is kept) reaches the host through
/// `worldline.fail` and is journaled; the state stays as it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReduceError {
    message: String,
}

impl ReduceError {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        ReduceError {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ReduceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ReduceError {}

impl From<String> for ReduceError {
    fn from(message: String) -> Self {
        ReduceError { message }
    }
}

impl From<&str> for ReduceError {
    fn from(message: &str) -> Self {
        ReduceError {
            message: message.to_owned(),
        }
    }
}

/// A successful step: the new state (or a deleted cell) plus the domain events, the micro-effect
/// and the annotations it emits. Built with [`Output::new`] or [`Output::delete`] and the
/// chaining methods:
///
/// ```
/// # use worldline_sdk::{Effect, Output};
/// # #[derive(serde::Serialize)] struct Done { id: u64 }
/// let out = Output::new(7u64)
///     .emit("demo/Done@1", &Done { id: 7 })
///     .effect(Effect::timer_set("timer", 1_000, None));
/// assert_eq!(out.state(), Some(&7));
/// ```
///
/// Values are encoded as they are added; an encoding error is kept and fails the step when the
/// output is written.
#[derive(Debug)]
pub struct Output<S> {
    state: Option<S>,
    events: Vec<Result<EventEntry, ReduceError>>,
    effects: Vec<Effect>,
    ann: Option<Result<Vec<u8>, ReduceError>>,
}

impl<S> Output<S> {
    /// Keeps `state` as the new state.
    pub fn new(state: S) -> Self {
        Output {
            state: Some(state),
            events: Vec::new(),
            effects: Vec::new(),
            ann: None,
        }
    }

    /// Deletes the cell (keyed reducers; the output `state` is null).
    pub fn delete() -> Self {
        Output {
            state: None,
            events: Vec::new(),
            effects: Vec::new(),
            ann: None,
        }
    }

    /// Emits a domain event of schema `schema` (`ns/Name@N`, listed in the manifest).
    pub fn emit<E: Serialize + ?Sized>(self, schema: &str, value: &E) -> Self {
        self.push_event(schema, value, None::<&()>)
    }

    /// Emits a domain event with an explicit cell key (for keyed routing of the event).
    pub fn emit_keyed<E, K>(self, schema: &str, value: &E, key: &K) -> Self
    where
        E: Serialize + ?Sized,
        K: Serialize + ?Sized,
    {
        self.push_event(schema, value, Some(key))
    }

    /// Emits the step's micro-effect. AIR v1 allows one per step: a second one fails the step.
    pub fn effect(mut self, effect: Effect) -> Self {
        self.effects.push(effect);
        self
    }

    /// Attaches annotations (the module's `abi.reducer.annotations` schema), replacing any.
    pub fn annotate<A: Serialize + ?Sized>(mut self, ann: &A) -> Self {
        self.ann = Some(to_cbor(ann));
        self
    }

    /// The new state; `None` if the cell is deleted.
    pub fn state(&self) -> Option<&S> {
        self.state.as_ref()
    }

    fn push_event<E, K>(mut self, schema: &str, value: &E, key: Option<&K>) -> Self
    where
        E: Serialize + ?Sized,
        K: Serialize + ?Sized,
    {
        let entry = (|| {
            Ok(EventEntry {
                schema: schema.to_owned(),
                value: to_cbor(value)?,
                key: key.map(to_cbor).transpose()?,
            })
        })()
        .map_err(|e: ReduceError| {
            ReduceError::new(format!("domain event {schema}: {}", e.message()))
        });
        self.events.push(entry);
        self
    }
}

impl<S: Serialize> Output<S> {
    /// The raw output envelope; fails on a deferred encoding error or more than one effect.
    pub fn encode(self) -> Result<StepOutput, ReduceError> {
        if self.effects.len() > 1 {
            return Err(ReduceError::new(format!(
                "a reducer emits at most one effect per step (AIR v1); this step emitted {}",
                self.effects.len()
            )));
        }
        let state = match &self.state {
            Some(s) => {
                Some(to_cbor(s).map_err(|e| ReduceError::new(format!("state: {}", e.message())))?)
            }
            None => None,
        };
        Ok(StepOutput {
            state,
            domain_events: self.events.into_iter().collect::<Result<_, _>>()?,
            effects: self
                .effects
                .iter()
                .map(Effect::to_entry)
                .collect::<Result<_, _>>()?,
            ann: self
                .ann
                .transpose()
                .map_err(|e| ReduceError::new(format!("annotations: {}", e.message())))?,
        })
    }
}
