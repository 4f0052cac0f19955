//! Identity and lineage: checkpoints (signed links from genesis to the head), verification of
//! a whole world or bundle, export to one file and import, and forks.
//!
//! The byte-level rules are in `spec/lineage.md`.

pub mod bundle;
pub mod checkpoint;
pub mod inspect;
pub mod verify;
