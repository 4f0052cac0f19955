//! How a command fails: a one-line message, or "already reported" (the errors were printed).

/// A command's failure.
#[derive(Debug)]
pub enum Failure {
    /// The command already printed what went wrong (e.g. every AIR error); exit 1.
    Reported,
    /// One line to print on stderr; exit 1.
    Message(String),
    /// The world is held by a `world run` serving this control socket: the command goes there
    /// instead ([`crate::held`]); it had changed nothing when this was returned.
    Held {
        /// The socket of the `world run` that holds the world.
        socket: std::path::PathBuf,
    },
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
        match self {
            Failure::Message(text) => crate::output::errln!("error: {text}"),
            Failure::Held { socket } => crate::output::errln!(
                "error: the world is held by the `world run` serving {}",
                socket.display()
            ),
            Failure::Reported => {}
        }
        code
    }
}

impl<E: std::error::Error> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure::Message(error.to_string())
    }
}
