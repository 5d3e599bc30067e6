//! The dashboard's HTTP API: errors as JSON with the status that fits, and
//! the stats API.

pub mod v2;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request was not answered. Internal details are logged, not shown.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("no site has this id or domain")]
    UnknownSite,
    #[error("sign in first: this needs a session")]
    Unauthorized,
    #[error("the statistics are not available: try again shortly")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
    /// A form refused: pages say why from their catalogue (`key`).
    #[error("{detail}")]
    Refused {
        status: StatusCode,
        key: &'static str,
        detail: String,
    },
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnknownSite => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Refused { status, .. } => *status,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "invalid_query",
            ApiError::UnknownSite => "unknown_site",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
            ApiError::Refused { .. } => "refused",
        }
    }
}

impl ApiError {
    /// Logs what the reader is not told, and tells a client when to come
    /// back: the same for the API's answers and for the pages.
    pub fn finish(&self, mut response: Response) -> Response {
        if let ApiError::Unavailable(detail) | ApiError::Internal(detail) = self {
            tracing::error!(error = %detail, "query failed");
        }
        if matches!(self, ApiError::Unavailable(_)) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let response = (
            self.status(),
            Json(json!({"error": self.code(), "message": self.to_string()})),
        )
            .into_response();
        self.finish(response)
    }
}
