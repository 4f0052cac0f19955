//! # worldline-fuzz
//!
//! The fuzz targets of Worldline as ordinary functions, one per untrusted input surface
//! ([`targets`]). Each takes arbitrary bytes and must never panic, hang or allocate without
//! bound: it may only return (the code under test answers with a typed error). Where a property
//! is cheap to state it is asserted too (canonical round trips), so a panic here is a finding.
//!
//! The same functions run two ways: under libFuzzer through `fuzz/harness/` (`fuzz/run.sh`,
//! needs `cargo-fuzz`), and over the committed seed corpus `fuzz/corpus/<target>/` plus
//! deterministic mutations of it ([`mutate`]) in `cargo test -p worldline-fuzz` (the CI smoke,
//! on stable).
//!
//! **Architecture invariant:** no target panics on any input; every input that once made one
//! panic is kept in the corpus and named in a regression test.

pub mod fixtures;
pub mod mutate;
pub mod targets;
