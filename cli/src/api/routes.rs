//! The router (built from [`ROUTES`](super::openapi::ROUTES), so the OpenAPI document lists
//! exactly what is served) and the read routes: health, state, journal, why.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use serde_json::{Value as Json, json};
use worldline_kernel::why::{DEPTH_DEFAULT, Direction};

use super::{API_BODY_BYTES_MAX, Api, ApiError, JOURNAL_LIMIT_DEFAULT, JOURNAL_LIMIT_MAX};
use crate::failure::Failure;
use crate::render::record_json;

/// Query parameters, or 400 if the query string does not decode.
pub(crate) type Params = Result<Query<BTreeMap<String, String>>, QueryRejection>;

/// A JSON answer.
pub(crate) type Answer = Result<axum::Json<Json>, ApiError>;

/// The whole API: every route of the table, the auth check, the body limit, JSON 404s.
pub(crate) fn router(api: Api) -> Router {
    let mut router = Router::new();
    for route in super::openapi::ROUTES {
        router = router.route(route.route, (route.handler)());
    }
    router
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(axum::middleware::from_fn_with_state(
            api.clone(),
            super::auth::check,
        ))
        .layer(DefaultBodyLimit::max(API_BODY_BYTES_MAX))
        .with_state(api)
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route {method} {}", uri.path()))
}

async fn no_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}", uri.path()),
    )
}

/// The query parameters as a map.
pub(crate) fn params(params: Params) -> Result<BTreeMap<String, String>, ApiError> {
    params
        .map(|Query(map)| map)
        .map_err(|e| ApiError::bad_request(format!("query string: {e}")))
}

/// An unsigned number from the query, if given.
pub(crate) fn number<T: std::str::FromStr>(
    params: &BTreeMap<String, String>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    params
        .get(name)
        .map(|text| {
            text.parse().map_err(|_| {
                ApiError::bad_request(format!("{name}={text}: expected a whole number"))
            })
        })
        .transpose()
}

/// A request body as strict JSON; 413 over [`API_BODY_BYTES_MAX`].
pub(crate) fn body_json(body: Result<Bytes, BytesRejection>) -> Result<Json, ApiError> {
    let body = body.map_err(|e| {
        ApiError::new(
            e.status(),
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "bad_request"
            },
            format!(
                "body: {} (at most {API_BODY_BYTES_MAX} bytes)",
                e.body_text()
            ),
        )
    })?;
    super::events::parse_body(&body)
}

/// `GET /health`.
pub(crate) async fn health(State(api): State<Api>) -> Answer {
    api.call(|host| {
        let world = host.world();
        Ok(axum::Json(json!({
            "status": "ok",
            "did": world.did(),
            "head": {"seq": world.head().seq, "hash": world.head().hash.to_string()},
            "manifest_hash": world.plane().manifest_hash().to_string(),
            "open_intents": world.open_intents().len(),
        })))
    })
    .await
}

/// `GET /state/{reducer}[?key=JSON]`.
pub(crate) async fn state(
    State(api): State<Api>,
    Path(reducer): Path<String>,
    query: Params,
) -> Answer {
    let query = params(query)?;
    let key = query.get("key").map(|k| crate::query::key_json(k));
    api.call(move |host| {
        let state = crate::query::state_json(host.world(), &reducer, key.as_ref())?;
        Ok(axum::Json(
            json!({"reducer": reducer, "key": key, "state": state}),
        ))
    })
    .await
}

/// `GET /journal?from=SEQ&limit=N`.
pub(crate) async fn journal(State(api): State<Api>, query: Params) -> Answer {
    let query = params(query)?;
    let from: u64 = number(&query, "from")?.unwrap_or(0);
    let limit: usize = number(&query, "limit")?
        .unwrap_or(JOURNAL_LIMIT_DEFAULT)
        .min(JOURNAL_LIMIT_MAX);
    api.call(move |host| {
        let world = host.world();
        let records = world.records(from, limit)?;
        let next = records.last().map_or(from, |(r, _)| r.seq + 1);
        let records: Vec<Json> = records
            .iter()
            .map(|(r, h)| record_json(world.plane(), r, h))
            .collect();
        Ok(axum::Json(json!({
            "from": from, "limit": limit, "head": world.head().seq,
            "next": next, "records": records,
        })))
    })
    .await
}

/// `GET /why/{target}?direction=back|forward&depth=N`.
pub(crate) async fn why(
    State(api): State<Api>,
    Path(target): Path<String>,
    query: Params,
) -> Answer {
    let query = params(query)?;
    let target = crate::why_cmd::parse_target(&target).map_err(|e| match e {
        Failure::Message(message) => ApiError::bad_request(message),
        Failure::Reported | Failure::Held { .. } => ApiError::bad_request("bad target"),
    })?;
    let direction = match query.get("direction").map(String::as_str) {
        None | Some("back") => Direction::Back,
        Some("forward") => Direction::Forward,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "direction={other}: expected back or forward"
            )));
        }
    };
    let depth = number(&query, "depth")?.unwrap_or(DEPTH_DEFAULT);
    api.call(move |host| {
        Ok(axum::Json(crate::query::why_json(
            host.world(),
            target,
            direction,
            depth,
        )?))
    })
    .await
}

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> axum::Json<Json> {
    axum::Json(super::openapi::openapi_doc())
}
