//! Semantic validation of a control plane (AIR.md §1–7): everything a JSON Schema cannot say.
//!
//! World definitions are checked in full; built-in ones are consistent by construction (the
//! catalog test proves it), so only their wiring into the world is checked. Every problem is
//! reported, located at the node (file, JSON path) or the manifest entry it concerns.

mod plans;
mod types;
mod wiring;

use std::collections::{BTreeMap, BTreeSet};

use crate::build::CATALOG_ORIGIN;
use crate::error::AirError;
use crate::name::{Ident, Name};
use crate::nodes::{DefKind, Node};
use crate::plane::{ControlPlane, Def};
use crate::value::Value;

/// Validates a drafted control plane; returns the problems and the normalized grant params.
///
/// `unresolved` names listed definitions the builder could not resolve (already reported):
/// references to them are not reported again as dangling.
pub(crate) fn validate(
    plane: &ControlPlane,
    unresolved: &BTreeSet<Name>,
) -> (Vec<AirError>, BTreeMap<Ident, Value>) {
    let mut validator = Validator {
        plane,
        unresolved,
        errors: Vec::new(),
    };
    let world_defs: Vec<&Def> = plane.defs().values().filter(|d| !is_builtin(d)).collect();
    for def in &world_defs {
        match &def.node {
            Node::Schema(schema) => {
                validator.check_type(def, "$.type", &schema.ty);
                validator.check_ref_chain(def, &schema.ty);
            }
            Node::Module(_) => validator.module(def),
            Node::Effect(_) => validator.effect(def),
            Node::Cap(_) => validator.cap(def),
            Node::Policy(_) => validator.policy(def),
            Node::Secret(_) => validator.secret(def),
            Node::Plan(_) => validator.plan(def),
            Node::Manifest(_) => {}
        }
    }
    validator.schema_cycles();
    validator.effect_kinds_unique();
    validator.routing();
    validator.triggers();
    let grants = validator.defaults();
    validator.module_bindings();
    (validator.errors, grants)
}

fn is_builtin(def: &Def) -> bool {
    def.origin.file.as_deref() == Some(CATALOG_ORIGIN)
}

pub(crate) struct Validator<'a> {
    plane: &'a ControlPlane,
    unresolved: &'a BTreeSet<Name>,
    errors: Vec<AirError>,
}

impl Validator<'_> {
    /// Reports a problem in a definition, at `rel_path` inside it.
    fn at_def(
        &mut self,
        def: &Def,
        rel_path: &str,
        code: &'static str,
        message: impl Into<String>,
    ) {
        let message = message.into();
        if self.is_cascade(code, &message) {
            return;
        }
        let error = if is_builtin(def) {
            let name = def.node.name().map(|n| n.to_string()).unwrap_or_default();
            self.plane.manifest_origin().locate(AirError::new(
                &def.listed_at,
                code,
                format!("{name}: {message}"),
            ))
        } else {
            def.origin.locate(AirError::new(rel_path, code, message))
        };
        self.errors.push(error);
    }

    /// Reports a problem in the manifest, at `rel_path`.
    fn at_manifest(&mut self, rel_path: &str, code: &'static str, message: impl Into<String>) {
        let message = message.into();
        if self.is_cascade(code, &message) {
            return;
        }
        self.errors.push(
            self.plane
                .manifest_origin()
                .locate(AirError::new(rel_path, code, message)),
        );
    }

    /// A dangling reference to a definition the builder already reported as unresolved.
    fn is_cascade(&self, code: &str, message: &str) -> bool {
        code == "dangling_ref"
            && self
                .unresolved
                .iter()
                .any(|name| mentions(message, name.as_str()))
    }

    /// True if the schema resolves (listed, or built in).
    fn schema_exists(&self, name: &Name) -> bool {
        self.plane.schema(name).is_some()
    }

    /// Requires that a schema named by a definition resolves.
    fn need_schema(&mut self, def: &Def, rel_path: &str, name: &Name) {
        if !self.schema_exists(name) {
            self.at_def(
                def,
                rel_path,
                "dangling_ref",
                format!("schema {name} is not listed in the manifest's `schemas`"),
            );
        }
    }

    /// Like [`Validator::need_schema`], for a reference in the manifest itself.
    fn need_schema_in_manifest(&mut self, rel_path: &str, name: &Name) -> bool {
        let exists = self.schema_exists(name);
        if !exists {
            self.at_manifest(
                rel_path,
                "dangling_ref",
                format!("schema {name} is not listed in the manifest's `schemas`"),
            );
        }
        exists
    }

    fn listed(&self, kind: DefKind, name: &Name) -> bool {
        self.plane.def(kind, name).is_some()
    }
}

/// True if `message` names `name` as a whole word (names are distinctive: `ns/Name@N`).
fn mentions(message: &str, name: &str) -> bool {
    message.match_indices(name).any(|(at, _)| {
        let next = message[at + name.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_digit())
    })
}
