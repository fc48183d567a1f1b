//! The errors a call can fail with. Per-event problems are not among them:
//! those travel beside the other events as [`crate::model::EventError`].

use crate::model::{ErrorDetail, EventError};

/// Why a call failed. Mirrors the WIT `error` variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error("malformed JSON{}: {message} (line {line}, column {column})", page.map(|p| format!(" in page {p}")).unwrap_or_default())]
    MalformedJson {
        page: Option<u32>,
        line: u32,
        column: u32,
        message: String,
    },
    #[error("invalid field `{field}`{}: {message}", event_id.as_ref().map(|id| format!(" of event {id}")).unwrap_or_default())]
    InvalidField {
        event_id: Option<String>,
        item: Option<u32>,
        field: String,
        message: String,
    },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("cannot open sealed value: {0}")]
    OpenFailed(String),
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
}

impl CoreError {
    pub(crate) fn json(err: &serde_json::Error, page: Option<u32>) -> CoreError {
        CoreError::MalformedJson {
            page,
            line: err.line() as u32,
            column: err.column() as u32,
            message: strip_position(&err.to_string()),
        }
    }
}

/// serde_json appends " at line L column C"; the position has its own fields.
/// Nor does the message name the Rust type serde wanted.
fn strip_position(message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    };
    crate::model::without_rust_types(message)
}

/// A per-event error under construction.
pub(crate) fn event_error(
    event_id: Option<&str>,
    code: &str,
    field: Option<&str>,
    message: impl Into<String>,
) -> EventError {
    EventError {
        event_id: event_id.map(str::to_string),
        error: ErrorDetail {
            code: code.to_string(),
            field: field.map(str::to_string),
            message: message.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_name_no_rust_type() {
        assert_eq!(
            super::strip_position(
                "invalid type: integer `1`, expected struct WirePage at line 1 column 1"
            ),
            "invalid type: integer `1`, expected an object"
        );
    }
}
