//! The route table: the router is built from it and `/openapi.json` (OpenAPI 3.1) is generated
//! from it, so the document lists exactly the routes served. Written as data: the bodies are
//! the same JSON documents the command line prints, described in `spec/api.md`.

use axum::routing::{MethodRouter, get, post};
use serde_json::{Map, Value as Json, json};

use super::Api;

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum In {
    /// A path segment.
    Path,
    /// A query-string parameter.
    Query,
}

/// One parameter of a route.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Param {
    /// Its name.
    pub name: &'static str,
    /// Where it goes.
    pub place: In,
    /// `string` or `integer`.
    pub ty: &'static str,
    /// What it means.
    pub description: &'static str,
}

/// One route.
pub(crate) struct Route {
    /// `get` or `post`.
    pub method: &'static str,
    /// The OpenAPI path template.
    pub path: &'static str,
    /// The axum route (the same, except where a name may hold a slash).
    pub route: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Its parameters.
    pub params: &'static [Param],
    /// The JSON request body, when it takes one: (required, description).
    pub body: Option<(bool, &'static str)>,
    /// The handler.
    pub handler: fn() -> MethodRouter<Api>,
}

const ID: Param = Param {
    name: "id",
    place: In::Path,
    ty: "integer",
    description: "The proposal's id.",
};

/// Every route the API serves.
pub(crate) const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/health",
        route: "/health",
        summary: "The world's DID, head, manifest and open intents.",
        params: &[],
        body: None,
        handler: || get(super::routes::health),
    },
    Route {
        method: "get",
        path: "/openapi.json",
        route: "/openapi.json",
        summary: "This document.",
        params: &[],
        body: None,
        handler: || get(super::routes::openapi),
    },
    Route {
        method: "post",
        path: "/events",
        route: "/events",
        summary: "Append an external event, run what it causes, answer its seqs once durable.",
        params: &[],
        body: Some((
            true,
            "{\"schema\": NAME, \"value\": JSON in either lens}; a malformed event is 400 with the JSON path of the problem, nothing journaled.",
        )),
        handler: || post(super::events::post),
    },
    Route {
        method: "get",
        path: "/events/stream",
        route: "/events/stream",
        summary: "Server-sent events: every new record, in seq order (id = seq, event = record).",
        params: &[
            Param {
                name: "from",
                place: In::Query,
                ty: "integer",
                description: "First seq to send (default: the next record; Last-Event-ID wins).",
            },
            Param {
                name: "format",
                place: In::Query,
                ty: "string",
                description: "json (the `world log --json` object, default) or text (the `world log` line).",
            },
            Param {
                name: "caused_by",
                place: In::Query,
                ty: "integer",
                description: "Only this record and what it caused, directly or not (the lineage is read from this seq on).",
            },
        ],
        body: None,
        handler: || get(super::stream::stream),
    },
    Route {
        method: "get",
        path: "/state/{reducer}",
        route: "/state/{*reducer}",
        summary: "A reducer's state; a keyed reducer's cell with ?key, every cell without.",
        params: &[
            Param {
                name: "reducer",
                place: In::Path,
                ty: "string",
                description: "The reducer, e.g. demo/CounterSM@1 (the slash as is or as %2F).",
            },
            Param {
                name: "key",
                place: In::Query,
                ty: "string",
                description: "A cell key as JSON (a bare string is taken as text).",
            },
        ],
        body: None,
        handler: || get(super::routes::state),
    },
    Route {
        method: "get",
        path: "/journal",
        route: "/journal",
        summary: "A page of journal records and the seq of the next page.",
        params: &[
            Param {
                name: "from",
                place: In::Query,
                ty: "integer",
                description: "First seq (default 0).",
            },
            Param {
                name: "limit",
                place: In::Query,
                ty: "integer",
                description: "Most records (default 100, capped at 1000).",
            },
        ],
        body: None,
        handler: || get(super::routes::journal),
    },
    Route {
        method: "get",
        path: "/why/{target}",
        route: "/why/{target}",
        summary: "The why graph of a record (as `world why --format json`).",
        params: &[
            Param {
                name: "target",
                place: In::Path,
                ty: "string",
                description: "A seq, an intent hash or an event hash (sha256:…).",
            },
            Param {
                name: "direction",
                place: In::Query,
                ty: "string",
                description: "back (what led to it, default) or forward (what it caused).",
            },
            Param {
                name: "depth",
                place: In::Query,
                ty: "integer",
                description: "Most edges from the target (default 16, at most 256).",
            },
        ],
        body: None,
        handler: || get(super::routes::why),
    },
    Route {
        method: "get",
        path: "/proposals",
        route: "/proposals",
        summary: "Every proposal and where it stands.",
        params: &[],
        body: None,
        handler: || get(super::gov::list),
    },
    Route {
        method: "post",
        path: "/proposals",
        route: "/proposals",
        summary: "Propose a patch document.",
        params: &[],
        body: Some((
            true,
            "{\"patch\": PATCH_DOC, \"description\"?: TEXT, \"modules\"?: [BASE64 module binaries]}",
        )),
        handler: || post(super::gov::propose),
    },
    Route {
        method: "post",
        path: "/proposals/{id}/shadow",
        route: "/proposals/{id}/shadow",
        summary: "Shadow-run a proposal and journal the report.",
        params: &[ID],
        body: Some((
            false,
            "{\"replay_last\": N} (default 100) or {\"events\": [{\"schema\", \"value\"}]}",
        )),
        handler: || post(super::gov::shadow),
    },
    Route {
        method: "post",
        path: "/proposals/{id}/approve",
        route: "/proposals/{id}/approve",
        summary: "Approve a shadowed proposal (unsigned; signed decisions use `world approve --key`).",
        params: &[ID],
        body: Some((false, "{\"by\": NAME} (default api)")),
        handler: || post(super::gov::approve),
    },
    Route {
        method: "post",
        path: "/proposals/{id}/reject",
        route: "/proposals/{id}/reject",
        summary: "Reject a shadowed proposal.",
        params: &[ID],
        body: Some((false, "{\"by\": NAME} (default api)")),
        handler: || post(super::gov::reject),
    },
    Route {
        method: "post",
        path: "/proposals/{id}/apply",
        route: "/proposals/{id}/apply",
        summary: "Switch the world to an approved proposal's manifest.",
        params: &[ID],
        body: None,
        handler: || post(super::gov::apply),
    },
    Route {
        method: "get",
        path: "/proposals/{id}/report",
        route: "/proposals/{id}/report",
        summary: "A proposal's latest shadow report (as `world shadow --json`) and its record's seq.",
        params: &[ID],
        body: None,
        handler: || get(super::viewer::report),
    },
    Route {
        method: "get",
        path: "/reducers",
        route: "/reducers",
        summary: "The reducers of the manifest in force: name, keyed, state and event schemas.",
        params: &[],
        body: None,
        handler: || get(super::viewer::reducers),
    },
    Route {
        method: "get",
        path: "/",
        route: "/",
        summary: "The web viewer (HTML): timeline, why graph, state, proposals.",
        params: &[],
        body: None,
        handler: || get(super::viewer::index),
    },
    Route {
        method: "get",
        path: "/viewer.js",
        route: "/viewer.js",
        summary: "The web viewer's script.",
        params: &[],
        body: None,
        handler: || get(super::viewer::script),
    },
    Route {
        method: "get",
        path: "/viewer.css",
        route: "/viewer.css",
        summary: "The web viewer's style.",
        params: &[],
        body: None,
        handler: || get(super::viewer::style),
    },
];

fn operation(route: &Route) -> Json {
    let params: Vec<Json> = route
        .params
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "in": match p.place { In::Path => "path", In::Query => "query" },
                "required": p.place == In::Path,
                "description": p.description,
                "schema": {"type": p.ty},
            })
        })
        .collect();
    let error = json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let mut responses = Map::new();
    let ok_type = match route.path {
        "/events/stream" => json!({"text/event-stream": {"schema": {"type": "string"}}}),
        "/" => json!({"text/html": {"schema": {"type": "string"}}}),
        "/viewer.js" => json!({"text/javascript": {"schema": {"type": "string"}}}),
        "/viewer.css" => json!({"text/css": {"schema": {"type": "string"}}}),
        _ => json!({"application/json": {"schema": {"type": "object"}}}),
    };
    responses.insert(
        "200".into(),
        json!({"description": "OK", "content": ok_type}),
    );
    for (status, what) in [
        (
            "400",
            "Malformed request (with the JSON path of the problem)",
        ),
        ("401", "The API token is needed"),
        ("404", "No such reducer, record or proposal"),
        ("409", "Refused by the world (nothing journaled)"),
        ("503", "The queue is full or the host is stopping"),
    ] {
        let mut answer = error.clone();
        answer["description"] = json!(what);
        responses.insert(status.into(), answer);
    }
    let mut op = json!({
        "summary": route.summary,
        "operationId": format!("{}{}", route.method, route.path.replace(['/', '{', '}', '.'], "_")),
        "parameters": params,
        "responses": responses,
    });
    if let Some((required, description)) = route.body {
        op["requestBody"] = json!({
            "required": required,
            "description": description,
            "content": {"application/json": {"schema": {"type": "object"}}},
        });
    }
    if route.method == "post" {
        op["security"] = json!([{"bearer": []}]);
    }
    op
}

/// The OpenAPI 3.1 document of every route in [`ROUTES`].
pub(crate) fn openapi_doc() -> Json {
    let mut paths = Map::new();
    for route in ROUTES {
        let item = paths.entry(route.path).or_insert_with(|| json!({}));
        item[route.method] = operation(route);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Worldline control API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The API of `world run --listen` (spec/api.md). Loopback binds without a token allow every call; with --token, mutating calls need `Authorization: Bearer TOKEN`; other binds need it on every call.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "path": {"type": "string", "description": "JSON path of the problem in the request body"},
                        },
                    }},
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_in_the_document_once() {
        let doc = openapi_doc();
        let mut seen = std::collections::BTreeSet::new();
        for route in ROUTES {
            assert!(
                seen.insert((route.method, route.path)),
                "{} {}",
                route.method,
                route.path
            );
            assert!(doc["paths"][route.path][route.method].is_object());
            for p in route.params.iter().filter(|p| p.place == In::Path) {
                assert!(
                    route.path.contains(&format!("{{{}}}", p.name)),
                    "{}",
                    route.path
                );
            }
        }
        let listed: usize = doc["paths"]
            .as_object()
            .map(|paths| {
                paths
                    .values()
                    .filter_map(Json::as_object)
                    .map(Map::len)
                    .sum()
            })
            .unwrap_or(0);
        assert_eq!(listed, ROUTES.len());
    }
}
