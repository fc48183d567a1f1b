//! The query string of a request: `user=alice%40example.com&now=...`.
//!
//! Values are percent-decoded; `+` stays a plus (RFC 3986, not form
//! encoding), so an offset such as `+01:00` may be written as it is.

/// Why a query string cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// A parameter this route does not take (a typo, most often).
    Unknown {
        name: String,
        known: &'static [&'static str],
    },
    Repeated(String),
    /// A `%` not followed by two hex digits, or bytes that are not UTF-8.
    BadEncoding(String),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Unknown { name, known } => write!(
                f,
                "unknown query parameter `{name}`; this route takes {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            QueryError::Repeated(name) => write!(f, "query parameter `{name}` is given twice"),
            QueryError::BadEncoding(name) => {
                write!(f, "query parameter `{name}` is not percent-encoded UTF-8")
            }
        }
    }
}

fn decode(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The parameters of `query` (without the `?`), each at most once and each
/// one of `known`.
///
/// ```
/// use hcal_gateway::query::parse;
/// let q = parse("user=alice%40example.com&now=2026-12-01T09:00:00+01:00", &["user", "now"]).unwrap();
/// assert_eq!(q, [("user".to_string(), "alice@example.com".to_string()),
///                ("now".to_string(), "2026-12-01T09:00:00+01:00".to_string())]);
/// ```
pub fn parse(
    query: &str,
    known: &'static [&'static str],
) -> Result<Vec<(String, String)>, QueryError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name).ok_or_else(|| QueryError::BadEncoding(name.to_string()))?;
        if !known.contains(&name.as_str()) {
            return Err(QueryError::Unknown { name, known });
        }
        let value = decode(value).ok_or_else(|| QueryError::BadEncoding(name.clone()))?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(QueryError::Repeated(name));
        }
        out.push((name, value));
    }
    Ok(out)
}

/// The value of `name`, when given.
pub fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unknown_repeated_and_badly_encoded_parameters() {
        const KNOWN: &[&str] = &["user", "from"];
        assert!(matches!(
            parse("usr=a", KNOWN),
            Err(QueryError::Unknown { .. })
        ));
        assert_eq!(
            parse("user=a&user=b", KNOWN),
            Err(QueryError::Repeated("user".into()))
        );
        assert_eq!(
            parse("user=%zz", KNOWN),
            Err(QueryError::BadEncoding("user".into()))
        );
        assert_eq!(
            parse("user=%ff", KNOWN),
            Err(QueryError::BadEncoding("user".into()))
        );
        assert_eq!(parse("", KNOWN), Ok(vec![]));
        assert_eq!(
            parse("user&from=", KNOWN).unwrap(),
            [
                ("user".into(), String::new()),
                ("from".into(), String::new())
            ]
        );
        let message = parse("to=x", KNOWN).unwrap_err().to_string();
        assert_eq!(
            message,
            "unknown query parameter `to`; this route takes `user`, `from`"
        );
    }
}
