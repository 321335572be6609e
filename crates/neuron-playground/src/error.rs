//! [`ApiError`]: a request the server refuses, as an HTTP status and a one-line message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// A refused request: its status and a message for the person who made it.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status (4xx for bad requests).
    pub status: StatusCode,
    /// What was wrong, in one line.
    pub message: String,
}

impl ApiError {
    /// 400 Bad Request.
    pub fn bad(message: String) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message,
        }
    }

    /// 404 Not Found.
    pub fn not_found(message: String) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message,
        }
    }

    /// Any other status.
    pub fn with(status: StatusCode, message: String) -> Self {
        ApiError { status, message }
    }
}

impl From<neuron::NeuronError> for ApiError {
    fn from(e: neuron::NeuronError) -> Self {
        ApiError::bad(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.message }));
        (self.status, body).into_response()
    }
}
