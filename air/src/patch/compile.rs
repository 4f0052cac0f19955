//! The patch compiler: check the document, check the base, apply every op to a working copy as
//! one transaction, then re-validate the whole result. Every reason is reported at once.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;

use crate::build::CATALOG_ORIGIN;
use crate::catalog::Catalog;
use crate::error::{AirError, AirErrors};
use crate::hash::Hash;
use crate::name::Name;
use crate::nodes::{DefKind, Manifest, NamedRef, Node};
use crate::plane::{BuildOptions, ControlPlane, Origin, SourcedNode};

use super::{PatchDoc, PatchOp, block_hash};

/// A compiled patch: the candidate control plane and what it changes.
#[derive(Debug, Clone)]
pub struct CompiledPatch {
    /// The validated result.
    pub plane: ControlPlane,
    /// Hash of the patch document.
    pub patch_hash: Hash,
    /// Definitions added, removed or changed, in kind then name order.
    pub changes: Vec<DefChange>,
}

/// One definition the patch touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefChange {
    /// Its kind.
    pub kind: DefKind,
    /// Its name.
    pub name: Name,
    /// What happens to it.
    pub action: DefChangeAction,
}

/// Added, removed or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DefChangeAction {
    /// New.
    Added,
    /// Gone.
    Removed,
    /// Same name, new hash.
    Changed,
}

/// Compiles a patch document against a live control plane.
pub fn compile(
    base: &ControlPlane,
    doc_json: &Json,
    options: &BuildOptions,
) -> Result<CompiledPatch, AirErrors> {
    let locate = |e: AirError| e.in_file("patch");
    let doc = PatchDoc::from_json(doc_json).map_err(|e| AirErrors::from(locate(e)))?;
    let mut errors = AirErrors::default();
    if doc.base_manifest_hash != base.manifest_hash() {
        let message = format!(
            "the patch is based on manifest {} but the live manifest is {}",
            doc.base_manifest_hash,
            base.manifest_hash()
        );
        errors.push(locate(AirError::new(
            "$.base_manifest_hash",
            "stale_base",
            message,
        )));
    }
    let mut work = Working::from_base(base);
    for (index, op) in doc.patches.iter().enumerate() {
        if let Err(error) = work.apply(op, &format!("$.patches[{index}]")) {
            errors.push(locate(error));
        }
    }
    let manifest_origin = Origin::new(Some("patched manifest".to_owned()), "$");
    let nodes: Vec<SourcedNode> = work.nodes.into_values().collect();
    let manifest = SourcedNode {
        node: Node::Manifest(work.manifest),
        origin: manifest_origin,
    };
    let built = ControlPlane::build(manifest, nodes, options);
    let plane = match built {
        Ok(plane) if errors.is_empty() => plane,
        Ok(_) => return Err(errors),
        Err(build_errors) => {
            errors.0.extend(build_errors.0);
            return Err(errors);
        }
    };
    let changes = diff(base, &plane);
    Ok(CompiledPatch {
        plane,
        patch_hash: doc.hash(),
        changes,
    })
}

/// The working copy the ops edit: the manifest and the world's own nodes.
struct Working {
    manifest: Manifest,
    nodes: BTreeMap<(DefKind, Name), SourcedNode>,
}

impl Working {
    fn from_base(base: &ControlPlane) -> Working {
        let nodes = base
            .defs()
            .iter()
            .filter(|(_, def)| def.origin.file.as_deref() != Some(CATALOG_ORIGIN))
            .map(|((kind, name), def)| {
                let origin = Origin::new(Some(format!("{kind} {name}")), "$");
                (
                    (*kind, name.clone()),
                    SourcedNode {
                        node: def.node.clone(),
                        origin,
                    },
                )
            })
            .collect();
        Working {
            manifest: base.manifest().clone(),
            nodes,
        }
    }

    fn current_hash(&self, kind: DefKind, name: &Name) -> Option<Hash> {
        self.nodes
            .get(&(kind, name.clone()))
            .and_then(|n| n.node.hash().ok())
    }

    fn section(&mut self, kind: DefKind, op_path: &str) -> Result<&mut Vec<NamedRef>, AirError> {
        let section = kind.section();
        self.manifest.section_mut(section).ok_or_else(|| {
            AirError::new(
                op_path,
                "bad_kind",
                format!("{kind} is not listed in a manifest section"),
            )
        })
    }

    fn apply(&mut self, op: &PatchOp, path: &str) -> Result<(), AirError> {
        match op {
            PatchOp::AddDef { kind, node } => {
                let op_path = format!("{path}.add_def");
                let parsed = parse_def(*kind, node, &format!("{op_path}.node"))?;
                let Some(name) = parsed.name().cloned() else {
                    return Err(AirError::new(
                        op_path,
                        "bad_kind",
                        "a manifest is not a definition",
                    ));
                };
                refuse_sys(&name, &op_path)?;
                if self.nodes.contains_key(&(*kind, name.clone())) {
                    return Err(AirError::new(
                        op_path,
                        "already_defined",
                        format!("{kind} {name} already exists; use replace_def"),
                    ));
                }
                // The compiler writes the hash of what it adds (a node that cannot be hashed
                // is reported when the result is built).
                let hash = parsed.hash().ok();
                self.section(*kind, path)?.push(NamedRef {
                    name: name.clone(),
                    hash,
                });
                let origin = Origin::new(Some("patch".to_owned()), format!("{op_path}.node"));
                self.nodes.insert(
                    (*kind, name),
                    SourcedNode {
                        node: parsed,
                        origin,
                    },
                );
            }
            PatchOp::ReplaceDef {
                kind,
                name,
                new_node,
                pre_hash,
            } => {
                let op_path = format!("{path}.replace_def");
                refuse_sys(name, &op_path)?;
                self.check_pre_hash(*kind, name, *pre_hash, &op_path)?;
                let parsed = parse_def(*kind, new_node, &format!("{op_path}.new_node"))?;
                if parsed.name() != Some(name) {
                    let message = format!(
                        "new_node is named {}, not {name}; a rename is remove_def + add_def",
                        parsed.name().map(|n| n.to_string()).unwrap_or_default()
                    );
                    return Err(AirError::new(
                        format!("{op_path}.new_node.name"),
                        "name_mismatch",
                        message,
                    ));
                }
                let hash = parsed.hash().ok();
                for entry in self
                    .section(*kind, path)?
                    .iter_mut()
                    .filter(|r| r.name == *name)
                {
                    entry.hash = hash;
                }
                let origin = Origin::new(Some("patch".to_owned()), format!("{op_path}.new_node"));
                self.nodes.insert(
                    (*kind, name.clone()),
                    SourcedNode {
                        node: parsed,
                        origin,
                    },
                );
            }
            PatchOp::RemoveDef {
                kind,
                name,
                pre_hash,
            } => {
                let op_path = format!("{path}.remove_def");
                refuse_sys(name, &op_path)?;
                self.check_pre_hash(*kind, name, *pre_hash, &op_path)?;
                self.nodes.remove(&(*kind, name.clone()));
                self.section(*kind, path)?.retain(|r| r.name != *name);
            }
            PatchOp::SetManifestRefs { add, remove } => {
                let op_path = format!("{path}.set_manifest_refs");
                for (index, added) in add.iter().enumerate() {
                    let item_path = format!("{op_path}.add[{index}]");
                    let actual = if added.name.is_sys() {
                        Catalog::get().hash(added.kind, &added.name)
                    } else {
                        self.current_hash(added.kind, &added.name)
                    };
                    match actual {
                        None => {
                            return Err(AirError::new(
                                item_path,
                                "unknown_def",
                                format!("no {} named {}", added.kind, added.name),
                            ));
                        }
                        Some(actual) if actual != added.hash => {
                            return Err(AirError::new(
                                item_path,
                                "hash_mismatch",
                                format!("{} hashes to {actual}, not {}", added.name, added.hash),
                            ));
                        }
                        Some(_) => {}
                    }
                    let section = self.section(added.kind, &item_path)?;
                    if !section.iter().any(|r| r.name == added.name) {
                        section.push(NamedRef {
                            name: added.name.clone(),
                            hash: Some(added.hash),
                        });
                    }
                }
                for (index, removed) in remove.iter().enumerate() {
                    let removed_path = format!("{op_path}.remove[{index}]");
                    self.section(removed.kind, &removed_path)?
                        .retain(|r| r.name != removed.name);
                }
            }
            PatchOp::SetDefaults { policy, cap_grants } => {
                if let Some(policy) = policy {
                    self.manifest.defaults.policy = policy.clone();
                }
                if let Some(grants) = cap_grants {
                    self.manifest.defaults.cap_grants = grants.clone();
                }
            }
            PatchOp::SetRoutingEvents { pre_hash, events } => {
                check_block(
                    &self.manifest.routing.events,
                    *pre_hash,
                    &format!("{path}.set_routing_events"),
                    "routing.events",
                )?;
                self.manifest.routing.events = events.clone();
            }
            PatchOp::SetRoutingInboxes { pre_hash, inboxes } => {
                check_block(
                    &self.manifest.routing.inboxes,
                    *pre_hash,
                    &format!("{path}.set_routing_inboxes"),
                    "routing.inboxes",
                )?;
                self.manifest.routing.inboxes = inboxes.clone();
            }
            PatchOp::SetTriggers { pre_hash, triggers } => {
                check_block(
                    &self.manifest.triggers,
                    *pre_hash,
                    &format!("{path}.set_triggers"),
                    "triggers",
                )?;
                self.manifest.triggers = triggers.clone();
            }
            PatchOp::SetModuleBindings { pre_hash, bindings } => {
                check_block(
                    &self.manifest.module_bindings,
                    *pre_hash,
                    &format!("{path}.set_module_bindings"),
                    "module_bindings",
                )?;
                self.manifest.module_bindings = bindings.clone();
            }
            PatchOp::SetSecrets { pre_hash, secrets } => {
                check_block(
                    &self.manifest.secrets,
                    *pre_hash,
                    &format!("{path}.set_secrets"),
                    "secrets",
                )?;
                self.manifest.secrets = secrets.clone();
            }
        }
        Ok(())
    }

    fn check_pre_hash(
        &self,
        kind: DefKind,
        name: &Name,
        pre_hash: Hash,
        op_path: &str,
    ) -> Result<(), AirError> {
        match self.current_hash(kind, name) {
            None => Err(AirError::new(
                op_path,
                "unknown_def",
                format!("no {kind} named {name}"),
            )),
            Some(current) if current != pre_hash => Err(AirError::new(
                format!("{op_path}.pre_hash"),
                "stale_pre_hash",
                format!(
                    "{kind} {name} is now {current}, not {pre_hash}: the patch was written against another version"
                ),
            )),
            Some(_) => Ok(()),
        }
    }
}

fn parse_def(kind: DefKind, json: &Json, path: &str) -> Result<Node, AirError> {
    if kind == DefKind::Manifest {
        return Err(AirError::new(
            path,
            "bad_kind",
            "the manifest is changed with the set_* operations, not as a definition",
        ));
    }
    let node = Node::from_json(json, path)?;
    if node.kind() != kind {
        return Err(AirError::new(
            format!("{path}.$kind"),
            "kind_mismatch",
            format!(
                "the operation says {kind} but the node is a {}",
                node.kind()
            ),
        ));
    }
    Ok(node)
}

fn refuse_sys(name: &Name, path: &str) -> Result<(), AirError> {
    if name.is_sys() {
        return Err(AirError::new(
            path,
            "sys_edit",
            format!(
                "{name}: the `sys/` namespace is built in and cannot be added, replaced or removed"
            ),
        ));
    }
    Ok(())
}

fn check_block<T: Serialize>(
    block: &T,
    pre_hash: Hash,
    op_path: &str,
    what: &str,
) -> Result<(), AirError> {
    let current = block_hash(block);
    if current != pre_hash {
        let message = format!(
            "`{what}` is now {current}, not {pre_hash}: the patch was written against another version"
        );
        return Err(AirError::new(
            format!("{op_path}.pre_hash"),
            "stale_pre_hash",
            message,
        ));
    }
    Ok(())
}

fn diff(base: &ControlPlane, next: &ControlPlane) -> Vec<DefChange> {
    let mut changes = Vec::new();
    for (key, def) in next.defs() {
        match base.defs().get(key) {
            None => changes.push(DefChange {
                kind: key.0,
                name: key.1.clone(),
                action: DefChangeAction::Added,
            }),
            Some(old) if old.hash != def.hash => changes.push(DefChange {
                kind: key.0,
                name: key.1.clone(),
                action: DefChangeAction::Changed,
            }),
            Some(_) => {}
        }
    }
    for key in base.defs().keys() {
        if !next.defs().contains_key(key) {
            changes.push(DefChange {
                kind: key.0,
                name: key.1.clone(),
                action: DefChangeAction::Removed,
            });
        }
    }
    changes.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    changes
}
