//! # worldline-air
//!
//! AIR is a world's control plane: typed, canonical data that says which schemas, reducer
//! modules, plans, effects, capabilities and policies exist and how events flow between them.
//! This crate is all of AIR and nothing else.
//!
//! **Architecture invariant:** this crate does no I/O. It never touches files, clocks,
//! randomness or the network; callers hand it bytes and text (the directory loader takes a list
//! of `(file name, text)` pairs). Everything here is deterministic.

pub mod cbor;
pub mod error;
pub mod hash;
pub mod json;
pub mod name;
pub mod types;
pub mod value;

pub use error::{AirError, AirErrors};
pub use hash::Hash;
pub use name::{Ident, KindName, Name};
pub use types::{SchemaLookup, TypeExpr};
pub use value::{Value, ValueError};
