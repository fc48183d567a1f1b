//! The conformance kit: the cases of a fixtures directory (`fixtures/core/`)
//! through any component that exports the contract, each answer compared
//! with its golden `expected.json`.
//!
//! A case is a directory: `input*.json` (Google pages, in name order),
//! `request.json` (the `process` request as JSON), `key.json` when the
//! output is sealed (`{"key_url": "kms://...", "key": BASE64}`) and
//! `expected.json`. Sealed values are opened with the case's key, through
//! the component under test, and compared as `{"$sealed": PLAINTEXT}`, so a
//! value that should be sealed and is not fails. A call that fails is
//! compared as `{"error": {"kind": ..., "message": ...}}`.
//!
//! `hcal conformance [--component FILE] [--fixtures DIR]` runs it.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use hcal_core::model::{OrgKey, ProcessRequest, Sealed};
use serde_json::{Value, json};

use crate::runtime::{CallError, Runtime, core_error_code, describe_core_error};

/// One case of the suite.
#[derive(Debug, Clone)]
pub struct Case {
    /// The directory's name (`23-sealed-default-fields`).
    pub name: String,
    pub dir: PathBuf,
    pub pages: Vec<String>,
    pub request: ProcessRequest,
    pub key: Option<OrgKey>,
    /// `None` when the case has no `expected.json` yet.
    pub expected: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path} is not what a case holds: {message}")]
    Invalid { path: String, message: String },
    #[error("{0} holds no cases (directories with input*.json and request.json)")]
    Empty(String),
}

fn read(path: &Path) -> Result<String, ConformanceError> {
    std::fs::read_to_string(path).map_err(|e| ConformanceError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConformanceError> {
    serde_json::from_str(text).map_err(|e| ConformanceError::Invalid {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// The key of a `key.json`.
fn read_key(path: &Path) -> Result<OrgKey, ConformanceError> {
    let value: Value = parse(path, &read(path)?)?;
    let invalid = |message: &str| ConformanceError::Invalid {
        path: path.display().to_string(),
        message: message.to_string(),
    };
    let key = value["key"]
        .as_str()
        .and_then(|k| base64::engine::general_purpose::STANDARD.decode(k).ok())
        // Its length is the component's to judge (a case tests a wrong one).
        .ok_or_else(|| invalid("`key` must be base64"))?;
    Ok(OrgKey {
        key_url: value["key_url"]
            .as_str()
            .ok_or_else(|| invalid("`key_url` is missing"))?
            .to_string(),
        key,
    })
}

/// Every case under `dir`, in name order.
pub fn load(dir: &Path) -> Result<Vec<Case>, ConformanceError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ConformanceError::Read {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.join("request.json").exists())
        .collect();
    dirs.sort();
    let mut cases = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| ConformanceError::Read {
                path: dir.display().to_string(),
                message: e.to_string(),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("input") && n.ends_with(".json"))
            })
            .collect();
        inputs.sort();
        let request_path = dir.join("request.json");
        let mut request: ProcessRequest = parse(&request_path, &read(&request_path)?)?;
        let key_path = dir.join("key.json");
        let key = if key_path.exists() {
            Some(read_key(&key_path)?)
        } else {
            None
        };
        request.seal_with = key.clone();
        let expected_path = dir.join("expected.json");
        let expected = if expected_path.exists() {
            Some(parse(&expected_path, &read(&expected_path)?)?)
        } else {
            None
        };
        let pages = inputs.iter().map(|p| read(p)).collect::<Result<_, _>>()?;
        cases.push(Case {
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            dir,
            pages,
            request,
            key,
            expected,
        });
    }
    if cases.is_empty() {
        return Err(ConformanceError::Empty(dir.display().to_string()));
    }
    Ok(cases)
}

/// Replace every sealed value (`{"jwe", "key_url"}`) by `{"$sealed": PLAINTEXT}`,
/// opened with `open` (`"<does not open: ...>"` when it does not).
pub fn open_sealed(value: &mut Value, open: &dyn Fn(&Sealed) -> Result<String, String>) {
    match value {
        Value::Object(map) => {
            if map.len() == 2 && map.contains_key("jwe") && map.contains_key("key_url") {
                if let Ok(sealed) = serde_json::from_value::<Sealed>(Value::Object(map.clone())) {
                    let plain = open(&sealed).unwrap_or_else(|e| format!("<does not open: {e}>"));
                    *value = json!({ "$sealed": plain });
                }
                return;
            }
            for v in map.values_mut() {
                open_sealed(v, open);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| open_sealed(v, open)),
        _ => {}
    }
}

/// The component's answer to `case`, as the golden files hold it.
pub fn answer(runtime: &Runtime, case: &Case) -> Result<Value, CallError> {
    match runtime.process(&case.pages, &case.request) {
        Ok(list) => {
            let mut value = serde_json::to_value(&list).unwrap_or(Value::Null);
            if let Some(key) = &case.key {
                // Opened through the component under test: what it seals, it opens.
                open_sealed(&mut value, &|s| {
                    runtime.open(s, key).map_err(|e| e.to_string())
                });
            }
            Ok(value)
        }
        Err(CallError::Core(e)) => Ok(json!({
            "error": { "kind": core_error_code(&e), "message": describe_core_error(&e) }
        })),
        Err(other) => Err(other),
    }
}

/// Where two JSON values differ: one line per difference, as a path and the
/// two values (at most `limit` lines).
///
/// ```
/// use serde_json::json;
/// let lines = hcal::conformance::differences(&json!({"a": [1, 2]}), &json!({"a": [1, 3]}), 10);
/// assert_eq!(lines, ["$.a[1]: expected 2, got 3"]);
/// ```
pub fn differences(expected: &Value, got: &Value, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    walk("$", expected, got, &mut out, limit);
    out
}

fn walk(path: &str, expected: &Value, got: &Value, out: &mut Vec<String>, limit: usize) {
    if out.len() >= limit || expected == got {
        return;
    }
    match (expected, got) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let here = format!("{path}.{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => walk(&here, x, y, out, limit),
                    (Some(x), None) => out.push(format!("{here}: expected {x}, missing")),
                    (None, Some(y)) => out.push(format!("{here}: not expected, got {y}")),
                    (None, None) => {}
                }
                if out.len() >= limit {
                    return;
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                walk(&format!("{path}[{i}]"), x, y, out, limit);
            }
        }
        (Value::Array(a), Value::Array(b)) => out.push(format!(
            "{path}: expected {} items, got {}{}",
            a.len(),
            b.len(),
            first_difference(path, a, b)
        )),
        _ => out.push(format!("{path}: expected {expected}, got {got}")),
    }
}

/// The first item two lists of different lengths disagree on, in words.
fn first_difference(path: &str, a: &[Value], b: &[Value]) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    match (a.get(at), b.get(at)) {
        (Some(x), Some(y)) => format!(" (first at {path}[{at}]: expected {x}, got {y})"),
        (Some(x), None) => format!(" (missing {path}[{at}]: {x})"),
        (None, Some(y)) => format!(" (extra {path}[{at}]: {y})"),
        (None, None) => String::new(),
    }
}

/// One case's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// The differences, one per line.
    Failed(Vec<String>),
    /// The case has no `expected.json`.
    NoGoldenFile,
}

/// Run `case` through `runtime` and compare.
pub fn check(runtime: &Runtime, case: &Case) -> Verdict {
    let Some(expected) = &case.expected else {
        return Verdict::NoGoldenFile;
    };
    match answer(runtime, case) {
        Ok(got) if &got == expected => Verdict::Passed,
        Ok(got) => Verdict::Failed(differences(expected, &got, 20)),
        Err(e) => Verdict::Failed(vec![format!("the call failed: {e}")]),
    }
}
