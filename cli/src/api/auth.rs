//! Who may call: a loopback bind without `--token` lets everyone on the machine do everything;
//! with `--token`, a loopback bind lets reads (GET) through and asks the token of every
//! mutating call; a non-loopback bind always has a token (it refuses to start without one) and
//! asks it of every request. The token comes as `Authorization: Bearer TOKEN`.

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Api, ApiError};

/// Whether a request needs the token under these rules.
pub(crate) fn needs_token(has_token: bool, loopback: bool, method: &Method) -> bool {
    let reads = method == Method::GET || method == Method::HEAD;
    has_token && (!loopback || !reads)
}

/// Byte-wise comparison whose time does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The middleware: 401 `unauthorized` when the token is needed and missing or wrong.
pub(crate) async fn check(State(api): State<Api>, request: Request, next: Next) -> Response {
    let Some(token) = api.token.as_deref() else {
        return next.run(request).await;
    };
    if !needs_token(true, api.loopback, request.method()) {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if same(given.trim().as_bytes(), token.as_bytes()) => next.run(request).await,
        Some(_) => ApiError::unauthorized("the bearer token is wrong").into_response(),
        None => ApiError::unauthorized(
            "this call needs the API token: send Authorization: Bearer TOKEN",
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_rules() {
        // No token configured (only possible on loopback): everything goes.
        assert!(!needs_token(false, true, &Method::POST));
        // Loopback with a token: reads free, mutations need it.
        assert!(!needs_token(true, true, &Method::GET));
        assert!(needs_token(true, true, &Method::POST));
        // Any other bind: every request.
        assert!(needs_token(true, false, &Method::GET));
        assert!(needs_token(true, false, &Method::POST));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }
}
