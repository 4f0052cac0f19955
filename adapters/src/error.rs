//! The adapters' errors.

use worldline_kernel::KernelError;

/// What can go wrong on the host side.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The world refused or failed.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// An adapter key file is unusable.
    #[error("{path}: {reason}")]
    Key {
        /// The key file.
        path: String,
        /// Why.
        reason: String,
    },
    /// File system trouble.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The OS random source failed.
    #[error("OS entropy: {0}")]
    Entropy(String),
    /// The wall clock (or its test offset, `WORLDLINE_CLOCK_OFFSET_MS`) is unusable.
    #[error("{0}")]
    Clock(String),
    /// The async runtime or an adapter could not start.
    #[error("host: {0}")]
    Start(String),
}

impl AdapterError {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> AdapterError {
        AdapterError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// `doing: error: cause: cause…`. reqwest's own message is terse ("error sending request"); the
/// chain of causes says what happened.
pub(crate) fn error_chain(doing: &str, error: &dyn std::error::Error) -> String {
    let mut message = format!("{doing}: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
