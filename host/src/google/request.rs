//! One API call as data, so that what the client sends can be checked
//! against Google's discovery documents without sending it.

use reqwest::Method;
use serde_json::Value;

use super::GoogleSettings;

/// Which API a request belongs to (and so which base URL it goes to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Calendar,
    Gmail,
}

impl Api {
    /// The path prefix of the API in Google's discovery document
    /// (`servicePath`, or the start of `path` for Gmail).
    pub fn service_path(self) -> &'static str {
        match self {
            Api::Calendar => "calendar/v3/",
            Api::Gmail => "gmail/v1/",
        }
    }
}

/// An API call: Google's method id, HTTP method, path (percent-encoded,
/// relative to the API's root), query parameters, JSON body and `If-Match`.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// As in the discovery document, e.g. `calendar.events.list`.
    pub method_id: &'static str,
    pub api: Api,
    pub http_method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub if_match: Option<String>,
}

impl ApiRequest {
    pub fn new(
        method_id: &'static str,
        api: Api,
        http_method: Method,
        segments: &[&str],
    ) -> ApiRequest {
        ApiRequest {
            method_id,
            api,
            http_method,
            path: segments
                .iter()
                .map(|s| encode_segment(s))
                .collect::<Vec<_>>()
                .join("/"),
            query: Vec::new(),
            body: None,
            if_match: None,
        }
    }

    /// Add a query parameter.
    pub fn param(mut self, name: &'static str, value: impl ToString) -> ApiRequest {
        self.query.push((name, value.to_string()));
        self
    }

    /// Add a query parameter when there is a value.
    pub fn param_opt(self, name: &'static str, value: Option<impl ToString>) -> ApiRequest {
        match value {
            Some(value) => self.param(name, value),
            None => self,
        }
    }

    pub fn body(mut self, body: Value) -> ApiRequest {
        self.body = Some(body);
        self
    }

    pub fn if_match(mut self, etag: Option<&str>) -> ApiRequest {
        self.if_match = etag.map(str::to_string);
        self
    }

    /// The full URL under `settings`' base URLs.
    pub fn url(&self, settings: &GoogleSettings) -> String {
        let root = match self.api {
            Api::Calendar => &settings.calendar_url,
            Api::Gmail => &settings.gmail_url,
        };
        if root.ends_with('/') {
            format!("{root}{}", self.path)
        } else {
            format!("{root}/{}", self.path)
        }
    }

    /// Safe to send twice (transport failures are retried only then).
    /// A PATCH or DELETE guarded by `If-Match` cannot apply twice.
    pub fn idempotent(&self) -> bool {
        matches!(self.http_method, Method::GET | Method::PUT | Method::DELETE)
            || self.if_match.is_some()
            || self.method_id == "calendar.channels.stop"
    }
}

/// Percent-encode one path segment (calendar ids hold `@`, `#`, `+`).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
