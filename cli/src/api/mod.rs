//! The control API of `world run --listen` (`spec/api.md`): JSON over HTTP (axum) on the host's
//! tokio runtime.
//!
//! The world stays on the host loop's thread: every handler sends a job to the loop through a
//! [`HostHandle`] and awaits the answer on a oneshot channel. At most [`API_QUEUE_MAX`] jobs wait
//! at once (more are answered 503); events go through one submitter task that groups the ones
//! queued together into one durable commit ([`events`]).

mod auth;
mod control_socket;
mod error;
mod events;
mod gov;
mod openapi;
mod routes;
mod stream;
mod viewer;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use worldline_adapters::{Host, HostHandle};

pub use error::ApiError;

use crate::failure::Failure;

/// Most jobs (reads, governance calls, events) waiting for the host loop at once; more are
/// answered 503 `busy`.
pub const API_QUEUE_MAX: usize = 1024;
/// Most events written in one durable commit.
pub const SUBMIT_BATCH_MAX: usize = 256;
/// Largest request body, in bytes (1 MiB).
pub const API_BODY_BYTES_MAX: usize = 1 << 20;
/// Most records one `GET /journal` returns (`limit` is capped to it).
pub const JOURNAL_LIMIT_MAX: usize = 1000;
/// Records a `GET /journal` returns when no `limit` is given.
pub const JOURNAL_LIMIT_DEFAULT: usize = 100;
/// Most event streams (`GET /events/stream`) open at once; more are answered 503 `busy`.
pub const STREAMS_MAX: usize = 64;
/// Records an event stream reads from the world per job.
pub const STREAM_PAGE_RECORDS: usize = 256;
/// The file in `.world/` where a listening `world run` writes its URL (removed when it stops).
pub const API_URL_FILE: &str = "api-url";

/// How the control API listens.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The address to bind (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The bearer token: required for every request on a non-loopback bind, and for every
    /// mutating request when given on a loopback bind.
    pub token: Option<String>,
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct Api {
    host: HostHandle,
    /// One permit per job waiting for the host loop.
    queue: Arc<Semaphore>,
    /// One permit per open event stream.
    streams: Arc<Semaphore>,
    /// The submitter task's queue of events.
    submit: mpsc::Sender<events::Submission>,
    head: watch::Receiver<u64>,
    token: Option<Arc<str>>,
    loopback: bool,
}

impl Api {
    /// Runs `f` on the host loop's thread and returns its answer; 503 when the queue is full
    /// or the host stops first.
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Host) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = Arc::clone(&self.queue).try_acquire_owned().map_err(|_| {
            ApiError::busy(format!(
                "{API_QUEUE_MAX} requests are already waiting for the world; retry later"
            ))
        })?;
        self.call_unqueued(move |host| {
            let answer = f(host);
            drop(permit);
            answer
        })
        .await
    }

    /// [`Api::call`] without taking a queue place (event streams, bounded by [`STREAMS_MAX`]).
    pub(crate) async fn call_unqueued<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Host) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        let sent = self.host.send(Box::new(move |host: &mut Host| {
            let _ = tx.send(f(host));
        }));
        if !sent {
            return Err(ApiError::stopping());
        }
        rx.await.map_err(|_| ApiError::stopping())?
    }
}

/// Refuses a configuration the auth rules forbid: a non-loopback bind without a token, or an
/// empty token.
pub fn check_config(config: &ApiConfig) -> Result<(), Failure> {
    if config.token.as_deref().is_some_and(str::is_empty) {
        return Err(Failure::message("--token: the token is empty"));
    }
    if !config.listen.ip().is_loopback() && config.token.is_none() {
        return Err(Failure::message(format!(
            "--listen {}: not a loopback address, so the API needs --token (every request must then carry it)",
            config.listen
        )));
    }
    Ok(())
}

/// Checks the configuration and binds its address: before the world is opened, so a `world
/// run` that cannot listen journals nothing.
pub fn bind(config: &ApiConfig) -> Result<std::net::TcpListener, Failure> {
    check_config(config)?;
    std::net::TcpListener::bind(config.listen)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| Failure::message(format!("--listen {}: {e}", config.listen)))
}

/// What `world run` serves.
#[derive(Debug)]
pub struct Serving {
    /// The address the API is bound to (the real port when 0 was asked for), with --listen.
    pub bound: Option<SocketAddr>,
    /// The control socket, or why there is none (the world's path too long for a socket, say):
    /// without it the other commands on the world fail with "in use" while it runs.
    pub socket: Result<std::path::PathBuf, String>,
}

/// Serves, on the host's runtime until the host stops, the control socket of the world in
/// `dir` ([`crate::held`]) and, with `tcp` (from [`bind`]), the API on that listener.
pub fn serve(
    host: &Host,
    dir: &std::path::Path,
    tcp: Option<(std::net::TcpListener, &ApiConfig)>,
) -> Result<Serving, Failure> {
    let runtime = host.runtime().clone();
    let (submit, submissions) = mpsc::channel(API_QUEUE_MAX);
    // The socket's terms: its file mode admits only the world's owner, who needs no token.
    let api = Api {
        host: host.handle(),
        queue: Arc::new(Semaphore::new(API_QUEUE_MAX)),
        streams: Arc::new(Semaphore::new(STREAMS_MAX)),
        submit,
        head: host.watch_head(),
        token: None,
        loopback: true,
    };
    runtime.spawn(events::submitter(host.handle(), submissions));
    let mut bound = None;
    if let Some((listener, config)) = tcp {
        let failed =
            |e: std::io::Error| Failure::message(format!("--listen {}: {e}", config.listen));
        bound = Some(listener.local_addr().map_err(failed)?);
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(failed)?
        };
        let app = routes::router(Api {
            token: config.token.as_deref().map(Arc::from),
            loopback: config.listen.ip().is_loopback(),
            ..api.clone()
        });
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
    }
    let socket = control_socket::serve(&runtime, dir, api);
    Ok(Serving { bound, socket })
}

/// The URL a client on this machine uses for a bound address (an unspecified address such as
/// 0.0.0.0 is reached on loopback).
pub fn client_url(bound: SocketAddr) -> String {
    let mut addr = bound;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}")
}

/// Writes `.world/api-url` (so `world log --follow` finds a running API); returns its path.
pub fn write_url_file(dir: &std::path::Path, url: &str) -> Result<std::path::PathBuf, Failure> {
    let file = dir
        .join(worldline_kernel::world::WORLD_DIR)
        .join(API_URL_FILE);
    std::fs::write(&file, format!("{url}\n"))
        .map_err(|e| Failure::message(format!("{}: {e}", file.display())))?;
    Ok(file)
}

/// The URL a listening `world run` wrote in `dir`, if there is one.
pub fn read_url_file(dir: &std::path::Path) -> Option<String> {
    let file = dir
        .join(worldline_kernel::world::WORLD_DIR)
        .join(API_URL_FILE);
    let text = std::fs::read_to_string(file).ok()?;
    let url = text.trim();
    (!url.is_empty()).then(|| url.to_owned())
}
