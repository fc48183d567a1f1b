//! What the gateway answers: JSON, and every error as
//! `{"error": {"code": ..., "message": ...}}` with a fitting status.

use serde::Serialize;

/// A response before it is written to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    /// `Allow` of a 405.
    pub allow: Option<&'static str>,
    pub body: Vec<u8>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorFields<'a>,
}

#[derive(Serialize)]
struct ErrorFields<'a> {
    code: &'a str,
    message: &'a str,
    /// Where malformed JSON went wrong (1-based), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<u32>,
}

impl Reply {
    /// `value` as pretty JSON and a newline: what `hcal process` prints.
    pub fn json<T: Serialize>(status: u16, value: &T) -> Reply {
        match serde_json::to_vec_pretty(value) {
            Ok(mut body) => {
                body.push(b'\n');
                Reply {
                    status,
                    content_type: "application/json",
                    allow: None,
                    body,
                }
            }
            Err(e) => Reply::error(500, "internal", &format!("cannot write the answer: {e}")),
        }
    }

    /// An error.
    ///
    /// ```
    /// let reply = hcal_gateway::reply::Reply::error(404, "not-found", "no route `GET /x`");
    /// assert_eq!(reply.body, br#"{"error":{"code":"not-found","message":"no route `GET /x`"}}"#);
    /// ```
    pub fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply::error_at(status, code, message, None)
    }

    /// An error about malformed JSON, with its line and column.
    pub fn error_at(status: u16, code: &str, message: &str, position: Option<(u32, u32)>) -> Reply {
        let body = ErrorBody {
            error: ErrorFields {
                code,
                message,
                line: position.map(|p| p.0),
                column: position.map(|p| p.1),
            },
        };
        Reply {
            status,
            content_type: "application/json",
            allow: None,
            // A struct of strings always serializes.
            body: serde_json::to_vec(&body).unwrap_or_default(),
        }
    }

    /// 405 for a route that takes only `allow`.
    pub fn method_not_allowed(method: &str, path: &str, allow: &'static str) -> Reply {
        let mut reply = Reply::error(
            405,
            "method-not-allowed",
            &format!("`{path}` takes {allow}, not {method}"),
        );
        reply.allow = Some(allow);
        reply
    }
}

/// The status of each kind of the core's `error`: the input's fault is a
/// 4xx, the configuration's (a key the core refuses) a 500.
pub fn core_error_status(code: &str) -> u16 {
    match code {
        "malformed-json" => 400,
        "invalid-field" | "invalid-request" => 422,
        "limit-exceeded" => 413,
        _ => 500,
    }
}
