//! The manifest (AIR.md §4): the list of a world's definitions and how they are wired.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as Json;

use crate::error::AirError;
use crate::hash::Hash;
use crate::name::{Ident, Name};
use crate::reader::{self, Obj};

/// The only AIR version this crate reads.
pub const AIR_VERSION: &str = "1";

/// A `manifest` node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Manifest {
    /// Always `"1"`.
    pub air_version: String,
    /// `defschema`s, built-in ones included when used.
    pub schemas: Vec<NamedRef>,
    /// `defmodule`s.
    pub modules: Vec<NamedRef>,
    /// `defplan`s.
    pub plans: Vec<NamedRef>,
    /// `defeffect`s.
    pub effects: Vec<NamedRef>,
    /// `defcap`s (built-in caps need not be listed).
    pub caps: Vec<NamedRef>,
    /// `defpolicy`s.
    pub policies: Vec<NamedRef>,
    /// `defsecret`s.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<NamedRef>,
    /// Event and inbox routing to reducers.
    #[serde(skip_serializing_if = "Routing::is_empty")]
    pub routing: Routing,
    /// Events that start plans.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    /// The world's policy and capability grants.
    #[serde(skip_serializing_if = "Defaults::is_empty")]
    pub defaults: Defaults,
    /// How each module's cap slots resolve to grants.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub module_bindings: BTreeMap<Name, ModuleBinding>,
}

/// `{name, hash}`: a definition by name and content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NamedRef {
    /// The definition's name.
    pub name: Name,
    /// Its node hash; authoring files may omit it, the loader fills it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<Hash>,
}

/// Routing of events and inboxes to reducers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Routing {
    /// Event schema → reducer.
    pub events: Vec<RoutingEvent>,
    /// External source → reducer.
    pub inboxes: Vec<RoutingInbox>,
}

impl Routing {
    /// True when nothing is routed.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.inboxes.is_empty()
    }
}

/// `{event, reducer, key_field?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RoutingEvent {
    /// Event schema; must equal the reducer's `abi.reducer.event`.
    pub event: Name,
    /// The reducer.
    pub reducer: Name,
    /// For keyed reducers: the field holding the cell key (`$value.field` inside a variant).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_field: Option<String>,
}

/// `{source, reducer}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RoutingInbox {
    /// External inbox name.
    pub source: String,
    /// The reducer that receives it.
    pub reducer: Name,
}

/// `{event, plan, correlate_by?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Trigger {
    /// The event schema that starts the plan.
    pub event: Name,
    /// The plan.
    pub plan: Name,
    /// Event field copied to `@var:correlation_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlate_by: Option<String>,
}

/// The world's policy and grants.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Defaults {
    /// The policy every intent is checked against; none means every effect is denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Name>,
    /// Capability grants.
    pub cap_grants: Vec<CapGrant>,
}

impl Defaults {
    /// True when there is neither policy nor grant.
    pub fn is_empty(&self) -> bool {
        self.policy.is_none() && self.cap_grants.is_empty()
    }
}

/// A capability grant `{name, cap, params, expiry_ns?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CapGrant {
    /// Unique grant name, used by plans (`cap`) and module bindings.
    pub name: Ident,
    /// The `defcap` it instantiates.
    pub cap: Name,
    /// Parameters conforming to the defcap's schema (either JSON lens; canonical form is the
    /// tagged lens).
    pub params: Json,
    /// Logical time (ns) after which the grant is expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_ns: Option<u64>,
}

/// `{slots: {slot: grant}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ModuleBinding {
    /// Slot → grant name.
    pub slots: BTreeMap<Ident, Ident>,
}

impl Manifest {
    /// Reads a manifest.
    pub fn from_json(json: &Json, path: &str) -> Result<Manifest, AirError> {
        let mut node = Obj::new(json, path, "a manifest")?;
        node.skip("$kind");
        let air_version = node.req("air_version", |j, p| match j.as_str() {
            Some(AIR_VERSION) => Ok(AIR_VERSION.to_owned()),
            Some(other) => Err(AirError::new(
                p,
                "bad_air_version",
                format!(
                    "unsupported air_version \"{other}\"; this runtime reads AIR version \"1\""
                ),
            )),
            None => Err(AirError::new(
                p,
                "bad_air_version",
                format!(
                    "air_version must be the string \"1\", found {}",
                    crate::json::kind_of(j)
                ),
            )),
        })?;
        let refs = |j: &Json, p: &str| reader::list(j, p, named_ref);
        let manifest = Manifest {
            air_version,
            schemas: node.req("schemas", refs)?,
            modules: node.req("modules", refs)?,
            plans: node.req("plans", refs)?,
            effects: node.req("effects", refs)?,
            caps: node.req("caps", refs)?,
            policies: node.req("policies", refs)?,
            secrets: node.opt("secrets", refs)?.unwrap_or_default(),
            routing: node.opt("routing", routing)?.unwrap_or_default(),
            triggers: node
                .opt("triggers", |j, p| reader::list(j, p, trigger))?
                .unwrap_or_default(),
            defaults: node.opt("defaults", defaults)?.unwrap_or_default(),
            module_bindings: node
                .opt("module_bindings", module_bindings)?
                .unwrap_or_default(),
        };
        node.finish()?;
        Ok(manifest)
    }

    /// The reference lists with their section names, in manifest order.
    pub fn sections(&self) -> [(&'static str, &Vec<NamedRef>); 7] {
        [
            ("schemas", &self.schemas),
            ("modules", &self.modules),
            ("plans", &self.plans),
            ("effects", &self.effects),
            ("caps", &self.caps),
            ("policies", &self.policies),
            ("secrets", &self.secrets),
        ]
    }

    /// Mutable access to one reference list by section name.
    pub fn section_mut(&mut self, section: &str) -> Option<&mut Vec<NamedRef>> {
        Some(match section {
            "schemas" => &mut self.schemas,
            "modules" => &mut self.modules,
            "plans" => &mut self.plans,
            "effects" => &mut self.effects,
            "caps" => &mut self.caps,
            "policies" => &mut self.policies,
            "secrets" => &mut self.secrets,
            _ => return None,
        })
    }

    /// The grant of this name.
    pub fn grant(&self, name: &str) -> Option<&CapGrant> {
        self.defaults
            .cap_grants
            .iter()
            .find(|g| g.name.as_str() == name)
    }
}

pub(crate) fn named_ref(json: &Json, path: &str) -> Result<NamedRef, AirError> {
    let mut node = Obj::new(json, path, "a {name, hash} reference")?;
    let named = NamedRef {
        name: node.req("name", reader::name)?,
        hash: node.opt("hash", reader::hash)?,
    };
    node.finish()?;
    Ok(named)
}

pub(crate) fn routing(json: &Json, path: &str) -> Result<Routing, AirError> {
    let mut node = Obj::new(json, path, "routing")?;
    let routing = Routing {
        events: node
            .opt("events", |j, p| reader::list(j, p, routing_event))?
            .unwrap_or_default(),
        inboxes: node
            .opt("inboxes", |j, p| reader::list(j, p, routing_inbox))?
            .unwrap_or_default(),
    };
    node.finish()?;
    Ok(routing)
}

pub(crate) fn routing_event(json: &Json, path: &str) -> Result<RoutingEvent, AirError> {
    let mut node = Obj::new(json, path, "a routing entry")?;
    let entry = RoutingEvent {
        event: node.req("event", reader::name)?,
        reducer: node.req("reducer", reader::name)?,
        key_field: node.opt("key_field", reader::string)?,
    };
    node.finish()?;
    Ok(entry)
}

pub(crate) fn routing_inbox(json: &Json, path: &str) -> Result<RoutingInbox, AirError> {
    let mut node = Obj::new(json, path, "an inbox route")?;
    let entry = RoutingInbox {
        source: node.req("source", reader::string)?,
        reducer: node.req("reducer", reader::name)?,
    };
    node.finish()?;
    Ok(entry)
}

pub(crate) fn trigger(json: &Json, path: &str) -> Result<Trigger, AirError> {
    let mut node = Obj::new(json, path, "a trigger")?;
    let trigger = Trigger {
        event: node.req("event", reader::name)?,
        plan: node.req("plan", reader::name)?,
        correlate_by: node.opt("correlate_by", reader::string)?,
    };
    node.finish()?;
    Ok(trigger)
}

pub(crate) fn defaults(json: &Json, path: &str) -> Result<Defaults, AirError> {
    let mut node = Obj::new(json, path, "defaults")?;
    let defaults = Defaults {
        policy: node.opt("policy", reader::name)?,
        cap_grants: node
            .opt("cap_grants", |j, p| reader::list(j, p, cap_grant))?
            .unwrap_or_default(),
    };
    node.finish()?;
    Ok(defaults)
}

pub(crate) fn cap_grant(json: &Json, path: &str) -> Result<CapGrant, AirError> {
    let mut node = Obj::new(json, path, "a capability grant")?;
    let grant = CapGrant {
        name: node.req("name", reader::ident)?,
        cap: node.req("cap", reader::name)?,
        params: node.req("params", |j, _| Ok(j.clone()))?,
        expiry_ns: node.opt("expiry_ns", reader::unsigned)?,
    };
    node.finish()?;
    Ok(grant)
}

pub(crate) fn module_bindings(
    json: &Json,
    path: &str,
) -> Result<BTreeMap<Name, ModuleBinding>, AirError> {
    reader::object_of(json, path, reader::name, |j, p| {
        let mut node = Obj::new(j, p, "a module binding")?;
        let slots = node.req("slots", |j, p| {
            reader::object_of(j, p, reader::ident, reader::ident)
        })?;
        node.finish()?;
        Ok(ModuleBinding { slots })
    })
}
