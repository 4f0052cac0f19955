//! A world's control plane and modules, kept in (and read back from) its CAS.

use std::collections::BTreeMap;

use worldline_air::cbor::{cbor_to_json, decode};
use worldline_air::nodes::{DefKind, ModuleKind, Node};
use worldline_air::plane::{BuildOptions, Origin, SourcedNode};
use worldline_air::{ControlPlane, Hash, Name};

use super::sink::Sink;
use crate::error::{KernelError, Result};
use crate::host::ReducerHost;
use crate::store::{Batch, Store};

/// Metadata key prefix mapping a compiled artifact's cache key to its CAS hash.
pub(crate) const META_ARTIFACT: &str = "artifact/";

/// Puts the manifest and every world definition of `plane` into the CAS.
pub fn store_plane(plane: &ControlPlane, sink: &mut dyn Sink) -> Result<()> {
    for (hash, bytes) in plane_objects(plane)? {
        sink.put_object(hash, bytes);
    }
    Ok(())
}

/// The manifest and every world definition of `plane` as CAS objects (built-ins are not
/// stored: every build of Worldline has them).
pub fn plane_objects(plane: &ControlPlane) -> Result<Vec<(Hash, Vec<u8>)>> {
    let manifest = Node::Manifest(plane.manifest().clone())
        .canonical_bytes()
        .map_err(|e| KernelError::Air(e.into()))?;
    let mut out = vec![(plane.manifest_hash(), manifest)];
    for def in plane.defs().values() {
        if def.node.name().is_some_and(Name::is_sys) {
            continue;
        }
        let bytes = def
            .node
            .canonical_bytes()
            .map_err(|e| KernelError::Air(e.into()))?;
        out.push((def.hash, bytes));
    }
    Ok(out)
}

fn node_from_cas(store: &dyn Store, hash: &Hash, what: &str) -> Result<Node> {
    let bytes = store
        .cas_get(hash)?
        .ok_or_else(|| KernelError::Corrupt(format!("{what} {hash} is missing from the store")))?;
    if Hash::of(&bytes) != *hash {
        return Err(KernelError::Corrupt(format!(
            "{what} {hash} does not match its hash"
        )));
    }
    let item = decode(&bytes).map_err(|e| KernelError::Corrupt(format!("{what} {hash}: {e}")))?;
    let json =
        cbor_to_json(&item).map_err(|e| KernelError::Corrupt(format!("{what} {hash}: {e}")))?;
    Node::from_json(&json, "$").map_err(|e| KernelError::Corrupt(format!("{what} {hash}: {e}")))
}

/// Rebuilds the control plane whose manifest hashes to `manifest_hash` from the CAS.
pub fn plane_from_store(store: &dyn Store, manifest_hash: &Hash) -> Result<ControlPlane> {
    let manifest = node_from_cas(store, manifest_hash, "manifest")?;
    let Node::Manifest(manifest_node) = &manifest else {
        return Err(KernelError::Corrupt(format!(
            "{manifest_hash} is not a manifest"
        )));
    };
    let mut nodes = Vec::new();
    for (_, refs) in manifest_node.sections() {
        for named in refs.iter().filter(|r| !r.name.is_sys()) {
            let hash = named.hash.ok_or_else(|| {
                KernelError::Corrupt(format!(
                    "the stored manifest lists {} without a hash",
                    named.name
                ))
            })?;
            let node = node_from_cas(store, &hash, "definition")?;
            nodes.push(SourcedNode {
                node,
                origin: Origin::new(Some(format!("stored {}", named.name)), "$"),
            });
        }
    }
    let manifest = SourcedNode {
        node: manifest,
        origin: Origin::new(Some("stored manifest".to_owned()), "$"),
    };
    let plane = ControlPlane::build(manifest, nodes, &BuildOptions::default())?;
    if plane.manifest_hash() != *manifest_hash {
        return Err(KernelError::Corrupt(format!(
            "the stored manifest rebuilds to {}, not {manifest_hash}",
            plane.manifest_hash()
        )));
    }
    Ok(plane)
}

/// The world's modules that need a wasm binary: `(name, wasm hash, entry export)` (reducers
/// export `step`, pure modules `run`; built-in `sys/*` modules are native).
pub fn wasm_modules(plane: &ControlPlane) -> Result<Vec<(Name, Hash, &'static str)>> {
    let mut out = Vec::new();
    for ((kind, name), def) in plane.defs() {
        if *kind != DefKind::Module || name.is_sys() {
            continue;
        }
        if let Node::Module(module) = &def.node {
            let entry = match module.module_kind {
                ModuleKind::Reducer => "step",
                ModuleKind::Pure => "run",
            };
            let hash = module.wasm_hash.ok_or_else(|| KernelError::Module {
                module: name.clone(),
                reason: "has no wasm_hash: supply its binary with --module NAME=FILE.wasm".into(),
            })?;
            out.push((name.clone(), hash, entry));
        }
    }
    Ok(out)
}

/// Loads every wasm module into `host`: from a cached compiled artifact when one fits this
/// engine, else by compiling the binary (from `pending`, else the CAS). Returns what to store so
/// the next open finds the artifacts.
pub fn load_modules(
    host: &mut ReducerHost,
    plane: &ControlPlane,
    store: &dyn Store,
    pending: &BTreeMap<Hash, Vec<u8>>,
) -> Result<Batch> {
    let mut batch = Batch::default();
    for (name, wasm_hash, entry) in wasm_modules(plane)? {
        if host.is_loaded(&wasm_hash) {
            continue;
        }
        let key = host.artifact_key(&wasm_hash);
        let meta_key = format!("{META_ARTIFACT}{}", key.to_hex());
        if let Some(artifact_hash) = store.meta(&meta_key)?
            && let Ok(artifact_hash) = <[u8; 32]>::try_from(artifact_hash.as_slice()).map(Hash)
            && let Some(artifact) = store.cas_get(&artifact_hash)?
            && Hash::of(&artifact) == artifact_hash
            && host.load_artifact(&name, wasm_hash, &artifact, entry)?
        {
            continue;
        }
        let wasm = match pending.get(&wasm_hash) {
            Some(wasm) => wasm.clone(),
            None => store
                .cas_get(&wasm_hash)?
                .ok_or_else(|| KernelError::MissingModule {
                    module: name.clone(),
                    hash: wasm_hash,
                })?,
        };
        if Hash::of(&wasm) != wasm_hash {
            return Err(KernelError::Corrupt(format!(
                "the binary of {name} does not match its hash {wasm_hash}"
            )));
        }
        let artifact = host.compile(&name, wasm_hash, &wasm, entry)?;
        let artifact_hash = Hash::of(&artifact);
        batch.cas.push((artifact_hash, artifact));
        batch
            .meta
            .push((meta_key, artifact_hash.as_bytes().to_vec()));
    }
    Ok(batch)
}
