//! Patch documents (AIR.md §8): how the control plane changes, one transaction at a time.

mod compile;
mod derive;
mod scope;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as Json;

pub use compile::{CompiledPatch, DefChange, DefChangeAction, compile};
pub use derive::derive;
pub use scope::{
    PatchScope, SECTION_DEFAULTS, SECTION_MODULE_BINDINGS, SECTION_ROUTING, SECTION_SECRETS,
    SECTION_TRIGGERS,
};

use crate::cbor::{json_canonical_bytes, json_to_cbor};
use crate::error::AirError;
use crate::hash::Hash;
use crate::name::Name;
use crate::nodes::{
    CapGrant, DefKind, ModuleBinding, NamedRef, RoutingEvent, RoutingInbox, Trigger,
};
use crate::reader::{self, Obj};

/// The only patch document version.
pub const PATCH_VERSION: &str = "1";

/// A patch document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PatchDoc {
    /// Always `"1"`.
    pub version: String,
    /// The manifest this patch applies to.
    pub base_manifest_hash: Hash,
    /// The operations, applied in order as one transaction.
    pub patches: Vec<PatchOp>,
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PatchOp {
    /// Adds a definition (and lists it in the manifest).
    AddDef {
        /// Its kind.
        kind: DefKind,
        /// The node, as authored.
        node: Json,
    },
    /// Replaces a definition whose current hash is `pre_hash`.
    ReplaceDef {
        /// Its kind.
        kind: DefKind,
        /// Its name (unchanged by the replacement).
        name: Name,
        /// The new node.
        new_node: Json,
        /// Hash of the node being replaced.
        pre_hash: Hash,
    },
    /// Removes a definition (and its manifest entry).
    RemoveDef {
        /// Its kind.
        kind: DefKind,
        /// Its name.
        name: Name,
        /// Hash of the node being removed.
        pre_hash: Hash,
    },
    /// Lists or unlists definitions (typically built-ins) without changing nodes.
    SetManifestRefs {
        /// References to add.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        add: Vec<RefAdd>,
        /// References to remove.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        remove: Vec<RefRemove>,
    },
    /// Sets the default policy (null clears it) and/or replaces the grants.
    SetDefaults {
        /// `Some(None)` clears the policy.
        #[serde(skip_serializing_if = "Option::is_none")]
        policy: Option<Option<Name>>,
        /// The new grants.
        #[serde(skip_serializing_if = "Option::is_none")]
        cap_grants: Option<Vec<CapGrant>>,
    },
    /// Replaces `routing.events`.
    SetRoutingEvents {
        /// Hash of the block being replaced.
        pre_hash: Hash,
        /// The new block.
        events: Vec<RoutingEvent>,
    },
    /// Replaces `routing.inboxes`.
    SetRoutingInboxes {
        /// Hash of the block being replaced.
        pre_hash: Hash,
        /// The new block.
        inboxes: Vec<RoutingInbox>,
    },
    /// Replaces `triggers`.
    SetTriggers {
        /// Hash of the block being replaced.
        pre_hash: Hash,
        /// The new block.
        triggers: Vec<Trigger>,
    },
    /// Replaces `module_bindings`.
    SetModuleBindings {
        /// Hash of the block being replaced.
        pre_hash: Hash,
        /// The new block.
        bindings: BTreeMap<Name, ModuleBinding>,
    },
    /// Replaces `secrets`.
    SetSecrets {
        /// Hash of the block being replaced.
        pre_hash: Hash,
        /// The new block.
        secrets: Vec<NamedRef>,
    },
}

/// `{kind, name, hash}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RefAdd {
    /// Definition kind.
    pub kind: DefKind,
    /// Name.
    pub name: Name,
    /// Node hash.
    pub hash: Hash,
}

/// `{kind, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RefRemove {
    /// Definition kind.
    pub kind: DefKind,
    /// Name.
    pub name: Name,
}

impl schemars::JsonSchema for DefKind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DefKind".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let words: Vec<&str> = DefKind::ALL.iter().map(|k| k.word()).collect();
        schemars::json_schema!({ "enum": words })
    }
}

/// The hash a block op's `pre_hash` must name: SHA-256 of the block's canonical CBOR.
///
/// Blocks and documents reach here only after [`PatchDoc::from_json`] proved every number in
/// them an integer, so the encoding cannot fail; if it ever did, the hash would be of nothing,
/// which the debug assertion catches in tests.
pub fn block_hash<T: Serialize>(block: &T) -> Hash {
    // Blocks are plain data; serializing to JSON cannot fail and holds no floats.
    let json = serde_json::to_value(block).unwrap_or(Json::Null);
    let bytes = json_canonical_bytes(&json).unwrap_or_default();
    debug_assert!(!bytes.is_empty(), "a patch block without a canonical form");
    Hash::of(&bytes)
}

impl PatchDoc {
    /// Reads a patch document.
    pub fn from_json(json: &Json) -> Result<PatchDoc, AirError> {
        // The document is hashed as written: it must have a canonical form (no floats).
        json_to_cbor(json).map_err(|e| AirError::new(e.path, "not_an_integer", e.reason))?;
        let mut doc = Obj::new(json, "$", "a patch document")?;
        let version = doc.opt("version", |j, p| match j.as_str() {
            Some(PATCH_VERSION) => Ok(PATCH_VERSION.to_owned()),
            _ => Err(AirError::new(
                p,
                "bad_version",
                format!("unsupported patch version {j}; expected \"1\""),
            )),
        })?;
        let base_manifest_hash = doc.req("base_manifest_hash", reader::hash)?;
        let patches = doc.req("patches", |j, p| reader::list(j, p, op))?;
        doc.finish()?;
        if patches.is_empty() {
            return Err(AirError::new(
                "$.patches",
                "bad_patch",
                "a patch needs at least one operation",
            ));
        }
        Ok(PatchDoc {
            version: version.unwrap_or_else(|| PATCH_VERSION.to_owned()),
            base_manifest_hash,
            patches,
        })
    }

    /// Reads a patch document from CBOR (its canonical form, as the CAS holds it, or any
    /// well-formed CBOR of the same JSON shape).
    pub fn from_cbor_bytes(bytes: &[u8]) -> Result<PatchDoc, AirError> {
        let item = crate::cbor::decode(bytes)
            .map_err(|e| AirError::new("$", "bad_patch", format!("not CBOR: {e}")))?;
        let json = crate::cbor::cbor_to_json(&item).map_err(|e| {
            AirError::new(
                "$",
                "bad_patch",
                format!("not a JSON-shaped CBOR item: {e}"),
            )
        })?;
        PatchDoc::from_json(&json)
    }

    /// The patch hash: SHA-256 of the document's canonical CBOR.
    pub fn hash(&self) -> Hash {
        block_hash(self)
    }
}

fn def_kind(json: &Json, path: &str) -> Result<DefKind, AirError> {
    let word = reader::text(json, path)?;
    DefKind::from_word(word)
        .ok_or_else(|| AirError::new(path, "bad_kind", format!("unknown kind `{word}`")))
}

fn op(json: &Json, path: &str) -> Result<PatchOp, AirError> {
    let object = json.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
        AirError::new(
            path,
            "bad_patch",
            "a patch operation is an object with one key, e.g. {\"add_def\": {…}}",
        )
    })?;
    let Some((word, body)) = object.iter().next() else {
        return Err(AirError::new(path, "bad_patch", "empty operation"));
    };
    let body_path = crate::json::join_key(path, word);
    let mut node = Obj::new(body, &body_path, word)?;
    let op = match word.as_str() {
        "add_def" => PatchOp::AddDef { kind: node.req("kind", def_kind)?, node: node.req("node", |j, _| Ok(j.clone()))? },
        "replace_def" => PatchOp::ReplaceDef {
            kind: node.req("kind", def_kind)?,
            name: node.req("name", reader::name)?,
            new_node: node.req("new_node", |j, _| Ok(j.clone()))?,
            pre_hash: node.req("pre_hash", reader::hash)?,
        },
        "remove_def" => PatchOp::RemoveDef {
            kind: node.req("kind", def_kind)?,
            name: node.req("name", reader::name)?,
            pre_hash: node.req("pre_hash", reader::hash)?,
        },
        "set_manifest_refs" => {
            let add = node.opt("add", |j, p| reader::list(j, p, ref_add))?;
            let remove = node.opt("remove", |j, p| reader::list(j, p, ref_remove))?;
            if add.is_none() && remove.is_none() {
                return Err(AirError::new(&body_path, "bad_patch", "set_manifest_refs needs `add` or `remove`"));
            }
            PatchOp::SetManifestRefs { add: add.unwrap_or_default(), remove: remove.unwrap_or_default() }
        }
        "set_defaults" => PatchOp::SetDefaults {
            policy: match node.raw("policy") {
                None => None,
                Some(Json::Null) => Some(None),
                Some(value) => Some(Some(reader::name(value, &format!("{body_path}.policy"))?)),
            },
            cap_grants: node.opt("cap_grants", |j, p| reader::list(j, p, crate::nodes::cap_grant))?,
        },
        "set_routing_events" => PatchOp::SetRoutingEvents {
            pre_hash: node.req("pre_hash", reader::hash)?,
            events: node.req("events", |j, p| reader::list(j, p, crate::nodes::routing_event))?,
        },
        "set_routing_inboxes" => PatchOp::SetRoutingInboxes {
            pre_hash: node.req("pre_hash", reader::hash)?,
            inboxes: node.req("inboxes", |j, p| reader::list(j, p, crate::nodes::routing_inbox))?,
        },
        "set_triggers" => PatchOp::SetTriggers {
            pre_hash: node.req("pre_hash", reader::hash)?,
            triggers: node.req("triggers", |j, p| reader::list(j, p, crate::nodes::trigger))?,
        },
        "set_module_bindings" => PatchOp::SetModuleBindings {
            pre_hash: node.req("pre_hash", reader::hash)?,
            bindings: node.req("bindings", crate::nodes::module_bindings)?,
        },
        "set_secrets" => PatchOp::SetSecrets {
            pre_hash: node.req("pre_hash", reader::hash)?,
            secrets: node.req("secrets", |j, p| {
                reader::list(j, p, |item, item_path| {
                    if item.get("alias").is_some() {
                        let message = "inline secret declarations are not supported: add a defsecret node and list it by {name, hash}";
                        return Err(AirError::new(item_path, "bad_patch", message));
                    }
                    crate::nodes::named_ref(item, item_path)
                })
            })?,
        },
        other => {
            return Err(AirError::new(path, "bad_patch", format!("unknown patch operation `{other}`")));
        }
    };
    node.finish()?;
    Ok(op)
}

fn ref_add(json: &Json, path: &str) -> Result<RefAdd, AirError> {
    let mut node = Obj::new(json, path, "a reference")?;
    let added = RefAdd {
        kind: node.req("kind", def_kind)?,
        name: node.req("name", reader::name)?,
        hash: node.req("hash", reader::hash)?,
    };
    node.finish()?;
    Ok(added)
}

fn ref_remove(json: &Json, path: &str) -> Result<RefRemove, AirError> {
    let mut node = Obj::new(json, path, "a reference")?;
    let removed = RefRemove {
        kind: node.req("kind", def_kind)?,
        name: node.req("name", reader::name)?,
    };
    node.finish()?;
    Ok(removed)
}
