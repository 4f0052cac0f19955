//! The built-in `sys/*` catalog, compiled in from `air/catalog/*.air.json`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::hash::Hash;
use crate::name::Name;
use crate::nodes::{DefCap, DefEffect, DefKind, DefModule, DefSchema, Node};
use crate::types::{SchemaLookup, TypeExpr};

/// Domain tag of a built-in module's identity hash.
pub const BUILTIN_MODULE_TAG: &[u8] = b"worldline/builtin-module/v1";

const FILES: [(&str, &str); 10] = [
    (
        "kernel.air.json",
        include_str!("../catalog/kernel.air.json"),
    ),
    ("timer.air.json", include_str!("../catalog/timer.air.json")),
    ("blob.air.json", include_str!("../catalog/blob.air.json")),
    ("http.air.json", include_str!("../catalog/http.air.json")),
    ("llm.air.json", include_str!("../catalog/llm.air.json")),
    (
        "secret.air.json",
        include_str!("../catalog/secret.air.json"),
    ),
    (
        "governance.air.json",
        include_str!("../catalog/governance.air.json"),
    ),
    (
        "workspace.air.json",
        include_str!("../catalog/workspace.air.json"),
    ),
    (
        "introspect.air.json",
        include_str!("../catalog/introspect.air.json"),
    ),
    // Worldline's own addition (not in AgentOS): catch-up after downtime.
    (
        "resume.air.json",
        include_str!("../catalog/resume.air.json"),
    ),
];

/// The built-in definitions, by kind and name, with their node hashes.
#[derive(Debug)]
pub struct Catalog {
    /// `defschema`s.
    pub schemas: BTreeMap<Name, DefSchema>,
    /// `defeffect`s.
    pub effects: BTreeMap<Name, DefEffect>,
    /// `defcap`s.
    pub caps: BTreeMap<Name, DefCap>,
    /// Native modules (enforcers and built-in reducers).
    pub modules: BTreeMap<Name, DefModule>,
    hashes: BTreeMap<(DefKind, Name), Hash>,
    types: BTreeMap<Name, TypeExpr>,
}

/// The identity of a native built-in module, used as its `wasm_hash`.
pub fn builtin_module_hash(name: &Name) -> Hash {
    Hash::of_parts(&[BUILTIN_MODULE_TAG, name.as_str().as_bytes()])
}

impl Catalog {
    /// The catalog (parsed once, on first use).
    pub fn get() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| match Catalog::parse() {
            Ok(catalog) => catalog,
            // The catalog is compiled-in data, not input: `air/tests/catalog.rs` proves it
            // parses and hashes, so failing here is a build defect, not a runtime condition.
            Err(error) => panic!("the built-in catalog is invalid: {error}"),
        })
    }

    fn parse() -> Result<Catalog, String> {
        let mut catalog = Catalog {
            schemas: BTreeMap::new(),
            effects: BTreeMap::new(),
            caps: BTreeMap::new(),
            modules: BTreeMap::new(),
            hashes: BTreeMap::new(),
            types: BTreeMap::new(),
        };
        for (file, text) in FILES {
            let json = crate::json::parse_strict(text).map_err(|e| format!("{file}: {e}"))?;
            let items = json
                .as_array()
                .ok_or_else(|| format!("{file}: not an array"))?;
            for (index, item) in items.iter().enumerate() {
                let mut node = Node::from_json(item, &format!("$[{index}]"))
                    .map_err(|e| format!("{file}: {e}"))?;
                if let Node::Module(module) = &mut node {
                    module.wasm_hash = Some(builtin_module_hash(&module.name));
                }
                let hash = node.hash().map_err(|e| format!("{file}: {e}"))?;
                let name = node
                    .name()
                    .cloned()
                    .ok_or_else(|| format!("{file}: a manifest in the catalog"))?;
                if !name.is_sys() {
                    return Err(format!("{file}: {name} is not in sys/"));
                }
                if catalog
                    .hashes
                    .insert((node.kind(), name.clone()), hash)
                    .is_some()
                {
                    return Err(format!("{file}: {name} defined twice"));
                }
                match node {
                    Node::Schema(schema) => {
                        catalog.types.insert(name.clone(), schema.ty.clone());
                        catalog.schemas.insert(name, schema);
                    }
                    Node::Effect(effect) => drop(catalog.effects.insert(name, effect)),
                    Node::Cap(cap) => drop(catalog.caps.insert(name, cap)),
                    Node::Module(module) => drop(catalog.modules.insert(name, module)),
                    other => {
                        return Err(format!(
                            "{file}: {} is not allowed in the catalog",
                            other.kind()
                        ));
                    }
                }
            }
        }
        Ok(catalog)
    }

    /// The node hash of a built-in definition.
    pub fn hash(&self, kind: DefKind, name: &Name) -> Option<Hash> {
        self.hashes.get(&(kind, name.clone())).copied()
    }

    /// Every built-in definition as a node, in kind then name order.
    pub fn nodes(&self) -> Vec<Node> {
        let mut out: Vec<Node> = Vec::new();
        out.extend(self.schemas.values().cloned().map(Node::Schema));
        out.extend(self.modules.values().cloned().map(Node::Module));
        out.extend(self.effects.values().cloned().map(Node::Effect));
        out.extend(self.caps.values().cloned().map(Node::Cap));
        out
    }

    /// The built-in node of this kind and name.
    pub fn node(&self, kind: DefKind, name: &Name) -> Option<Node> {
        match kind {
            DefKind::Schema => self.schemas.get(name).cloned().map(Node::Schema),
            DefKind::Effect => self.effects.get(name).cloned().map(Node::Effect),
            DefKind::Cap => self.caps.get(name).cloned().map(Node::Cap),
            DefKind::Module => self.modules.get(name).cloned().map(Node::Module),
            _ => None,
        }
    }
}

impl SchemaLookup for Catalog {
    fn schema_type(&self, name: &Name) -> Option<&TypeExpr> {
        self.types.get(name)
    }
}
