//! Queries on an open world answered as JSON, shared by the command line (`world state`,
//! `world why`, `world proposals`, `world propose --json`) and the control API, so both give the
//! same documents.

use serde_json::{Value as Json, json};
use worldline_air::Name;
use worldline_kernel::governance::Proposal;
use worldline_kernel::why::{self, Direction, Limits, Target, WhyError};
use worldline_kernel::world::Proposed;
use worldline_kernel::{KernelError, World};

/// Why a query has no answer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The reducer, record or proposal asked about does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The question itself is wrong (a key for an unkeyed reducer, a key that does not read).
    #[error("{0}")]
    BadRequest(String),
    /// The world failed.
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

impl From<WhyError> for QueryError {
    fn from(error: WhyError) -> QueryError {
        match error {
            WhyError::Kernel(error) => QueryError::Kernel(error),
            other @ (WhyError::UnknownSeq { .. } | WhyError::UnknownHash { .. }) => {
                QueryError::NotFound(other.to_string())
            }
        }
    }
}

/// Reads a cell key given on a command line or in a query string: JSON, or else the text itself.
pub fn key_json(text: &str) -> Json {
    worldline_air::json::parse_strict(text).unwrap_or_else(|_| Json::String(text.to_owned()))
}

/// A reducer's state in the plain JSON lens (`null` before its first step); for a keyed
/// reducer, one cell's (with `key`) or every cell's as an object keyed by the cell key's text.
pub fn state_json(world: &World, reducer: &str, key: Option<&Json>) -> Result<Json, QueryError> {
    let name = Name::parse(reducer).map_err(|e| QueryError::BadRequest(e.to_string()))?;
    let module = world
        .plane()
        .module(&name)
        .ok_or_else(|| QueryError::NotFound(format!("{reducer} is not a module of this world")))?;
    let keyed = module.key_schema.is_some();
    let render = |key_bytes: &[u8]| -> Result<Json, QueryError> {
        Ok(world
            .state(&name, key_bytes)?
            .map(|v| v.to_plain_json())
            .unwrap_or(Json::Null))
    };
    match (keyed, key) {
        (false, Some(_)) => Err(QueryError::BadRequest(format!(
            "{reducer} is not keyed: ask without a key"
        ))),
        (false, None) => render(&[]),
        (true, Some(key)) => {
            let key_bytes = world
                .cell_key_from_json(&name, key)
                .map_err(|e| QueryError::BadRequest(e.to_string()))?;
            render(&key_bytes)
        }
        (true, None) => {
            let mut cells = serde_json::Map::new();
            for (key_bytes, _) in world.states().of_reducer(&name) {
                let key_text = match worldline_air::cbor::decode(key_bytes) {
                    Ok(worldline_air::cbor::Cbor::Text(text)) => text,
                    _ => worldline_air::cbor::to_hex(key_bytes),
                };
                cells.insert(key_text, render(key_bytes)?);
            }
            Ok(Json::Object(cells))
        }
    }
}

/// The why graph of `target` as the JSON document `world why --format json` prints.
pub fn why_json(
    world: &World,
    target: Target,
    direction: Direction,
    depth: u32,
) -> Result<Json, QueryError> {
    let store = world.store();
    let resolved = why::resolve(store, target)?;
    let limits = Limits {
        depth,
        ..Limits::default()
    };
    let graph = why::walk(store, &resolved.roots, direction, limits)?;
    let mut hashes = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let hash = store.record_hash(node.record.seq)?;
        hashes.push(hash.unwrap_or(worldline_air::Hash::ZERO));
    }
    Ok(crate::why_cmd::to_json(
        world.plane(),
        &resolved,
        &graph,
        &hashes,
    ))
}

/// One proposal, as `world proposals --json` prints it.
pub fn proposal_json(p: &Proposal) -> Json {
    json!({
        "id": p.id, "status": p.status.word(), "proposed_seq": p.proposed_seq,
        "patch_hash": p.patch_hash.to_string(), "base": p.base.to_string(),
        "candidate": p.candidate.to_string(), "shadow_seq": p.shadow_seq,
    })
}

/// A proposal just journaled, as `world propose --json` prints it.
pub fn proposed_json(proposed: &Proposed) -> Json {
    json!({
        "id": proposed.id, "seq": proposed.seq,
        "patch_hash": proposed.patch_hash.to_string(),
        "candidate": proposed.candidate.to_string(),
        "changes": proposed.changes, "ledger": proposed.ledger,
    })
}
