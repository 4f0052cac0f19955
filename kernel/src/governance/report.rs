//! The shadow report: what a candidate manifest would do, journaled (in the CAS) before anyone
//! decides on it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use worldline_air::ControlPlane;

use super::diff::Change;

/// Everything a shadow run found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowReport {
    /// The proposal.
    pub proposal_id: u64,
    /// The live manifest.
    pub base: String,
    /// The candidate manifest.
    pub candidate: String,
    /// The live head the run started from.
    pub head: u64,
    /// What was run.
    pub inputs: ShadowInputs,
    /// Definitions and manifest blocks added, removed or changed.
    pub ledger: Vec<LedgerDelta>,
    /// Effect intents the candidate emitted, with their admission decisions.
    pub intents: Vec<PredictedIntent>,
    /// Reducer and cell states that would differ from the live world's now.
    pub state_diffs: Vec<StateDiff>,
    /// Inputs after which the candidate's outputs differ from the live manifest's.
    pub divergence: Vec<Divergence>,
    /// Reducer steps that failed under the candidate.
    pub step_failures: Vec<String>,
}

/// Which inputs the shadow ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowInputs {
    /// `replay_last` (the world's recent inputs) or `events` (given by the caller).
    pub mode: String,
    /// How many inputs were run.
    pub count: u64,
    /// For `replay_last`: the seq of the first input re-run.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from_seq: Option<u64>,
}

/// One change to the control plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerDelta {
    /// `grant`, `policy`, `routing`, `trigger`, `module_binding`, or a definition kind
    /// (`defmodule`, `defplan`, `defcap`, …).
    pub section: String,
    /// What changed in it (a name, or `default` for the default policy).
    pub name: String,
    /// `added`, `removed` or `changed`.
    pub action: String,
    /// Before (absent when added).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub old: Option<Json>,
    /// After (absent when removed).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub new: Option<Json>,
}

/// An intent the candidate would emit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredictedIntent {
    /// Which input (0-based, in run order) caused it.
    pub input: u64,
    /// Effect kind.
    pub kind: String,
    /// Grant named.
    pub cap: String,
    /// The intent hash it would have (empty in reports written before it was kept).
    #[serde(default)]
    pub intent_hash: String,
    /// `reducer NAME` or `plan NAME`.
    pub origin: String,
    /// Params (plain JSON).
    pub params: Json,
    /// Admitted by every stage.
    pub admitted: bool,
    /// Each stage's decision: `stage: code`.
    pub decisions: Vec<String>,
}

/// How one reducer or cell state would differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateDiff {
    /// The reducer.
    pub reducer: String,
    /// The cell key (plain JSON), for keyed reducers.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key: Option<Json>,
    /// The differences.
    pub changes: Vec<Change>,
    /// Differences beyond the listed ones.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub more: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Where the two runs' outputs for one input differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    /// Which input (0-based).
    pub input: u64,
    /// Its schema (or record kind when it is not an event).
    pub what: String,
    /// Outputs under the live manifest (`event SCHEMA {…}`, `intent KIND {…}`, …).
    pub live: Vec<String>,
    /// Outputs under the candidate.
    pub candidate: Vec<String>,
}

/// The ledger deltas between two control planes: definitions by kind and name, then the
/// manifest's blocks entry by entry.
pub fn ledger_deltas(base: &ControlPlane, candidate: &ControlPlane) -> Vec<LedgerDelta> {
    let mut out = Vec::new();
    let defs = |plane: &ControlPlane| -> BTreeMap<(String, String), Json> {
        plane
            .defs()
            .iter()
            .filter(|((_, name), _)| !name.is_sys())
            .map(|((kind, name), def)| {
                let node = def.node.to_json();
                ((kind.word().to_owned(), name.to_string()), node)
            })
            .collect()
    };
    compare(&defs(base), &defs(candidate), &mut out);
    let blocks = |plane: &ControlPlane| -> BTreeMap<(String, String), Json> {
        let m = plane.manifest();
        let mut map = BTreeMap::new();
        for grant in &m.defaults.cap_grants {
            let json = serde_json::to_value(grant).unwrap_or(Json::Null);
            map.insert(("grant".to_owned(), grant.name.to_string()), json);
        }
        if let Some(policy) = &m.defaults.policy {
            let key = ("policy".to_owned(), "default".to_owned());
            map.insert(key, Json::String(policy.to_string()));
        }
        for route in &m.routing.events {
            let name = format!("{} -> {}", route.event, route.reducer);
            let json = serde_json::to_value(route).unwrap_or(Json::Null);
            map.insert(("routing".to_owned(), name), json);
        }
        for trigger in &m.triggers {
            let name = format!("{} -> {}", trigger.event, trigger.plan);
            let json = serde_json::to_value(trigger).unwrap_or(Json::Null);
            map.insert(("trigger".to_owned(), name), json);
        }
        for (module, binding) in &m.module_bindings {
            let json = serde_json::to_value(binding).unwrap_or(Json::Null);
            map.insert(("module_binding".to_owned(), module.to_string()), json);
        }
        map
    };
    compare(&blocks(base), &blocks(candidate), &mut out);
    out
}

fn compare(
    old: &BTreeMap<(String, String), Json>,
    new: &BTreeMap<(String, String), Json>,
    out: &mut Vec<LedgerDelta>,
) {
    let keys: std::collections::BTreeSet<_> = old.keys().chain(new.keys()).collect();
    for key in keys {
        let (before, after) = (old.get(key), new.get(key));
        let action = match (before, after) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(_), Some(_)) => "changed",
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (None, None) => continue,
        };
        out.push(LedgerDelta {
            section: key.0.clone(),
            name: key.1.clone(),
            action: action.to_owned(),
            old: before.cloned(),
            new: after.cloned(),
        });
    }
}
