//! AIR nodes (AIR.md §1): the eight definition kinds, read from JSON and hashed canonically.
//!
//! A node's canonical form is its JSON as re-serialized from the typed node: comments dropped,
//! derived fields filled (a plan's `required_caps`), defaults made explicit (a reducer's empty
//! `effects_emitted`), absent options omitted. Its hash is the SHA-256 of that JSON's canonical
//! CBOR, `$kind` included.

mod ledger;
mod manifest;
mod module;
mod plan;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as Json;

pub use ledger::{
    CapEnforcer, Decision, DefCap, DefEffect, DefPolicy, DefSecret, OriginKind, OriginScope,
    PolicyMatch, PolicyRule,
};
pub use manifest::{
    AIR_VERSION, CapGrant, Defaults, Manifest, ModuleBinding, NamedRef, Routing, RoutingEvent,
    RoutingInbox, Trigger,
};
pub(crate) use manifest::{
    cap_grant, module_bindings, named_ref, routing_event, routing_inbox, trigger,
};
pub use module::{DefModule, ModuleAbi, ModuleKind, PureAbi, ReducerAbi};
pub use plan::{BindAs, BindEffectId, DefPlan, PLAN_STEPS_MAX, PlanEdge, PlanStep, StepOp};

use crate::cbor::json_canonical_bytes;
use crate::error::AirError;
use crate::hash::Hash;
use crate::json::kind_of;
use crate::name::Name;
use crate::reader::{self, Obj};
use crate::types::TypeExpr;

/// A `defschema` node: a named type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DefSchema {
    /// The schema's name.
    pub name: Name,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: TypeExpr,
}

impl DefSchema {
    /// Reads a `defschema`.
    pub fn from_json(json: &Json, path: &str) -> Result<DefSchema, AirError> {
        let mut node = Obj::new(json, path, "a defschema")?;
        node.skip("$kind");
        let schema = DefSchema {
            name: node.req("name", reader::name)?,
            ty: node.req("type", TypeExpr::from_json)?,
        };
        node.finish()?;
        Ok(schema)
    }
}

/// The kinds of node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum DefKind {
    /// `defschema`.
    #[serde(rename = "defschema")]
    Schema,
    /// `defmodule`.
    #[serde(rename = "defmodule")]
    Module,
    /// `defplan`.
    #[serde(rename = "defplan")]
    Plan,
    /// `defeffect`.
    #[serde(rename = "defeffect")]
    Effect,
    /// `defcap`.
    #[serde(rename = "defcap")]
    Cap,
    /// `defpolicy`.
    #[serde(rename = "defpolicy")]
    Policy,
    /// `defsecret`.
    #[serde(rename = "defsecret")]
    Secret,
    /// `manifest`.
    #[serde(rename = "manifest")]
    Manifest,
}

impl DefKind {
    /// Every kind, manifest last.
    pub const ALL: [DefKind; 8] = [
        DefKind::Schema,
        DefKind::Module,
        DefKind::Plan,
        DefKind::Effect,
        DefKind::Cap,
        DefKind::Policy,
        DefKind::Secret,
        DefKind::Manifest,
    ];

    /// The `$kind` word.
    pub fn word(self) -> &'static str {
        match self {
            DefKind::Schema => "defschema",
            DefKind::Module => "defmodule",
            DefKind::Plan => "defplan",
            DefKind::Effect => "defeffect",
            DefKind::Cap => "defcap",
            DefKind::Policy => "defpolicy",
            DefKind::Secret => "defsecret",
            DefKind::Manifest => "manifest",
        }
    }

    /// The kind named by a `$kind` word.
    pub fn from_word(word: &str) -> Option<DefKind> {
        DefKind::ALL.into_iter().find(|k| k.word() == word)
    }

    /// The manifest section that lists definitions of this kind.
    pub fn section(self) -> &'static str {
        match self {
            DefKind::Schema => "schemas",
            DefKind::Module => "modules",
            DefKind::Plan => "plans",
            DefKind::Effect => "effects",
            DefKind::Cap => "caps",
            DefKind::Policy => "policies",
            DefKind::Secret => "secrets",
            DefKind::Manifest => "manifest",
        }
    }

    /// The kind listed in a manifest section.
    pub fn from_section(section: &str) -> Option<DefKind> {
        DefKind::ALL
            .into_iter()
            .find(|k| k.section() == section && *k != DefKind::Manifest)
    }
}

impl std::fmt::Display for DefKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// Any AIR node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// `defschema`.
    Schema(DefSchema),
    /// `defmodule`.
    Module(DefModule),
    /// `defplan`.
    Plan(DefPlan),
    /// `defeffect`.
    Effect(DefEffect),
    /// `defcap`.
    Cap(DefCap),
    /// `defpolicy`.
    Policy(DefPolicy),
    /// `defsecret`.
    Secret(DefSecret),
    /// `manifest`.
    Manifest(Manifest),
}

impl Node {
    /// Reads a node of any kind, dispatching on `$kind`.
    pub fn from_json(json: &Json, path: &str) -> Result<Node, AirError> {
        let object = json.as_object().ok_or_else(|| {
            AirError::new(
                path,
                "bad_shape",
                format!(
                    "expected an AIR node (an object with `$kind`), found {}",
                    kind_of(json)
                ),
            )
        })?;
        let kind_path = format!("{path}.$kind");
        let word = match object.get("$kind") {
            Some(Json::String(word)) => word.as_str(),
            Some(other) => {
                return Err(AirError::new(
                    kind_path,
                    "bad_kind",
                    format!("`$kind` must be a string, found {}", kind_of(other)),
                ));
            }
            None => return Err(AirError::new(path, "missing_kind", "missing `$kind`")),
        };
        let kind = match DefKind::from_word(word) {
            Some(kind) => kind,
            None if word == "defmigration" => {
                return Err(AirError::new(
                    kind_path,
                    "reserved_kind",
                    "`defmigration` is reserved and not supported in AIR v1",
                ));
            }
            None => {
                let words: Vec<&str> = DefKind::ALL.iter().map(|k| k.word()).collect();
                return Err(AirError::new(
                    kind_path,
                    "bad_kind",
                    format!(
                        "unknown `$kind` `{word}`; expected one of {}",
                        words.join(", ")
                    ),
                ));
            }
        };
        Ok(match kind {
            DefKind::Schema => Node::Schema(DefSchema::from_json(json, path)?),
            DefKind::Module => Node::Module(DefModule::from_json(json, path)?),
            DefKind::Plan => Node::Plan(DefPlan::from_json(json, path)?),
            DefKind::Effect => Node::Effect(DefEffect::from_json(json, path)?),
            DefKind::Cap => Node::Cap(DefCap::from_json(json, path)?),
            DefKind::Policy => Node::Policy(DefPolicy::from_json(json, path)?),
            DefKind::Secret => Node::Secret(DefSecret::from_json(json, path)?),
            DefKind::Manifest => Node::Manifest(Manifest::from_json(json, path)?),
        })
    }

    /// The node's kind.
    pub fn kind(&self) -> DefKind {
        match self {
            Node::Schema(_) => DefKind::Schema,
            Node::Module(_) => DefKind::Module,
            Node::Plan(_) => DefKind::Plan,
            Node::Effect(_) => DefKind::Effect,
            Node::Cap(_) => DefKind::Cap,
            Node::Policy(_) => DefKind::Policy,
            Node::Secret(_) => DefKind::Secret,
            Node::Manifest(_) => DefKind::Manifest,
        }
    }

    /// The definition's name (a manifest has none).
    pub fn name(&self) -> Option<&Name> {
        Some(match self {
            Node::Schema(n) => &n.name,
            Node::Module(n) => &n.name,
            Node::Plan(n) => &n.name,
            Node::Effect(n) => &n.name,
            Node::Cap(n) => &n.name,
            Node::Policy(n) => &n.name,
            Node::Secret(n) => &n.name,
            Node::Manifest(_) => return None,
        })
    }

    /// The canonical JSON form, `$kind` included.
    pub fn to_json(&self) -> Json {
        let body = match self {
            Node::Schema(n) => serde_json::to_value(n),
            Node::Module(n) => serde_json::to_value(n),
            Node::Plan(n) => serde_json::to_value(n),
            Node::Effect(n) => serde_json::to_value(n),
            Node::Cap(n) => serde_json::to_value(n),
            Node::Policy(n) => serde_json::to_value(n),
            Node::Secret(n) => serde_json::to_value(n),
            Node::Manifest(n) => serde_json::to_value(n),
        };
        // Serializing these plain data types to a JSON value cannot fail: every map key is a
        // string and there are no non-finite floats.
        let mut body = body.unwrap_or(Json::Null);
        if let Json::Object(map) = &mut body {
            map.insert(
                "$kind".to_owned(),
                Json::String(self.kind().word().to_owned()),
            );
        }
        body
    }

    /// Canonical CBOR of [`Node::to_json`], self-describe tag included.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, AirError> {
        json_canonical_bytes(&self.to_json())
            .map_err(|e| AirError::new(e.path, "not_an_integer", e.reason))
    }

    /// The node hash.
    pub fn hash(&self) -> Result<Hash, AirError> {
        self.canonical_bytes().map(|bytes| Hash::of(&bytes))
    }
}
