//! Building a [`ControlPlane`]: index the nodes, resolve the manifest's references (built-ins
//! from the catalog), check hashes, validate, normalize grant parameters, hash the manifest.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::Catalog;
use crate::error::{AirError, AirErrors};
use crate::name::Name;
use crate::nodes::{DefKind, Node};
use crate::plane::{BuildOptions, ControlPlane, Def, Origin, SourcedNode};

/// Display name of the catalog as an origin.
pub const CATALOG_ORIGIN: &str = "built-in catalog";

pub(crate) fn build(
    manifest_src: SourcedNode,
    nodes: Vec<SourcedNode>,
    options: &BuildOptions,
) -> Result<ControlPlane, AirErrors> {
    let mut errors = AirErrors::default();
    let manifest_origin = manifest_src.origin.clone();
    let Node::Manifest(mut manifest) = manifest_src.node else {
        return Err(manifest_origin
            .locate(AirError::new("$", "not_a_manifest", "expected a manifest"))
            .into());
    };
    let mut world = index_world_nodes(nodes, &mut errors);
    attach_module_hashes(&mut world, options, &mut errors);

    let catalog = Catalog::get();
    let mut defs: BTreeMap<(DefKind, Name), Def> = BTreeMap::new();
    let mut listed: BTreeSet<(DefKind, Name)> = BTreeSet::new();
    // Listed names that could not be resolved: already reported, so their uses are not.
    let mut unresolved: BTreeSet<Name> = BTreeSet::new();
    for section in [
        "schemas", "modules", "plans", "effects", "caps", "policies", "secrets",
    ] {
        let Some(kind) = DefKind::from_section(section) else {
            continue;
        };
        let refs = manifest
            .section_mut(section)
            .map(std::mem::take)
            .unwrap_or_default();
        let mut resolved_refs = Vec::with_capacity(refs.len());
        for (index, mut named) in refs.into_iter().enumerate() {
            let path = format!("$.{section}[{index}]");
            let locate =
                |code, message: String| manifest_origin.locate(AirError::new(&path, code, message));
            if !listed.insert((kind, named.name.clone())) {
                errors.push(locate(
                    "duplicate_ref",
                    format!("{} is listed twice in `{section}`", named.name),
                ));
                continue;
            }
            let (node, origin) = if named.name.is_sys() {
                match catalog.node(kind, &named.name) {
                    Some(node) => (node, Origin::new(Some(CATALOG_ORIGIN.to_owned()), "$")),
                    None => {
                        errors.push(locate(
                            "dangling_ref",
                            format!("{} is not a built-in {kind}", named.name),
                        ));
                        unresolved.insert(named.name.clone());
                        continue;
                    }
                }
            } else {
                match world.get(&(kind, named.name.clone())) {
                    Some(sourced) => (sourced.node.clone(), sourced.origin.clone()),
                    None => {
                        errors.push(locate(
                            "dangling_ref",
                            dangling_message(&named.name, kind, &world),
                        ));
                        unresolved.insert(named.name.clone());
                        continue;
                    }
                }
            };
            let hash = match node.hash() {
                Ok(hash) => hash,
                Err(error) => {
                    errors.push(origin.locate(error));
                    unresolved.insert(named.name.clone());
                    continue;
                }
            };
            match named.hash {
                Some(given) if given != hash => errors.push(locate(
                    "hash_mismatch",
                    format!(
                        "{} is listed with hash {given} but its node hashes to {hash}",
                        named.name
                    ),
                )),
                None if options.require_hashes => errors.push(locate(
                    "missing_hash",
                    format!("{} is listed without its hash", named.name),
                )),
                _ => {}
            }
            named.hash = Some(hash);
            defs.insert(
                (kind, named.name.clone()),
                Def {
                    node,
                    hash,
                    origin,
                    listed_at: path,
                },
            );
            resolved_refs.push(named);
        }
        if let Some(section_refs) = manifest.section_mut(section) {
            *section_refs = resolved_refs;
        }
    }

    for ((kind, name), sourced) in &world {
        if !listed.contains(&(*kind, name.clone())) {
            let message = format!(
                "{kind} {name} is defined but not listed in the manifest's `{}`",
                kind.section()
            );
            errors.push(
                sourced
                    .origin
                    .locate(AirError::new("$", "unlisted_def", message)),
            );
        }
        if options.require_hashes
            && let Node::Module(module) = &sourced.node
            && module.wasm_hash.is_none()
        {
            errors.push(sourced.origin.locate(AirError::new(
                "$",
                "missing_hash",
                format!("module {name} has no `wasm_hash`"),
            )));
        }
    }
    let draft = ControlPlane::assemble(
        manifest.clone(),
        crate::hash::Hash::ZERO,
        manifest_origin.clone(),
        defs.clone(),
        BTreeMap::new(),
    );
    // Validate even after reference errors: what did resolve can still be checked, so the
    // author sees every problem in one run. Repeats of the same report are dropped.
    let (problems, grant_params) = crate::validate::validate(&draft, &unresolved);
    for problem in problems {
        if !errors.0.contains(&problem) {
            errors.push(problem);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for grant in &mut manifest.defaults.cap_grants {
        if let Some(value) = grant_params.get(&grant.name) {
            grant.params = value.to_tagged_json();
        }
    }
    let manifest_hash = Node::Manifest(manifest.clone())
        .hash()
        .map_err(|e| AirErrors::from(manifest_origin.locate(e)))?;
    Ok(ControlPlane::assemble(
        manifest,
        manifest_hash,
        manifest_origin,
        defs,
        grant_params,
    ))
}

pub(crate) fn index_world_nodes(
    nodes: Vec<SourcedNode>,
    errors: &mut AirErrors,
) -> BTreeMap<(DefKind, Name), SourcedNode> {
    let mut world: BTreeMap<(DefKind, Name), SourcedNode> = BTreeMap::new();
    for sourced in nodes {
        let Some(name) = sourced.node.name().cloned() else {
            errors.push(sourced.origin.locate(AirError::new(
                "$",
                "second_manifest",
                "a world has exactly one manifest",
            )));
            continue;
        };
        if name.is_sys() {
            let message = format!(
                "{name}: the `sys/` namespace is built in; a world may use it but never define, replace or remove it"
            );
            errors.push(
                sourced
                    .origin
                    .locate(AirError::new("$.name", "sys_reserved", message)),
            );
            continue;
        }
        let key = (sourced.node.kind(), name.clone());
        if let Some(first) = world.get(&key) {
            let at = format!(
                "{}{}",
                first
                    .origin
                    .file
                    .as_deref()
                    .map(|f| format!("{f}: "))
                    .unwrap_or_default(),
                first.origin.path
            );
            let message = format!("{} {name} is defined twice (first at {at})", key.0);
            errors.push(
                sourced
                    .origin
                    .locate(AirError::new("$.name", "duplicate_def", message)),
            );
            continue;
        }
        world.insert(key, sourced);
    }
    world
}

fn attach_module_hashes(
    world: &mut BTreeMap<(DefKind, Name), SourcedNode>,
    options: &BuildOptions,
    errors: &mut AirErrors,
) {
    for (name, binary_hash) in &options.module_hashes {
        match world.get_mut(&(DefKind::Module, name.clone())) {
            Some(SourcedNode { node: Node::Module(module), origin }) => match module.wasm_hash {
                Some(written) if written != *binary_hash => errors.push(origin.locate(AirError::new(
                    "$.wasm_hash",
                    "hash_mismatch",
                    format!("module {name} declares wasm_hash {written} but the supplied binary hashes to {binary_hash}"),
                ))),
                _ => module.wasm_hash = Some(*binary_hash),
            },
            _ => errors.push(AirError::new("$", "unknown_module", format!("a binary was supplied for module {name}, which the AIR does not define"))),
        }
    }
}

fn dangling_message(
    name: &Name,
    kind: DefKind,
    world: &BTreeMap<(DefKind, Name), SourcedNode>,
) -> String {
    match world.keys().find(|(_, n)| n == name) {
        Some((other, _)) => format!("{name} is listed as a {kind} but is defined as a {other}"),
        None => format!(
            "{name} is listed in `{}` but no {kind} of that name is defined",
            kind.section()
        ),
    }
}
