//! A world's control plane: the manifest with every definition it lists, resolved, validated
//! and hashed. Built from nodes by [`ControlPlane::build`]; the loader and the patch compiler
//! both end here, so there is one place where AIR becomes trusted.

use std::collections::BTreeMap;

use crate::catalog::Catalog;
use crate::error::{AirError, AirErrors};
use crate::hash::Hash;
use crate::name::{Ident, Name};
use crate::nodes::{
    DefCap, DefEffect, DefKind, DefModule, DefPlan, DefPolicy, DefSchema, DefSecret, Manifest, Node,
};
use crate::types::{SchemaLookup, TypeExpr};
use crate::value::Value;

/// Where a node came from: a file and the JSON path of the node inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Display name of the file (or `None` for nodes built in memory).
    pub file: Option<String>,
    /// JSON path of the node, `$` when the file holds just the node.
    pub path: String,
}

impl Origin {
    /// An origin in `file` at `path`.
    pub fn new(file: Option<String>, path: impl Into<String>) -> Origin {
        Origin {
            file,
            path: path.into(),
        }
    }

    /// Re-roots an error whose path is relative to the node (`$.steps[0]`) onto this origin.
    pub fn locate(&self, mut error: AirError) -> AirError {
        let relative = error
            .path
            .strip_prefix('$')
            .unwrap_or(&error.path)
            .to_owned();
        error.path = format!("{}{relative}", self.path);
        if error.file.is_none() {
            error.file = self.file.clone();
        }
        error
    }
}

/// A node and where it came from.
#[derive(Debug, Clone)]
pub struct SourcedNode {
    /// The node.
    pub node: Node,
    /// Its origin.
    pub origin: Origin,
}

/// Options of [`ControlPlane::build`].
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Demand that every manifest reference carries its hash and every module its `wasm_hash`.
    pub require_hashes: bool,
    /// Hashes of module binaries supplied beside the AIR (`--module NAME=FILE.wasm`).
    pub module_hashes: BTreeMap<Name, Hash>,
}

/// A definition in the control plane.
#[derive(Debug, Clone)]
pub struct Def {
    /// The node, in canonical form.
    pub node: Node,
    /// Its node hash.
    pub hash: Hash,
    /// Where it came from.
    pub origin: Origin,
    /// JSON path of its reference in the manifest (`$.schemas[3]`).
    pub listed_at: String,
}

/// A validated control plane.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    manifest: Manifest,
    manifest_hash: Hash,
    manifest_origin: Origin,
    defs: BTreeMap<(DefKind, Name), Def>,
    grant_params: BTreeMap<Ident, Value>,
}

impl ControlPlane {
    /// Resolves, validates and hashes a manifest and the nodes beside it; reports every problem.
    pub fn build(
        manifest: SourcedNode,
        nodes: Vec<SourcedNode>,
        options: &BuildOptions,
    ) -> Result<ControlPlane, AirErrors> {
        crate::build::build(manifest, nodes, options)
    }

    pub(crate) fn assemble(
        manifest: Manifest,
        manifest_hash: Hash,
        manifest_origin: Origin,
        defs: BTreeMap<(DefKind, Name), Def>,
        grant_params: BTreeMap<Ident, Value>,
    ) -> ControlPlane {
        ControlPlane {
            manifest,
            manifest_hash,
            manifest_origin,
            defs,
            grant_params,
        }
    }

    /// The canonical manifest (every reference hashed).
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The manifest's node hash: the identity of this control plane.
    pub fn manifest_hash(&self) -> Hash {
        self.manifest_hash
    }

    /// Where the manifest came from.
    pub fn manifest_origin(&self) -> &Origin {
        &self.manifest_origin
    }

    /// Every definition the manifest lists (built-ins included), by kind and name.
    pub fn defs(&self) -> &BTreeMap<(DefKind, Name), Def> {
        &self.defs
    }

    /// One definition.
    pub fn def(&self, kind: DefKind, name: &Name) -> Option<&Def> {
        self.defs.get(&(kind, name.clone()))
    }

    /// A grant's parameters, normalized against its defcap's schema.
    pub fn grant_params(&self, grant: &str) -> Option<&Value> {
        self.grant_params.get(grant)
    }

    /// A listed schema, or a built-in one.
    ///
    /// Built-in schemas resolve even when unlisted: the catalog is always consistent, and a
    /// built-in effect's or module's own schemas must work wherever it is used.
    pub fn schema(&self, name: &Name) -> Option<&DefSchema> {
        match self.def(DefKind::Schema, name).map(|d| &d.node) {
            Some(Node::Schema(schema)) => Some(schema),
            _ if name.is_sys() => Catalog::get().schemas.get(name),
            _ => None,
        }
    }

    /// A listed module, or a built-in one (built-in modules are always available).
    pub fn module(&self, name: &Name) -> Option<&DefModule> {
        match self.def(DefKind::Module, name).map(|d| &d.node) {
            Some(Node::Module(module)) => Some(module),
            _ if name.is_sys() => Catalog::get().modules.get(name),
            _ => None,
        }
    }

    /// A listed plan.
    pub fn plan(&self, name: &Name) -> Option<&DefPlan> {
        match self.def(DefKind::Plan, name).map(|d| &d.node) {
            Some(Node::Plan(plan)) => Some(plan),
            _ => None,
        }
    }

    /// A listed effect.
    pub fn effect(&self, name: &Name) -> Option<&DefEffect> {
        match self.def(DefKind::Effect, name).map(|d| &d.node) {
            Some(Node::Effect(effect)) => Some(effect),
            _ => None,
        }
    }

    /// The listed effect of this kind (`http.request`).
    pub fn effect_by_kind(&self, kind: &str) -> Option<&DefEffect> {
        self.manifest
            .effects
            .iter()
            .filter_map(|r| self.effect(&r.name))
            .find(|e| e.kind.as_str() == kind)
    }

    /// A listed cap, or a built-in one (built-in caps are always available).
    pub fn cap(&self, name: &Name) -> Option<&DefCap> {
        match self.def(DefKind::Cap, name).map(|d| &d.node) {
            Some(Node::Cap(cap)) => Some(cap),
            _ if name.is_sys() => Catalog::get().caps.get(name),
            _ => None,
        }
    }

    /// A listed policy.
    pub fn policy(&self, name: &Name) -> Option<&DefPolicy> {
        match self.def(DefKind::Policy, name).map(|d| &d.node) {
            Some(Node::Policy(policy)) => Some(policy),
            _ => None,
        }
    }

    /// A listed secret.
    pub fn secret(&self, name: &Name) -> Option<&DefSecret> {
        match self.def(DefKind::Secret, name).map(|d| &d.node) {
            Some(Node::Secret(secret)) => Some(secret),
            _ => None,
        }
    }

    /// The type a listed schema declares.
    pub fn schema_type_of(&self, name: &Name) -> Option<&TypeExpr> {
        self.schema(name).map(|s| &s.ty)
    }

    /// Modules that have no `wasm_hash` yet (no binary was supplied).
    pub fn unbound_modules(&self) -> Vec<&Name> {
        self.defs
            .values()
            .filter_map(|d| match &d.node {
                Node::Module(m) if m.wasm_hash.is_none() => Some(&m.name),
                _ => None,
            })
            .collect()
    }

    /// How many definitions of each kind the manifest lists.
    pub fn counts(&self) -> BTreeMap<DefKind, usize> {
        let mut counts = BTreeMap::new();
        for (kind, _) in self.defs.keys() {
            *counts.entry(*kind).or_insert(0) += 1;
        }
        counts
    }
}

impl SchemaLookup for ControlPlane {
    fn schema_type(&self, name: &Name) -> Option<&TypeExpr> {
        self.schema_type_of(name)
    }
}
