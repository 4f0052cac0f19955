//! The kernel's errors. Library code returns these; only the CLI turns them into messages.

use worldline_air::{AirErrors, Hash, Name};

/// Everything that can go wrong in the kernel.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The world's AIR does not load or validate.
    #[error("invalid AIR:\n{0}")]
    Air(#[from] AirErrors),
    /// Another process holds the world.
    #[error("world is in use by pid {pid} (lock file {lock})")]
    InUse {
        /// The holder's process id, as it wrote it in the lock file.
        pid: String,
        /// The lock file.
        lock: String,
    },
    /// The directory is not a world (no `.world/`), or already is one.
    #[error("{path}: {reason}")]
    NotAWorld {
        /// The directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// File system trouble, with the file it concerns.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The storage engine failed.
    #[error("storage: {0}")]
    Storage(String),
    /// The world's store file failed: an I/O error (a read-only file system, a full disk) or a
    /// file the engine cannot read (truncated, damaged). Names the file.
    #[error("{path}: {reason}")]
    StoreFile {
        /// The store file (`<world>/.world/world.redb`).
        path: String,
        /// The engine's error.
        reason: String,
    },
    /// Stored data does not decode or does not hash to what it should: never silently accepted.
    #[error("corrupt world data: {0}")]
    Corrupt(String),
    /// A module binary is unusable (bad wasm, a forbidden import, a missing export).
    #[error("module {module}: {reason}")]
    Module {
        /// The module's name.
        module: Name,
        /// Why.
        reason: String,
    },
    /// A module's binary is not in the world's store.
    #[error("module {module}: no binary with hash {hash} (supply it with --module)")]
    MissingModule {
        /// The module's name.
        module: Name,
        /// The wasm hash the AIR names.
        hash: Hash,
    },
    /// An input was refused before anything was journaled.
    #[error("{0}")]
    Rejected(String),
    /// A receipt was refused before anything was journaled.
    #[error(transparent)]
    ReceiptRefused(#[from] crate::effects::receipt::Refusal),
    /// Verification found a break in a lineage (a world or a bundle).
    #[error("verify failed at {place}: {reason}")]
    Unverified {
        /// The first item that fails.
        place: crate::lineage::verify::Place,
        /// Why.
        reason: String,
    },
    /// Replay produced something other than the journal.
    #[error("replay diverged at seq {seq}: {reason}")]
    Diverged {
        /// The first seq that differs.
        seq: u64,
        /// How it differs.
        reason: String,
    },
    /// A pipelined submit failed after part of it was written: this process's view of the world
    /// is ahead of its store, so the world refuses everything until it is opened again (which
    /// rebuilds it from what the store holds). Nothing of that submit was acknowledged.
    #[error(
        "the world must be reopened: {reason} (a large submit failed part-way; records up to seq {written_through} may have been written, none acknowledged)"
    )]
    Poisoned {
        /// The last seq a finished commit wrote.
        written_through: u64,
        /// The failure.
        reason: String,
    },
}

impl KernelError {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> KernelError {
        KernelError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// Results of the kernel.
pub type Result<T, E = KernelError> = std::result::Result<T, E>;
