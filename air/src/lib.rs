//! # worldline-air
//!
//! AIR is a world's control plane: typed, canonical data that says which schemas, reducer
//! modules, plans, effects, capabilities and policies exist and how events flow between them.
//! This crate is all of AIR and nothing else.
//!
//! **Architecture invariant:** this crate does no I/O. It never touches files, clocks,
//! randomness or the network; callers hand it bytes and text (the directory loader takes a list
//! of `(file name, text)` pairs). Everything here is deterministic.
//!
//! Map of the crate:
//! - [`cbor`], [`hash`]: canonical CBOR and `sha256:` hashes;
//! - [`types`], [`value`]: type expressions and typed values, both JSON lenses;
//! - [`nodes`]: the eight node kinds; [`catalog`]: the built-in `sys/*` definitions;
//! - [`load`]: a directory's `*.air.json` files → [`plane::ControlPlane`] (validated);
//! - [`expr`]: plan expressions and their evaluator;
//! - [`patch`]: patch documents and the patch compiler;
//! - [`schema_gen`]: JSON Schemas of the node kinds.

mod build;
pub mod catalog;
pub mod cbor;
pub mod error;
pub mod expr;
pub mod hash;
pub mod json;
pub mod load;
pub mod name;
pub mod nodes;
pub mod patch;
pub mod plane;
mod reader;
pub mod schema_gen;
pub mod types;
mod validate;
pub mod value;

pub use error::{AirError, AirErrors};
pub use hash::Hash;
pub use name::{Ident, KindName, Name};
pub use plane::ControlPlane;
pub use types::{SchemaLookup, TypeExpr};
pub use value::{Value, ValueError};
