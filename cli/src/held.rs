//! The control socket (`.world/control.sock`): while `world run` holds a world, the other
//! `world` commands on it run inside that process instead of failing with "in use".
//!
//! A command opens its world through [`Access`]. From a shell that is [`Access::Disk`]: the
//! world is opened from disk; when another process holds it and serves a control socket, the
//! command fails with [`Failure::Held`] before it has changed anything, and `main` sends the
//! whole command line and the working directory to the socket (`POST /cli`). `world run`
//! parses it again, makes its relative paths absolute against that directory, and runs it on
//! the host loop's thread with [`Access::Held`]: the held world is lent to the command, what it
//! prints is captured ([`crate::output`]) and goes back with its exit code, which the client
//! prints and exits with. A command therefore prints the same from a shell and through the
//! socket; `send` differs in one way: the running host, not the command, carries out the
//! effects the event causes.
//!
//! The socket serves the API of `--listen` plus `/cli`, to the world's owner only (mode 0600,
//! no token): whoever can reach it can open the world's files anyway.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value as Json, json};
use worldline_adapters::Host;
use worldline_kernel::{KernelError, World};

use crate::failure::Failure;
use crate::output::errln;

/// The control socket's file in `.world/`.
pub const CONTROL_SOCKET_FILE: &str = "control.sock";
/// Most arguments one forwarded command line may have.
pub const CLI_ARGS_MAX: usize = 256;

/// The control socket of the world in `dir`.
pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join(worldline_kernel::world::WORLD_DIR)
        .join(CONTROL_SOCKET_FILE)
}

/// Where a command gets its world.
pub enum Access<'h> {
    /// From disk (a command run from a shell).
    Disk,
    /// Lent by the `world run` that holds it (a command forwarded through the socket).
    Held(&'h mut Host),
}

/// A world a command works on: its own, or the held one, lent.
pub enum WorldRef<'a> {
    /// Opened from disk by this command.
    Owned(Box<World>),
    /// The world of the `world run` the command was forwarded to.
    Lent(&'a mut World),
}

impl Deref for WorldRef<'_> {
    type Target = World;
    fn deref(&self) -> &World {
        match self {
            WorldRef::Owned(world) => world,
            WorldRef::Lent(world) => world,
        }
    }
}

impl DerefMut for WorldRef<'_> {
    fn deref_mut(&mut self) -> &mut World {
        match self {
            WorldRef::Owned(world) => world,
            WorldRef::Lent(world) => world,
        }
    }
}

impl Access<'_> {
    /// The world in `dir`: opened, or lent when this command runs inside `world run`.
    pub fn open(&mut self, dir: &Path) -> Result<WorldRef<'_>, Failure> {
        match self {
            Access::Disk => World::open(dir)
                .map(|world| WorldRef::Owned(Box::new(world)))
                .map_err(in_use_or(dir)),
            Access::Held(host) => {
                check_same_world(dir, host.world())?;
                Ok(WorldRef::Lent(host.world_mut()))
            }
        }
    }

    /// The running host, when this command was forwarded to it.
    pub fn host(&mut self, dir: &Path) -> Result<Option<&mut Host>, Failure> {
        match self {
            Access::Disk => Ok(None),
            Access::Held(host) => {
                check_same_world(dir, host.world())?;
                Ok(Some(host))
            }
        }
    }
}

/// A forwarded command names the held world, not another one.
fn check_same_world(dir: &Path, held: &World) -> Result<(), Failure> {
    let same = match (
        std::fs::canonicalize(dir),
        std::fs::canonicalize(held.dir()),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(Failure::message(format!(
            "{}: this control socket serves {}",
            dir.display(),
            held.dir().display()
        )))
    }
}

/// Kernel errors as messages, except that a world held by a `world run` with a control socket
/// becomes [`Failure::Held`], so the command is forwarded to it.
pub fn in_use_or(dir: &Path) -> impl Fn(KernelError) -> Failure + '_ {
    move |error| match error {
        KernelError::InUse { .. } if socket_path(dir).exists() => Failure::Held {
            socket: socket_path(dir),
        },
        other => crate::world_cmd::kernel(dir)(other),
    }
}

/// A command line sent to the socket.
#[derive(Debug, Deserialize)]
pub(crate) struct CliRequest {
    /// The arguments, the program name first.
    pub argv: Vec<String>,
    /// The client's working directory (relative paths are resolved against it).
    pub cwd: PathBuf,
}

/// Runs a forwarded command line on the host loop's thread; answers with what it printed and
/// its exit code.
pub(crate) fn run_for_client(host: &mut Host, request: CliRequest) -> Json {
    let (exit, captured) = crate::output::capture(|| {
        if request.argv.len() > CLI_ARGS_MAX {
            errln!("error: more than {CLI_ARGS_MAX} arguments");
            return 2;
        }
        if !request.cwd.is_absolute() {
            errln!(
                "error: the working directory {} is not absolute",
                request.cwd.display()
            );
            return 2;
        }
        crate::run_held(host, &request.argv, &request.cwd)
    });
    json!({"stdout": captured.stdout, "stderr": captured.stderr, "exit": exit})
}

/// Sends this process's command line to the control socket and prints the answer; returns the
/// exit code the command had inside `world run`.
pub fn forward(socket: &Path) -> i32 {
    match forward_inner(socket) {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}

fn forward_inner(socket: &Path) -> Result<i32, Failure> {
    let argv = std::env::args_os()
        .map(|arg| {
            arg.into_string().map_err(|arg| {
                Failure::message(format!(
                    "argument {arg:?} is not UTF-8, so it cannot go through the control socket"
                ))
            })
        })
        .collect::<Result<Vec<String>, Failure>>()?;
    let cwd = std::env::current_dir()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let answer: Json = runtime.block_on(async {
        // reqwest is built without a default TLS provider (none is used on a socket, but the
        // builder asks for one).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .unix_socket(socket)
            .build()
            .map_err(|e| Failure::message(format!("{}: {e}", socket.display())))?;
        let response = client
            .post("http://world/cli")
            .header("content-type", "application/json")
            .body(json!({"argv": argv, "cwd": cwd}).to_string())
            .send()
            .await
            .map_err(|e| {
                Failure::message(format!(
                    "{}: the world is held by `world run`, but its control socket did not answer: {e}",
                    socket.display()
                ))
            })?;
        let status = response.status();
        let body = response.text().await.map_err(|e| {
            Failure::message(format!("{}: the answer broke off: {e}", socket.display()))
        })?;
        if !status.is_success() {
            return Err(Failure::message(format!(
                "{}: the control socket answered {status}: {body}",
                socket.display()
            )));
        }
        serde_json::from_str(&body).map_err(Failure::from)
    })?;
    let text = |field: &str| answer[field].as_str().unwrap_or_default().to_owned();
    crate::output::write(crate::output::Stream::Out, &text("stdout"));
    crate::output::write(crate::output::Stream::Err, &text("stderr"));
    let exit = answer["exit"].as_i64().unwrap_or(1);
    Ok(i32::try_from(exit).unwrap_or(1))
}

/// Makes `path` absolute against `cwd`.
pub(crate) fn absolute(path: &mut PathBuf, cwd: &Path) {
    if path.is_relative() {
        *path = cwd.join(&*path);
    }
}

/// `NAME=FILE` with FILE made absolute against `cwd`.
pub(crate) fn absolute_module(spec: &mut String, cwd: &Path) {
    if let Some((name, file)) = spec.split_once('=') {
        let mut file = PathBuf::from(file);
        absolute(&mut file, cwd);
        *spec = format!("{name}={}", file.display());
    }
}
