//! The schemas of `worlds/safe-upgrade`, shared by both versions of its reducer (the state
//! schema stays the same across the upgrade, so state carries over).

use serde::{Deserialize, Serialize};

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
