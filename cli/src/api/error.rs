//! The control API's errors: a status and `{"error": {"code", "message", "path"?}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use worldline_kernel::KernelError;

use crate::query::QueryError;

/// A refused or failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code (`spec/api.md` lists them).
    pub code: &'static str,
    /// One sentence for a person.
    pub message: String,
    /// The JSON path of the problem in the request body, when there is one.
    pub path: Option<String>,
}

impl ApiError {
    /// An error without a path.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            path: None,
        }
    }

    /// 400: the request does not read.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 400 with the JSON path of the problem in the body.
    pub fn invalid(
        code: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            path: Some(path.into()),
            ..ApiError::new(StatusCode::BAD_REQUEST, code, message)
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 503: the host's queue is full or the host is stopping.
    pub fn busy(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
    }

    /// 503: the host stopped before answering.
    pub fn stopping() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the world's host is stopping",
        )
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
}

impl From<KernelError> for ApiError {
    fn from(error: KernelError) -> ApiError {
        match error {
            // An input or a governance step refused before anything was journaled.
            KernelError::Rejected(message) => {
                ApiError::new(StatusCode::CONFLICT, "rejected", message)
            }
            KernelError::Air(errors) => {
                let count = errors.0.len();
                match errors.0.into_iter().next() {
                    Some(first) => ApiError {
                        path: Some(first.path),
                        ..ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "invalid_air",
                            format!("{} ({count} errors in all)", first.message),
                        )
                    },
                    None => ApiError::new(StatusCode::BAD_REQUEST, "invalid_air", "invalid AIR"),
                }
            }
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                other.to_string(),
            ),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> ApiError {
        match error {
            QueryError::NotFound(message) => ApiError::not_found(message),
            QueryError::BadRequest(message) => ApiError::bad_request(message),
            QueryError::Kernel(error) => error.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(path) = self.path {
            error["path"] = json!(path);
        }
        let mut response = (self.status, axum::Json(json!({ "error": error }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
