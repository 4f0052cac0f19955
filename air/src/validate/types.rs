//! Checks on type expressions: references resolve, no recursion, no ambiguous options, key
//! types.

use std::collections::BTreeSet;

use crate::json::join_key;
use crate::name::Name;
use crate::nodes::{DefKind, Node};
use crate::plane::Def;
use crate::types::{REF_CHAIN_MAX, TypeExpr};

use super::Validator;

impl Validator<'_> {
    /// Checks a type expression that sits at `rel_path` inside `def`.
    pub(super) fn check_type(&mut self, def: &Def, rel_path: &str, ty: &TypeExpr) {
        match ty {
            TypeExpr::Record(fields) | TypeExpr::Variant(fields) => {
                let base = join_key(rel_path, ty.keyword());
                for (field, field_type) in fields {
                    self.check_type(def, &join_key(&base, field), field_type);
                }
            }
            TypeExpr::List(inner) | TypeExpr::Set(inner) => {
                self.check_type(def, &join_key(rel_path, ty.keyword()), inner)
            }
            TypeExpr::Option(inner) => {
                let inner_path = join_key(rel_path, "option");
                if let Some(resolved @ (TypeExpr::Option(_) | TypeExpr::Unit)) =
                    inner.resolve(self.plane)
                {
                    let message = format!(
                        "an option of {} cannot tell none from some: both encode as null",
                        resolved.keyword()
                    );
                    self.at_def(def, &inner_path, "ambiguous_option", message);
                }
                self.check_type(def, &inner_path, inner);
            }
            TypeExpr::Map { key, value } => {
                let map_path = join_key(rel_path, "map");
                self.check_type(def, &join_key(&map_path, "key"), key);
                self.check_type(def, &join_key(&map_path, "value"), value);
            }
            TypeExpr::Ref(name) if !self.schema_exists(name) => {
                let message = format!("schema {name} is not listed in the manifest's `schemas`");
                self.at_def(def, &join_key(rel_path, "ref"), "dangling_ref", message);
            }
            _ => {}
        }
    }

    /// Reports a schema that is only a chain of refs longer than [`REF_CHAIN_MAX`]: nothing
    /// would ever resolve it (and no check could see through it).
    pub(super) fn check_ref_chain(&mut self, def: &Def, ty: &TypeExpr) {
        let mut refs = Vec::new();
        ty.refs(&mut refs);
        let all_exist = refs.iter().all(|name| self.schema_exists(name));
        if all_exist
            && ty.resolve(self.plane).is_none()
            && find_cycle_from(def, self.plane).is_none()
        {
            let message = format!(
                "a chain of more than {REF_CHAIN_MAX} refs; refer to the structural type more directly"
            );
            self.at_def(def, "$.type", "ref_chain_too_long", message);
        }
    }

    /// Reports every schema that refers to itself, directly or through others.
    pub(super) fn schema_cycles(&mut self) {
        let plane = self.plane;
        let mut reported: BTreeSet<Name> = BTreeSet::new();
        for ((kind, name), def) in plane.defs() {
            if *kind != DefKind::Schema || reported.contains(name) {
                continue;
            }
            if let Some(cycle) = find_cycle(name, plane) {
                reported.extend(cycle.iter().cloned());
                let path: Vec<String> = cycle.iter().map(Name::to_string).collect();
                let message = format!(
                    "recursive type: {} → {name}; AIR types cannot refer to themselves",
                    path.join(" → ")
                );
                self.at_def(def, "$.type", "recursive_type", message);
            }
        }
    }

    /// True if `name` names a schema whose type can key a map or a cell.
    pub(super) fn is_key_schema(&self, name: &Name) -> bool {
        self.plane
            .schema(name)
            .and_then(|s| s.ty.resolve(self.plane))
            .is_some_and(TypeExpr::is_map_key)
    }
}

fn find_cycle_from(def: &Def, plane: &crate::plane::ControlPlane) -> Option<Vec<Name>> {
    def.node.name().and_then(|name| find_cycle(name, plane))
}

/// A cycle of schema references that starts and ends at `start`, if there is one.
fn find_cycle(start: &Name, plane: &crate::plane::ControlPlane) -> Option<Vec<Name>> {
    // Depth-first over refs, bounded by the number of schemas (each visited once).
    let mut stack: Vec<(Name, Vec<Name>)> = vec![(start.clone(), vec![start.clone()])];
    let mut seen: BTreeSet<Name> = BTreeSet::new();
    while let Some((current, trail)) = stack.pop() {
        let Some(Node::Schema(schema)) = plane.def(DefKind::Schema, &current).map(|d| &d.node)
        else {
            continue;
        };
        let mut refs = Vec::new();
        schema.ty.refs(&mut refs);
        for next in refs {
            if next == *start {
                return Some(trail);
            }
            if seen.insert(next.clone()) {
                let mut next_trail = trail.clone();
                next_trail.push(next.clone());
                stack.push((next, next_trail));
            }
        }
    }
    None
}
