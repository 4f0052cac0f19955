//! What a patch touches: the definitions it adds, replaces, removes or (un)lists, and the
//! manifest sections it rewrites. `sys/governance@1`'s enforcer judges a patch by this.

use std::collections::BTreeSet;

use super::{PatchDoc, PatchOp};
use crate::name::Name;
use crate::nodes::DefKind;

/// `set_defaults` (the default policy and the grants).
pub const SECTION_DEFAULTS: &str = "defaults";
/// `set_routing_events` and `set_routing_inboxes`.
pub const SECTION_ROUTING: &str = "routing";
/// `set_triggers`.
pub const SECTION_TRIGGERS: &str = "triggers";
/// `set_module_bindings`.
pub const SECTION_MODULE_BINDINGS: &str = "module_bindings";
/// `set_secrets`.
pub const SECTION_SECRETS: &str = "secrets";

/// The definitions and manifest sections a patch touches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchScope {
    /// Every definition a def op or a manifest reference op names, as `(kind, name)`.
    /// An `add_def` whose node has no readable `name` is listed under the name `""`, which
    /// no name prefix admits (the patch compiler refuses such a node anyway).
    pub defs: BTreeSet<(DefKind, String)>,
    /// The manifest sections rewritten: the `SECTION_*` words.
    pub sections: BTreeSet<&'static str>,
}

impl PatchDoc {
    /// What this patch touches.
    pub fn scope(&self) -> PatchScope {
        let mut scope = PatchScope::default();
        for op in &self.patches {
            match op {
                PatchOp::AddDef { kind, node } => {
                    let name = node.get("name").and_then(|n| n.as_str()).unwrap_or("");
                    scope.defs.insert((*kind, name.to_owned()));
                }
                PatchOp::ReplaceDef { kind, name, .. } | PatchOp::RemoveDef { kind, name, .. } => {
                    scope.defs.insert((*kind, name_text(name)));
                }
                PatchOp::SetManifestRefs { add, remove } => {
                    let added = add.iter().map(|r| (r.kind, name_text(&r.name)));
                    let removed = remove.iter().map(|r| (r.kind, name_text(&r.name)));
                    scope.defs.extend(added.chain(removed));
                }
                PatchOp::SetDefaults { .. } => {
                    scope.sections.insert(SECTION_DEFAULTS);
                }
                PatchOp::SetRoutingEvents { .. } | PatchOp::SetRoutingInboxes { .. } => {
                    scope.sections.insert(SECTION_ROUTING);
                }
                PatchOp::SetTriggers { .. } => {
                    scope.sections.insert(SECTION_TRIGGERS);
                }
                PatchOp::SetModuleBindings { .. } => {
                    scope.sections.insert(SECTION_MODULE_BINDINGS);
                }
                PatchOp::SetSecrets { .. } => {
                    scope.sections.insert(SECTION_SECRETS);
                }
            }
        }
        scope
    }
}

fn name_text(name: &Name) -> String {
    name.as_str().to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_scope_names_every_def_and_section_a_patch_touches() {
        let zero = format!("sha256:{}", "0".repeat(64));
        let doc = PatchDoc::from_json(&json!({
            "version": "1",
            "base_manifest_hash": zero,
            "patches": [
                {"add_def": {"kind": "defplan", "node": {"$kind": "defplan", "name": "agent/fetch@2"}}},
                {"replace_def": {"kind": "defmodule", "name": "agent/Counter@1", "new_node": {}, "pre_hash": zero}},
                {"remove_def": {"kind": "defcap", "name": "demo/http@1", "pre_hash": zero}},
                {"set_manifest_refs": {"add": [{"kind": "defschema", "name": "sys/TimerSetParams@1", "hash": zero}]}},
                {"set_defaults": {"policy": null}},
                {"set_triggers": {"pre_hash": zero, "triggers": []}},
                {"set_routing_events": {"pre_hash": zero, "events": []}},
            ]
        }))
        .unwrap();
        let scope = doc.scope();
        let defs: Vec<(&str, &str)> = scope
            .defs
            .iter()
            .map(|(k, n)| (k.word(), n.as_str()))
            .collect();
        assert_eq!(
            defs,
            [
                ("defschema", "sys/TimerSetParams@1"),
                ("defmodule", "agent/Counter@1"),
                ("defplan", "agent/fetch@2"),
                ("defcap", "demo/http@1"),
            ]
        );
        let sections: Vec<&str> = scope.sections.iter().copied().collect();
        assert_eq!(sections, ["defaults", "routing", "triggers"]);
    }
}
