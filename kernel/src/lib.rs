//! # worldline-kernel
//!
//! The deterministic world: a hash-chained journal on redb, the stepper that folds inputs
//! through WASM reducers (wasmtime), keyed cells, snapshots and replay, and the world's identity.
//!
//! **Architecture invariant:** the kernel is synchronous and does no I/O except through its
//! storage seam ([`store`]); wall time and entropy enter only as ingress stamps supplied by the
//! caller, so replay reproduces every byte.

pub mod config;
pub mod effects;
pub mod error;
pub mod failpoint;
pub mod governance;
pub mod host;
pub mod identity;
pub mod lineage;
pub mod plans;
pub mod record;
pub mod store;
pub mod why;

pub mod world;

pub use error::{KernelError, Result};
pub use world::{CreateOptions, EventInput, Ingress, World};
