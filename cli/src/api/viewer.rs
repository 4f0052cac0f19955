//! The web viewer (`cli/viewer/`: one HTML page, its script and style, compiled into the
//! binary so nothing is fetched from elsewhere) and the two reads only it needs: the reducers
//! of the manifest in force, and a proposal's shadow report.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;
use worldline_air::nodes::Node;
use worldline_kernel::KernelError;
use worldline_kernel::record::{Record, RecordBody};

use super::routes::Answer;
use super::{Api, ApiError};

const INDEX_HTML: &str = include_str!("../../viewer/index.html");
const VIEWER_JS: &str = include_str!("../../viewer/viewer.js");
const VIEWER_CSS: &str = include_str!("../../viewer/viewer.css");

/// `GET /`: the viewer.
pub(crate) async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
}

/// `GET /viewer.js`.
pub(crate) async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        VIEWER_JS,
    )
}

/// `GET /viewer.css`.
pub(crate) async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        VIEWER_CSS,
    )
}

/// `GET /reducers`: `{"reducers": [{"name", "keyed", "state", "event"}]}` of the manifest in
/// force.
pub(crate) async fn reducers(State(api): State<Api>) -> Answer {
    api.call(|host| {
        let plane = host.world().plane();
        let reducers: Vec<_> = plane
            .defs()
            .iter()
            .filter_map(|((_, name), def)| match &def.node {
                Node::Module(module) => Some((name, module)),
                _ => None,
            })
            .filter_map(|(name, module)| {
                let abi = module.reducer()?;
                Some(json!({
                    "name": name.to_string(),
                    "keyed": module.key_schema.is_some(),
                    "state": abi.state.to_string(),
                    "event": abi.event.to_string(),
                }))
            })
            .collect();
        Ok(axum::Json(json!({ "reducers": reducers })))
    })
    .await
}

/// `GET /proposals/{id}/report`: the latest shadow report of a proposal (as `world shadow
/// --json`), with the `seq` of its record.
pub(crate) async fn report(State(api): State<Api>, Path(id): Path<u64>) -> Answer {
    api.call(move |host| {
        let world = host.world();
        let proposal = world
            .proposals()
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("proposal {id} does not exist")))?;
        let seq = proposal.shadow_seq.ok_or_else(|| {
            ApiError::not_found(format!("proposal {id} has not been shadowed yet"))
        })?;
        let record = world
            .records(seq, 1)?
            .into_iter()
            .next()
            .map(|(record, _)| record);
        let Some(Record {
            body: RecordBody::GovShadowReport { report_hash, .. },
            ..
        }) = record
        else {
            return Err(KernelError::Corrupt(format!(
                "record {seq} is not proposal {id}'s shadow report"
            ))
            .into());
        };
        let report = world.shadow_report(&report_hash)?;
        let mut answer = serde_json::to_value(&report)
            .map_err(|e| KernelError::Corrupt(format!("shadow report: {e}")))?;
        answer["seq"] = json!(seq);
        Ok(axum::Json(answer))
    })
    .await
}
