//! `world`: the Worldline command line.
//!
//! The only place that turns library errors into messages: every failure is one line on stderr
//! (or one JSON document with `--json`) and a non-zero exit.

mod air_cmd;
mod failure;
mod files;

use clap::{Parser, Subcommand};

/// Worldline: deterministic, auditable agent worlds.
#[derive(Parser)]
#[command(name = "world", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check, hash and describe AIR (the control plane).
    #[command(subcommand)]
    Air(air_cmd::AirCommand),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Air(command) => air_cmd::run(command),
    };
    if let Err(failure) = result {
        std::process::exit(failure.report());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Failure;

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn failure_exit_codes() {
        assert_eq!(Failure::Reported.exit_code(), 1);
        assert_eq!(Failure::message("x").exit_code(), 1);
    }
}
