//! Loading a world's AIR from its `*.air.json` files (each a node or an array of nodes).
//!
//! The caller reads the files (this crate does no I/O) and hands over `(display name, text)`
//! pairs in a stable order; [`load_sources`] parses them all, reports every problem of every
//! file, and builds the validated [`ControlPlane`].

use crate::error::{AirError, AirErrors};
use crate::json::{kind_of, parse_strict};
use crate::nodes::Node;
use crate::plane::{BuildOptions, ControlPlane, Origin, SourcedNode};

/// Most nodes a world's AIR may hold.
pub const NODES_MAX: usize = 65_536;

/// One AIR file: its display name (e.g. `air/schemas.air.json`) and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Display name, used in every error about the file.
    pub name: String,
    /// The file's text.
    pub text: String,
}

/// Parses every file into nodes, each with its origin; reports every file's problems.
pub fn parse_sources(files: &[SourceFile]) -> Result<Vec<SourcedNode>, AirErrors> {
    let (nodes, errors) = parse_all(files);
    errors.into_result(nodes)
}

fn parse_all(files: &[SourceFile]) -> (Vec<SourcedNode>, AirErrors) {
    let mut nodes = Vec::new();
    let mut errors = AirErrors::default();
    for file in files {
        let json = match parse_strict(&file.text) {
            Ok(json) => json,
            Err(error) => {
                errors.push(AirError::new("$", "bad_json", error.to_string()).in_file(&file.name));
                continue;
            }
        };
        let items: Vec<(String, &serde_json::Value)> = match &json {
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (format!("$[{i}]"), item))
                .collect(),
            serde_json::Value::Object(_) => vec![("$".to_owned(), &json)],
            other => {
                let message = format!(
                    "an AIR file holds a node or an array of nodes, found {}",
                    kind_of(other)
                );
                errors.push(AirError::new("$", "bad_shape", message).in_file(&file.name));
                continue;
            }
        };
        for (path, item) in items {
            if nodes.len() >= NODES_MAX {
                let message = format!("more than {NODES_MAX} nodes");
                errors.push(AirError::new(&path, "too_many_nodes", message).in_file(&file.name));
                return (nodes, errors);
            }
            match Node::from_json(item, &path) {
                Ok(node) => {
                    let origin = Origin::new(Some(file.name.clone()), path);
                    nodes.push(SourcedNode { node, origin });
                }
                Err(error) => errors.push(error.in_file(&file.name)),
            }
        }
    }
    (nodes, errors)
}

/// Loads and validates a world's AIR; reports every problem found.
///
/// When some nodes do not parse, the whole world cannot be validated, but the checks that need
/// no manifest (reserved `sys/` names, duplicate definitions) still run on the rest.
pub fn load_sources(
    files: &[SourceFile],
    options: &BuildOptions,
) -> Result<ControlPlane, AirErrors> {
    let (nodes, mut errors) = parse_all(files);
    let (mut manifests, others): (Vec<SourcedNode>, Vec<SourcedNode>) = nodes
        .into_iter()
        .partition(|n| matches!(n.node, Node::Manifest(_)));
    if !errors.is_empty() {
        crate::build::index_world_nodes(others, &mut errors);
        return Err(errors);
    }
    if manifests.is_empty() {
        let message = "no manifest: one of the *.air.json files must hold a node with \"$kind\": \"manifest\"";
        return Err(AirError::new("$", "no_manifest", message).into());
    }
    let manifest = manifests.remove(0);
    if let Some(second) = manifests.first() {
        let message = "a world has exactly one manifest; this is a second one";
        return Err(second
            .origin
            .locate(AirError::new("$", "second_manifest", message))
            .into());
    }
    ControlPlane::build(manifest, others, options)
}
