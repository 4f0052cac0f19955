//! Deriving a patch: the operations that turn one control plane into another, the way people
//! work (edit the AIR files, propose the difference).

use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::hash::Hash;
use crate::nodes::DefKind;
use crate::plane::ControlPlane;

use super::block_hash;

/// The patch document (as JSON) that turns `live` into `target`: `remove_def`, `replace_def`
/// and `add_def` for the world's own definitions, `set_manifest_refs` for the built-ins listed,
/// and a block op for each manifest block that differs. Compiling it against `live` yields
/// `target`'s manifest.
pub fn derive(live: &ControlPlane, target: &ControlPlane) -> Json {
    let mut ops = Vec::new();
    let own = |plane: &ControlPlane| {
        plane
            .defs()
            .iter()
            .filter(|((_, name), _)| !name.is_sys())
            .map(|((kind, name), def)| ((*kind, name.clone()), def.clone()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (live_defs, target_defs) = (own(live), own(target));
    for ((kind, name), def) in &live_defs {
        if !target_defs.contains_key(&(*kind, name.clone())) {
            ops.push(json!({"remove_def": {"kind": kind.word(), "name": name.to_string(), "pre_hash": def.hash.to_string()}}));
        }
    }
    for ((kind, name), def) in &target_defs {
        match live_defs.get(&(*kind, name.clone())) {
            Some(old) if old.hash == def.hash => {}
            Some(old) => ops.push(json!({"replace_def": {
                "kind": kind.word(), "name": name.to_string(),
                "new_node": def.node.to_json(), "pre_hash": old.hash.to_string(),
            }})),
            None => ops.push(json!({"add_def": {"kind": kind.word(), "node": def.node.to_json()}})),
        }
    }
    if let Some(op) = builtin_refs(live, target) {
        ops.push(op);
    }
    let (old, new) = (live.manifest(), target.manifest());
    if old.defaults != new.defaults {
        ops.push(json!({"set_defaults": {
            "policy": new.defaults.policy.as_ref().map(|p| p.to_string()),
            "cap_grants": new.defaults.cap_grants,
        }}));
    }
    block_op(
        &mut ops,
        "set_routing_events",
        "events",
        &old.routing.events,
        &new.routing.events,
    );
    block_op(
        &mut ops,
        "set_routing_inboxes",
        "inboxes",
        &old.routing.inboxes,
        &new.routing.inboxes,
    );
    block_op(
        &mut ops,
        "set_triggers",
        "triggers",
        &old.triggers,
        &new.triggers,
    );
    block_op(
        &mut ops,
        "set_module_bindings",
        "bindings",
        &old.module_bindings,
        &new.module_bindings,
    );
    block_op(
        &mut ops,
        "set_secrets",
        "secrets",
        &old.secrets,
        &new.secrets,
    );
    json!({"version": super::PATCH_VERSION, "base_manifest_hash": live.manifest_hash().to_string(), "patches": ops})
}

/// A block op (`pre_hash` of the old block, the new block) when the block differs.
fn block_op<T: Serialize + PartialEq>(
    ops: &mut Vec<Json>,
    word: &str,
    field: &str,
    old: &T,
    new: &T,
) {
    if old != new {
        // Manifest blocks are plain data: serializing them cannot fail.
        let new = serde_json::to_value(new).unwrap_or(Json::Null);
        ops.push(json!({ word: { "pre_hash": block_hash(old).to_string(), field: new } }));
    }
}

/// Built-in definitions (`sys/*`) listed by one manifest and not the other.
fn builtin_refs(live: &ControlPlane, target: &ControlPlane) -> Option<Json> {
    let listed = |plane: &ControlPlane| {
        let manifest = plane.manifest();
        DefKind::ALL
            .iter()
            .flat_map(|kind| {
                let refs = manifest
                    .sections()
                    .into_iter()
                    .find(|(section, _)| *section == kind.section())
                    .map(|(_, refs)| refs.clone())
                    .unwrap_or_default();
                refs.into_iter()
                    .filter(|r| r.name.is_sys())
                    .map(move |r| (*kind, r.name, r.hash))
            })
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (old, new) = (listed(live), listed(target));
    let names = |set: &std::collections::BTreeSet<(DefKind, crate::Name, Option<Hash>)>| {
        set.iter()
            .map(|(k, n, _)| (*k, n.clone()))
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (old_names, new_names) = (names(&old), names(&new));
    let add: Vec<Json> = new
        .iter()
        .filter(|(k, n, _)| !old_names.contains(&(*k, n.clone())))
        .filter_map(|(kind, name, _)| {
            let hash = target.def(*kind, name)?.hash;
            Some(json!({"kind": kind.word(), "name": name.to_string(), "hash": hash.to_string()}))
        })
        .collect();
    let remove: Vec<Json> = old_names
        .difference(&new_names)
        .map(|(kind, name)| json!({"kind": kind.word(), "name": name.to_string()}))
        .collect();
    if add.is_empty() && remove.is_empty() {
        return None;
    }
    let mut op = serde_json::Map::new();
    if !add.is_empty() {
        op.insert("add".into(), Json::Array(add));
    }
    if !remove.is_empty() {
        op.insert("remove".into(), Json::Array(remove));
    }
    Some(json!({ "set_manifest_refs": op }))
}
