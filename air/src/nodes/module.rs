//! `defmodule`: a reducer or pure module and its binary interface (AIR.md §5).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as Json;

use crate::error::AirError;
use crate::hash::Hash;
use crate::name::{Ident, KindName, Name};
use crate::reader::{self, Obj};

/// Whether a module is a reducer (state machine) or a pure function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModuleKind {
    /// `step(state, event) -> state, events, effects`.
    Reducer,
    /// `run(input) -> output`, e.g. a capability enforcer.
    Pure,
}

/// A `defmodule` node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DefModule {
    /// The module's name.
    pub name: Name,
    /// Reducer or pure.
    pub module_kind: ModuleKind,
    /// Hash of the wasm binary; the loader fills it when a binary is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wasm_hash: Option<Hash>,
    /// Present for keyed reducers (cells): the schema of a cell key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_schema: Option<Name>,
    /// The interface: exactly the part matching `module_kind`.
    pub abi: ModuleAbi,
}

/// A module's interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ModuleAbi {
    /// For reducers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reducer: Option<ReducerAbi>,
    /// For pure modules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pure: Option<PureAbi>,
}

/// A reducer's interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ReducerAbi {
    /// Schema of the state.
    pub state: Name,
    /// Schema of the events it handles (a variant to accept several kinds).
    pub event: Name,
    /// `sys/ReducerContext@1` if the reducer wants the context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Name>,
    /// Schema of the annotations it may output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Name>,
    /// Effect kinds it may emit.
    pub effects_emitted: Vec<KindName>,
    /// Slot name → cap type; bound to grants by the manifest's `module_bindings`.
    pub cap_slots: BTreeMap<Ident, KindName>,
}

/// A pure module's interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PureAbi {
    /// Input schema.
    pub input: Name,
    /// Output schema.
    pub output: Name,
    /// `sys/PureContext@1` if the module wants the context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Name>,
}

impl DefModule {
    /// Reads a `defmodule` (its `$kind` already checked).
    pub fn from_json(json: &Json, path: &str) -> Result<DefModule, AirError> {
        let mut node = Obj::new(json, path, "a defmodule")?;
        node.skip("$kind");
        let name = node.req("name", reader::name)?;
        let module_kind = node.req("module_kind", |j, p| {
            reader::word(
                j,
                p,
                &[("reducer", ModuleKind::Reducer), ("pure", ModuleKind::Pure)],
            )
        })?;
        let wasm_hash = node.opt("wasm_hash", reader::hash)?;
        let key_schema = node.opt("key_schema", reader::name)?;
        let abi = node.req("abi", abi)?;
        node.finish()?;
        let abi_path = format!("{path}.abi");
        match (module_kind, &abi.reducer, &abi.pure) {
            (ModuleKind::Reducer, Some(_), None) | (ModuleKind::Pure, None, Some(_)) => {}
            (ModuleKind::Reducer, _, _) => {
                return Err(AirError::new(
                    abi_path,
                    "bad_abi",
                    "a reducer module has `abi.reducer` and no `abi.pure`",
                ));
            }
            (ModuleKind::Pure, _, _) => {
                return Err(AirError::new(
                    abi_path,
                    "bad_abi",
                    "a pure module has `abi.pure` and no `abi.reducer`",
                ));
            }
        }
        if key_schema.is_some() && module_kind == ModuleKind::Pure {
            return Err(AirError::new(
                format!("{path}.key_schema"),
                "bad_abi",
                "only reducers can be keyed",
            ));
        }
        Ok(DefModule {
            name,
            module_kind,
            wasm_hash,
            key_schema,
            abi,
        })
    }

    /// The reducer interface, if this is a reducer.
    pub fn reducer(&self) -> Option<&ReducerAbi> {
        self.abi.reducer.as_ref()
    }
}

fn abi(json: &Json, path: &str) -> Result<ModuleAbi, AirError> {
    let mut node = Obj::new(json, path, "an abi")?;
    let reducer = node.opt("reducer", reducer_abi)?;
    let pure = node.opt("pure", pure_abi)?;
    node.finish()?;
    Ok(ModuleAbi { reducer, pure })
}

fn reducer_abi(json: &Json, path: &str) -> Result<ReducerAbi, AirError> {
    let mut node = Obj::new(json, path, "a reducer abi")?;
    let state = node.req("state", reader::name)?;
    let event = node.req("event", reader::name)?;
    let context = node.opt("context", reader::name)?;
    let annotations = node.opt("annotations", reader::name)?;
    let effects_emitted = node
        .opt("effects_emitted", |j, p| {
            reader::list(j, p, reader::kind_name)
        })?
        .unwrap_or_default();
    let cap_slots = node
        .opt("cap_slots", |j, p| {
            reader::object_of(j, p, reader::ident, reader::kind_name)
        })?
        .unwrap_or_default();
    node.finish()?;
    Ok(ReducerAbi {
        state,
        event,
        context,
        annotations,
        effects_emitted,
        cap_slots,
    })
}

fn pure_abi(json: &Json, path: &str) -> Result<PureAbi, AirError> {
    let mut node = Obj::new(json, path, "a pure abi")?;
    let input = node.req("input", reader::name)?;
    let output = node.req("output", reader::name)?;
    let context = node.opt("context", reader::name)?;
    node.finish()?;
    Ok(PureAbi {
        input,
        output,
        context,
    })
}
