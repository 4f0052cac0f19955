//! How a command fails: a one-line message, or "already reported" (the errors were printed).

/// A command's failure.
#[derive(Debug)]
pub enum Failure {
    /// The command already printed what went wrong (e.g. every AIR error); exit 1.
    Reported,
    /// One line to print on stderr; exit 1.
    Message(String),
}

impl Failure {
    /// A one-line failure.
    pub fn message(text: impl Into<String>) -> Failure {
        Failure::Message(text.into())
    }

    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        1
    }

    /// Prints the message (if any) and returns the exit code.
    pub fn report(self) -> i32 {
        let code = self.exit_code();
        if let Failure::Message(text) = self {
            eprintln!("error: {text}");
        }
        code
    }
}

impl<E: std::error::Error> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure::Message(error.to_string())
    }
}
