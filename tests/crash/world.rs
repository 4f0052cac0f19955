//! Running `world`: this test executable, re-executed with [`AS_WORLD_ENV`] set, runs the
//! command line's own entry point (`worldline_cli::main`, which is all `cli/src/main.rs` does)
//! built with the kernel's `failpoints` feature. So the crash matrix always drives a `world`
//! built from the tree under test, with its crash points in, whatever else `cargo` built.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// When set, this executable is `world`.
pub const AS_WORLD_ENV: &str = "WORLDLINE_CRASH_TEST_AS_WORLD";
/// Longest any one `world` command may take before the test fails (a hang is a finding).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// SIGABRT: how a crash point ends a process.
const SIGABRT: i32 = 6;
/// SIGKILL.
const SIGKILL: i32 = 9;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// How a `world` command ended.
#[derive(Debug)]
pub struct Outcome {
    /// Its exit code, when it exited.
    pub code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

impl Outcome {
    /// Exited with 0.
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Died at a crash point.
    pub fn crashed(&self) -> bool {
        self.signal == Some(SIGABRT)
    }

    /// Killed with SIGKILL.
    pub fn killed(&self) -> bool {
        self.signal == Some(SIGKILL)
    }

    /// Fails the test unless the command succeeded.
    pub fn expect_ok(self, what: &str) -> Outcome {
        assert!(
            self.ok(),
            "{what}: exit {:?} signal {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.signal,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Held (shared) while a child is spawned, and (exclusive) while this process has a world
/// open: a child forked in between would inherit the world's lock until it execs, and a
/// `world` command started in that moment would find the world in use.
pub static FORK_GUARD: RwLock<()> = RwLock::new(());

/// `world ARGS` with `env`, not yet waited for; stdout and stderr are piped.
pub fn spawn(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Child {
    let _forking = FORK_GUARD.read().unwrap_or_else(|p| p.into_inner());
    Command::new(std::env::current_exe().unwrap())
        .args(args)
        .env(AS_WORLD_ENV, "1")
        .env_remove(worldline_kernel::failpoint::CRASH_AT_ENV)
        .env_remove(worldline_kernel::failpoint::TRACE_ENV)
        .envs(env.iter().copied())
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` (at most [`COMMAND_TIMEOUT`]), collecting what it printed.
pub fn finish(mut child: Child, what: &str) -> Outcome {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {COMMAND_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Outcome {
        code: status.code(),
        signal: status.signal(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Runs `world ARGS` with `env` to its end.
pub fn world(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Outcome {
    finish(spawn(args, env, cwd), &format!("world {args:?}"))
}

/// Copies a directory tree (a world, a scratch folder).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
