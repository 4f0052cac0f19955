//! `world demo`: a guided tour of one world from birth to fork, on the embedded store, with no
//! network beyond loopback and no API keys (the page comes from a local server, the summary
//! from the offline LLM provider). Each step runs the very `world` command it shows (this same
//! executable), checks that it did what the step says, and prints a few lines; the tour exits 0
//! only if every step held.

mod page;
mod tour;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;

use crate::failure::Failure;

/// Runs the tour in `dir` (a new directory under the system's temporary directory when `None`,
/// kept afterwards so the worlds can be explored with the commands it shows).
pub fn run(dir: Option<&Path>) -> Result<(), Failure> {
    let root = match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::message(format!("{}: {e}", dir.display())))?;
            dir.to_path_buf()
        }
        None => tempfile::Builder::new()
            .prefix("world-demo-")
            .tempdir()
            .map_err(|e| Failure::message(format!("temporary directory: {e}")))?
            .keep(),
    };
    let exe = std::env::current_exe()
        .map_err(|e| Failure::message(format!("demo: which executable am I? {e}")))?;
    let mut tour = Tour {
        exe,
        repo: repo_root()?,
        root,
        step: 0,
        started: std::time::Instant::now(),
    };
    tour::run(&mut tour)
}

/// The repository (the tour reads `worlds/…` and builds reducers from `modules/`).
fn repo_root() -> Result<PathBuf, Failure> {
    let here =
        std::env::current_dir().map_err(|e| Failure::message(format!("current directory: {e}")))?;
    let compiled_in = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    here.ancestors()
        .map(Path::to_path_buf)
        .chain(std::iter::once(compiled_in))
        .find(|dir| dir.join("worlds/summarizer/air").is_dir())
        .ok_or_else(|| {
            Failure::message("worlds/summarizer not found; run the demo from the repository")
        })
}

/// The tour's state: where it runs and which step it is at.
struct Tour {
    exe: PathBuf,
    repo: PathBuf,
    root: PathBuf,
    step: usize,
    started: std::time::Instant,
}

impl Tour {
    /// A path under the tour's directory, as text for a command line.
    fn path(&self, name: &str) -> String {
        self.root.join(name).display().to_string()
    }

    /// Prints step `title` and the command, runs `world ARGS`, and returns its stdout; a
    /// failing command fails the tour.
    fn run(&mut self, title: &str, args: &[&str]) -> Result<String, Failure> {
        self.run_shown(title, args, "")
    }

    /// As [`Tour::run`], with `suffix` appended to the command shown (a redirection).
    fn run_shown(&mut self, title: &str, args: &[&str], suffix: &str) -> Result<String, Failure> {
        self.step += 1;
        println!("\n{}. {title}", self.step);
        println!("   $ world {}{suffix}", shell_words(args));
        let output = Command::new(&self.exe)
            .args(args)
            .current_dir(&self.repo)
            .output()
            .map_err(|e| self.failed(&format!("could not run world: {e}")))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(self.failed(stderr.trim()));
        }
        Ok(stdout)
    }

    /// One line of what the step found.
    fn say(&self, line: impl AsRef<str>) {
        println!("   {}", line.as_ref());
    }

    /// Fails the tour at this step unless `holds`.
    fn check(&self, holds: bool, what: &str) -> Result<(), Failure> {
        if holds {
            Ok(())
        } else {
            Err(self.failed(what))
        }
    }

    fn failed(&self, why: &str) -> Failure {
        Failure::message(format!("demo step {} failed: {why}", self.step))
    }
}

/// Arguments as a person would type them: quoted when they hold anything a shell reads.
fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|arg| {
            let plain = arg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-=:@,+".contains(c));
            if plain && !arg.is_empty() {
                (*arg).to_owned()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The records a `world send --json` printed.
fn sent_records(stdout: &str) -> Vec<Json> {
    serde_json::from_str::<Json>(stdout)
        .ok()
        .and_then(|json| json.get("records").and_then(Json::as_array).cloned())
        .unwrap_or_default()
}
