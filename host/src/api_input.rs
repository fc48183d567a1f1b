//! What the API reads from a request, and how it answers what it cannot
//! read: every refusal is the API's JSON error (`{"error":{"code","message"}}`),
//! never axum's plain-text rejection, and never names an internal type.
//!
//! - [`Body`]: a JSON body. Another content type is 415 `unsupported_media_type`,
//!   text that is not JSON 400 `malformed_json` (with line and column), JSON
//!   of the wrong shape 422 `invalid` (naming the field).
//! - [`Params`]: the query string; a value of the wrong kind is 400 `invalid`.
//! - [`json_errors`]: anything else under `/api/` and `/push` that would
//!   leave as plain text or nothing (an unknown route, a method the route
//!   does not take, a path that does not decode) leaves as JSON too.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use hcal_core::model::without_rust_types;

use crate::api::{ApiError, api_error};

/// A JSON request body (`Content-Type: application/json`).
pub(crate) struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(api_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON, with Content-Type: application/json",
            ));
        }
        // The body was read (and bounded) by `listen::bounded_body` already.
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| {
                api_error(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    "the request body could not be read",
                )
            })?;
        parse(&bytes).map(Body)
    }
}

/// The body as `T`, or the error a caller can act on.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!(
                "the body does not have the fields this route takes: {}",
                without_rust_types(&e.to_string())
            ),
        ),
        _ => api_error(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not JSON: {e}"),
        ),
    })
}

/// `application/json`, or a `+json` type, with any parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

/// The query string, as `T`.
pub(crate) struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| Params(value))
            .map_err(|rejection| {
                let text = rejection.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                api_error(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    format!("the query string: {}", without_rust_types(detail)),
                )
            })
    }
}

/// Every refusal under `/api/` and `/push` as the API's JSON error: what
/// axum answers on its own (404 for no such route, 405 with `Allow`, a
/// path that does not decode) is plain text or empty.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let ours = path.starts_with("/api/") || path == "/push";
    let (method, path) = (request.method().clone(), path.to_string());
    let response = next.run(request).await;
    let status = response.status();
    if !ours
        || !(status.is_client_error() || status.is_server_error())
        || is_json(response.headers())
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    // axum's own rejections are a line of text; nothing longer is expected.
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (
            "not_found",
            format!("no route {method} {path}: see /api/v1/openapi.json"),
        ),
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            (
                "method_not_allowed",
                format!("{path} does not take {method}; it takes {allow}"),
            )
        }
        _ if text.is_empty() => (
            code_for(status),
            status.canonical_reason().unwrap_or("refused").to_string(),
        ),
        _ => (code_for(status), without_rust_types(&text)),
    };
    let mut reply = api_error(status, code, message).into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        reply.headers_mut().insert(header::ALLOW, allow.clone());
    }
    reply
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        s if s.is_server_error() => "internal",
        _ => "refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Rsvp {
        response: String,
    }

    #[test]
    fn errors_name_no_rust_type() {
        let e = parse::<Rsvp>(b"\"accepted\"").unwrap_err();
        assert_eq!(e.code(), "invalid");
        assert!(
            e.message().contains("expected an object"),
            "{}",
            e.message()
        );
        assert!(!e.message().contains("Rsvp"));
        let e = parse::<Rsvp>(b"{}").unwrap_err();
        assert!(
            e.message().contains("missing field `response`"),
            "{}",
            e.message()
        );
        let e = parse::<Rsvp>(b"{\"response\": ").unwrap_err();
        assert_eq!(e.code(), "malformed_json");
        assert!(e.message().contains("line 1 column"), "{}", e.message());
    }

    #[test]
    fn json_content_types() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
