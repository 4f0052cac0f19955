//! # worldline-cli
//!
//! The `world` command line. The only place that turns library errors into messages: every
//! failure is one line on stderr (or one JSON document with `--json`) and a non-zero exit.
//!
//! **Architecture invariant:** this crate decides nothing about a world; it reads files, the
//! clock and the OS random source, hands them to the kernel, and prints what comes back.

mod air_cmd;
pub mod api;
mod bench;
mod bench_timers;
mod demo;
mod failure;
mod files;
mod follow;
mod gov_cmd;
pub mod held;
pub mod host_cmd;
mod lineage_cmd;
pub mod modules;
mod output;
mod query;
mod render;
mod send_cmd;
mod why_cmd;
pub mod world_cmd;

use clap::{Parser, Subcommand};

pub use failure::Failure;

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
    ///
    /// Example: world air check worlds/counter
    #[command(subcommand)]
    Air(air_cmd::AirCommand),
    #[command(flatten)]
    World(world_cmd::WorldCommand),
    #[command(flatten)]
    Lineage(lineage_cmd::LineageCommand),
    #[command(flatten)]
    Gov(gov_cmd::GovCommand),
}

/// When set, `world` prints `peak_memory_kib N` on stderr as it exits (used by `world bench`).
pub const REPORT_PEAK_MEMORY_ENV: &str = "WORLDLINE_REPORT_PEAK_MEMORY";

/// Runs the command line; returns the process exit code. A command on a world that a `world
/// run` holds goes through its control socket ([`held`]).
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = execute(cli.command, &mut held::Access::Disk);
    if std::env::var_os(REPORT_PEAK_MEMORY_ENV).is_some()
        && let Some(kib) = bench::peak_rss_kib()
    {
        eprintln!("peak_memory_kib {kib}");
    }
    match result {
        Ok(()) => 0,
        Err(Failure::Held { socket }) => held::forward(&socket),
        Err(failure) => failure.report(),
    }
}

fn execute(command: Command, access: &mut held::Access) -> Result<(), Failure> {
    match command {
        Command::Air(command) => air_cmd::run(command),
        Command::World(command) => world_cmd::run(command, access),
        Command::Lineage(command) => lineage_cmd::run(command, access),
        Command::Gov(command) => gov_cmd::run(command, access),
    }
}

/// Runs a command line that came through the control socket, on the host loop's thread with
/// the held world; returns its exit code (what it printed is captured by the caller).
fn run_held(host: &mut worldline_adapters::Host, argv: &[String], cwd: &std::path::Path) -> i32 {
    let mut cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(error) => {
            // One line: the client parsed the same line, so only a hand-made request gets here.
            let text = error.render().to_string();
            output::errln!(
                "{}",
                text.lines().next().unwrap_or("error: not a command line")
            );
            return 2;
        }
    };
    let forwardable = match &mut cli.command {
        Command::Air(_) => false,
        Command::World(command) => command.for_socket(cwd),
        Command::Lineage(command) => command.for_socket(cwd),
        Command::Gov(command) => command.for_socket(cwd),
    };
    if !forwardable {
        output::errln!("error: this command does not run through the control socket");
        return 2;
    }
    match execute(cli.command, &mut held::Access::Held(host)) {
        Ok(()) => 0,
        Err(failure) => failure.report(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    /// Every command's `--help` shows an example (`Example: world …`).
    #[test]
    fn every_command_has_an_example() {
        use clap::CommandFactory;
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in command.get_subcommands().filter(|c| c.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                let help = sub
                    .get_long_about()
                    .or(sub.get_about())
                    .map(|text| text.to_string())
                    .unwrap_or_default();
                if !help.contains("Example: world ") {
                    missing.push(path.clone());
                }
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "world", &mut missing);
        assert!(
            missing.is_empty(),
            "no `Example:` in the help of {missing:?}"
        );
    }

    #[test]
    fn failure_exit_codes() {
        assert_eq!(Failure::Reported.exit_code(), 1);
        assert_eq!(Failure::message("x").exit_code(), 1);
    }
}
