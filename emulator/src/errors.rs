//! Errors: the emulator's own (seeding, binding) and the ones it answers with
//! in Google's envelopes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// What can go wrong starting or driving the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("seed {path}: {message}")]
    Seed { path: String, message: String },
    #[error("no calendar {0:?} in the emulated domain")]
    UnknownCalendar(String),
    #[error("no event {event_id:?} in calendar {calendar_id:?}")]
    UnknownEvent {
        calendar_id: String,
        event_id: String,
    },
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    #[error("the seed has no service-account private key, so no key file can be written")]
    NoPrivateKey,
}

/// An error answered in Google's JSON API envelope:
/// `{"error":{"code","message","errors":[{"domain","reason","message"}],"status"}}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "badRequest", message)
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "invalid", message)
    }

    pub fn required(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "required", message)
    }

    pub fn not_found() -> ApiError {
        ApiError::new(404, "notFound", "Not Found")
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "forbidden", message)
    }

    fn status(&self) -> &'static str {
        match self.code {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 if self.reason.contains("RateLimit") || self.reason == "rateLimitExceeded" => {
                "RESOURCE_EXHAUSTED"
            }
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ALREADY_EXISTS",
            410 => "FAILED_PRECONDITION",
            412 => "FAILED_PRECONDITION",
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            _ => "INTERNAL",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let domain = match self.reason {
            "rateLimitExceeded" | "userRateLimitExceeded" => "usageLimits",
            _ => "global",
        };
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [{ "domain": domain, "reason": self.reason, "message": self.message }],
                "status": self.status(),
            }
        });
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = seconds.to_string().parse()
        {
            response.headers_mut().insert("retry-after", value);
        }
        if self.code == 401 {
            response.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static(
                    "Bearer realm=\"https://accounts.google.com/\"",
                ),
            );
        }
        response
    }
}

/// An OAuth 2.0 token-endpoint error: `{"error","error_description"}`.
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub code: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError {
            code: 400,
            error: "invalid_grant",
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST);
        (
            status,
            axum::Json(json!({ "error": self.error, "error_description": self.description })),
        )
            .into_response()
    }
}
