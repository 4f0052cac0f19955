//! # worldline-kernel
//!
//! The deterministic world: storage, stepper, reducer host, plan engine, effect admission,
//! governance, snapshots and replay, identity and lineage. (Arrives with the kernel issue.)
//!
//! **Architecture invariant:** the kernel is synchronous and does no I/O except through its
//! storage seam; everything non-deterministic enters through ingress stamps or receipts.
