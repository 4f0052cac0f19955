//! The control socket's listener: `.world/control.sock` serves the API's routes plus
//! `POST /cli`, a command line run inside this `world run` ([`crate::held`]).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;

use super::routes::Answer;
use super::{API_BODY_BYTES_MAX, Api, ApiError};
use crate::held::{CliRequest, run_for_client, socket_path};

/// Binds `.world/control.sock` in `dir` (replacing one a killed `world run` left: this process
/// holds the world now), admits only the owner, and serves it until the host stops. Returns the
/// socket's path, or why there is none.
pub(crate) fn serve(
    runtime: &tokio::runtime::Handle,
    dir: &Path,
    api: Api,
) -> Result<PathBuf, String> {
    let path = socket_path(dir);
    let failed = |e: std::io::Error| format!("{}: {e}", path.display());
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(failed(e)),
    }
    let listener = {
        let _entered = runtime.enter();
        tokio::net::UnixListener::bind(&path).map_err(failed)?
    };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
    let cli = Router::new()
        .route("/cli", post(cli))
        .layer(DefaultBodyLimit::max(API_BODY_BYTES_MAX))
        .with_state(api.clone());
    let app = super::routes::router(api).merge(cli);
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(path)
}

/// `POST /cli {argv, cwd}` → `{stdout, stderr, exit}`.
async fn cli(State(api): State<Api>, body: Bytes) -> Answer {
    let request: CliRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("$: not a command line: {e}")))?;
    let answer = api
        .call(move |host| Ok(run_for_client(host, request)))
        .await?;
    Ok(axum::Json(answer))
}
