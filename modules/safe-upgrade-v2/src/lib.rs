//! `upgrade/Ledger@1`, version 2 (worlds/safe-upgrade): counts the fetches the plans report
//! and logs each one, tagged with this version, so a test can tell which reducer saw what.

use worldline_sdk::{Output, ReduceError, Reducer, Step};

#[path = "../../safe-upgrade-v1/src/schema.rs"]
mod schema;
pub use schema::{Event, Fetched, State};

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
            "reducer v2: plan v{} fetched {} ({})",
            f.version, f.url, f.status
        ));
        Ok(Output::new(s))
    }
}

worldline_sdk::reducer!(Ledger);
