//! Routing resolved once per control plane: which reducers an event schema goes to, and how each
//! reducer is stepped (its module, cell key path, types).

use std::collections::BTreeMap;
use std::rc::Rc;

use worldline_air::nodes::{DefKind, ModuleKind, Node};
use worldline_air::{ControlPlane, Hash, Name, TypeExpr, Value};

use crate::error::{KernelError, Result};

/// How one reducer is stepped.
pub(super) struct Route {
    /// The reducer's event schema.
    pub event: Name,
    pub reducer: Name,
    pub wasm_hash: Hash,
    /// Keyed reducer (cells): one state per key.
    pub keyed: bool,
    /// Path to the cell key inside a routed event's value (keyed reducers with routing only).
    pub key_path: Option<Vec<String>>,
    pub wants_context: bool,
    pub event_type: TypeExpr,
    pub state_type: TypeExpr,
}

/// Routes by event schema (in manifest order) and by reducer.
#[derive(Default, Clone)]
pub(crate) struct Routes {
    pub by_schema: BTreeMap<Name, Vec<Rc<Route>>>,
    pub by_reducer: BTreeMap<Name, Rc<Route>>,
}

/// Resolves the manifest's routing, and a route for every wasm reducer (a reducer that no event
/// is routed to can still receive the receipts of its own effects).
pub(super) fn routes(plane: &ControlPlane) -> Result<Routes> {
    let mut routes = Routes::default();
    for entry in &plane.manifest().routing.events {
        let key_path = entry
            .key_field
            .as_ref()
            .map(|field| field.split('.').map(str::to_owned).collect());
        let route = match routes.by_reducer.get(&entry.reducer) {
            Some(route) => Rc::clone(route),
            None => {
                let route = Rc::new(route_of(plane, &entry.reducer, key_path)?);
                routes
                    .by_reducer
                    .insert(entry.reducer.clone(), Rc::clone(&route));
                route
            }
        };
        routes
            .by_schema
            .entry(entry.event.clone())
            .or_default()
            .push(route);
    }
    for ((kind, name), def) in plane.defs() {
        let is_reducer =
            matches!(&def.node, Node::Module(m) if m.module_kind == ModuleKind::Reducer);
        if *kind == DefKind::Module && is_reducer && !routes.by_reducer.contains_key(name) {
            let route = Rc::new(route_of(plane, name, None)?);
            routes.by_reducer.insert(name.clone(), route);
        }
    }
    Ok(routes)
}

fn route_of(plane: &ControlPlane, reducer: &Name, key_path: Option<Vec<String>>) -> Result<Route> {
    let Some(Node::Module(module)) = plane.def(DefKind::Module, reducer).map(|d| &d.node) else {
        return Err(KernelError::Corrupt(format!(
            "routing names {reducer}, which is not a module"
        )));
    };
    let Some(abi) = module.reducer() else {
        return Err(KernelError::Corrupt(format!(
            "routing names {reducer}, which is not a reducer"
        )));
    };
    let wasm_hash = module.wasm_hash.ok_or_else(|| KernelError::Module {
        module: reducer.clone(),
        reason: "has no wasm_hash: supply its binary with --module".into(),
    })?;
    let type_of = |name: &Name| {
        plane.schema_type_of(name).cloned().ok_or_else(|| {
            KernelError::Corrupt(format!("schema {name} is not in the control plane"))
        })
    };
    Ok(Route {
        event: abi.event.clone(),
        reducer: reducer.clone(),
        wasm_hash,
        keyed: module.key_schema.is_some() || key_path.is_some(),
        key_path,
        wants_context: abi.context.is_some(),
        event_type: type_of(&abi.event)?,
        state_type: type_of(&abi.state)?,
    })
}

/// The cell key: the field at `path` of the event value, as canonical CBOR.
pub(super) fn cell_key(
    plane: &ControlPlane,
    route: &Route,
    path: &[String],
    value: &[u8],
) -> std::result::Result<Vec<u8>, String> {
    let event =
        Value::from_cbor_bytes(value, &route.event_type, plane).map_err(|e| e.to_string())?;
    let mut current = &event;
    for segment in path {
        current = match (current, segment.as_str()) {
            (
                Value::Variant {
                    value: Some(inner), ..
                },
                "$value",
            ) => inner,
            (Value::Record(fields), field) => fields
                .get(field)
                .ok_or_else(|| format!("the event has no `{field}`"))?,
            _ => return Err(format!("the event has no `{segment}`")),
        };
    }
    Ok(current.to_cbor_body())
}
