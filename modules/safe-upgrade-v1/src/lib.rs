//! `upgrade/Ledger@1`, version 1 (worlds/safe-upgrade): counts the fetches the plans report
//! and logs each one, tagged with this version, so a test can tell which reducer saw what.

use serde::{Deserialize, Serialize};
use worldline_sdk::{Output, ReduceError, Reducer, Step};

/// `upgrade/State@1` (the same schema in both versions: state carries over the upgrade).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Fetches reported.
    pub fetched: u64,
    /// One line per fetch.
    pub log: Vec<String>,
}

/// `upgrade/Fetched@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetched {
    /// What was fetched.
    pub url: String,
    /// The HTTP status.
    pub status: i64,
    /// The version of the plan that fetched it.
    pub version: u64,
}

/// `upgrade/Event@1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$tag", content = "$value")]
pub enum Event {
    /// A plan's result.
    Fetched(Fetched),
}

/// The reducer.
pub struct Ledger;

impl Reducer for Ledger {
    type State = State;
    type Event = Event;

    fn reduce(
        state: Option<State>,
        event: Event,
        _step: &Step,
    ) -> Result<Output<State>, ReduceError> {
        let mut s = state.unwrap_or_default();
        let Event::Fetched(f) = event;
        s.fetched += 1;
        s.log.push(format!(
            "reducer v1: plan v{} fetched {} ({})",
            f.version, f.url, f.status
        ));
        Ok(Output::new(s))
    }
}

worldline_sdk::reducer!(Ledger);
