//! The one error type of AIR parsing and validation: a reason at a place.

use std::fmt;

/// A problem in AIR: what is wrong (`code`, `message`) and where (file, JSON path).
///
/// Every loader, validator and patch compiler error is one of these, so the CLI can print any
/// of them as one line `file: path: message` and `--json` can give them as records.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AirError {
    /// The file the problem is in, if it came from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// JSON path inside the file (or document), `$` for the whole of it.
    pub path: String,
    /// A stable machine-readable code, e.g. `dangling_ref`.
    pub code: &'static str,
    /// One sentence for a human.
    pub message: String,
}

impl AirError {
    /// A new error at `path` with no file yet.
    pub fn new(
        path: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> AirError {
        AirError {
            file: None,
            path: path.into(),
            code,
            message: message.into(),
        }
    }

    /// The same error, located in `file`.
    pub fn in_file(mut self, file: impl Into<String>) -> AirError {
        self.file = Some(file.into());
        self
    }
}

impl fmt::Display for AirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for AirError {}

/// Several problems at once: validators report every reason, not just the first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AirErrors(pub Vec<AirError>);

impl AirErrors {
    /// Adds one error.
    pub fn push(&mut self, error: AirError) {
        self.0.push(error);
    }

    /// True when nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when empty, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, AirErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for AirErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AirErrors {}

impl From<AirError> for AirErrors {
    fn from(error: AirError) -> AirErrors {
        AirErrors(vec![error])
    }
}
