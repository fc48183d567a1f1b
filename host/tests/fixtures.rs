//! The conformance suite: every case in `fixtures/core/` runs through the real
//! component in wasmtime and through the native build, and both must equal the
//! golden `expected.json`. Sealed values are opened before comparing, and the
//! golden file marks each as `{"$sealed": "plaintext"}`, so a value that
//! should have been sealed and was not fails the test.
//!
//! `HCAL_BLESS=1 cargo test --test fixtures` rewrites the golden files from the
//! native build; review the diff before committing it.

mod common;

use std::path::Path;

use hcal::runtime::{CallError, describe_core_error};
use hcal_core::model::{OrgKey, ProcessRequest, Sealed};
use serde_json::{Value, json};

struct Case {
    name: String,
    pages: Vec<String>,
    request: ProcessRequest,
    key: Option<OrgKey>,
    expected: Option<Value>,
    dir: std::path::PathBuf,
}

fn load_cases() -> Vec<Case> {
    let root = common::workspace().join("fixtures/core");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let mut inputs: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    p.file_name()
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .starts_with("input")
                })
                .collect();
            inputs.sort();
            let key_path = dir.join("key.json");
            let mut request: ProcessRequest =
                serde_json::from_str(&std::fs::read_to_string(dir.join("request.json")).unwrap())
                    .unwrap();
            let key = key_path.exists().then(|| common::read_key(&key_path));
            request.seal_with = key.clone();
            let expected = std::fs::read_to_string(dir.join("expected.json"))
                .ok()
                .map(|t| serde_json::from_str(&t).unwrap());
            Case {
                name: dir.file_name().unwrap().to_string_lossy().into_owned(),
                pages: inputs
                    .iter()
                    .map(|p| std::fs::read_to_string(p).unwrap())
                    .collect(),
                request,
                key,
                expected,
                dir,
            }
        })
        .collect()
}

/// Replace every sealed value by `{"$sealed": plaintext}`, opening it with `open`.
fn open_sealed(value: &mut Value, open: &dyn Fn(&Sealed) -> String) {
    match value {
        Value::Object(map) => {
            if map.len() == 2 && map.contains_key("jwe") && map.contains_key("key_url") {
                let sealed: Sealed = serde_json::from_value(Value::Object(map.clone())).unwrap();
                *value = json!({ "$sealed": open(&sealed) });
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

fn native(case: &Case) -> Value {
    let pages: Vec<&str> = case.pages.iter().map(String::as_str).collect();
    match hcal_core::process(&pages, &case.request) {
        Ok(list) => {
            let mut value = serde_json::to_value(&list).unwrap();
            if let Some(key) = &case.key {
                open_sealed(&mut value, &|s| {
                    hcal_core::seal::open(s, key).expect("native seal opens natively")
                });
            }
            value
        }
        Err(e) => json!({ "error": { "kind": native_kind(&e), "message": e.to_string() } }),
    }
}

fn native_kind(e: &hcal_core::CoreError) -> &'static str {
    use hcal_core::CoreError::*;
    match e {
        MalformedJson { .. } => "malformed-json",
        InvalidField { .. } => "invalid-field",
        InvalidRequest(_) => "invalid-request",
        InvalidKey(_) => "invalid-key",
        OpenFailed(_) => "open-failed",
        LimitExceeded(_) => "limit-exceeded",
    }
}

fn component(case: &Case) -> Value {
    let runtime = common::runtime();
    match runtime.process(&case.pages, &case.request) {
        Ok(list) => {
            let mut value = serde_json::to_value(&list).unwrap();
            if let Some(key) = &case.key {
                // Open through the component too: what it seals, it opens.
                open_sealed(&mut value, &|s| {
                    runtime
                        .open(s, key)
                        .expect("component seal opens in the component")
                });
            }
            value
        }
        Err(CallError::Core(e)) => {
            use hcal::runtime::hcal::core::types::Error::*;
            let kind = match &e {
                MalformedJson(_) => "malformed-json",
                InvalidField(_) => "invalid-field",
                InvalidRequest(_) => "invalid-request",
                InvalidKey(_) => "invalid-key",
                OpenFailed(_) => "open-failed",
                LimitExceeded(_) => "limit-exceeded",
            };
            json!({ "error": { "kind": kind, "message": describe_core_error(&e) } })
        }
        Err(other) => panic!("{}: the runtime failed: {other}", case.name),
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

#[test]
fn every_fixture_matches_its_golden_file_natively_and_in_the_component() {
    let cases = load_cases();
    assert!(
        cases.len() >= 25,
        "the suite has {} cases; it needs at least 25",
        cases.len()
    );
    let bless = std::env::var_os("HCAL_BLESS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let native = native(case);
        if bless {
            std::fs::write(case.dir.join("expected.json"), pretty(&native) + "\n").unwrap();
            continue;
        }
        let Some(expected) = &case.expected else {
            failures.push(format!(
                "{}: no expected.json (run with HCAL_BLESS=1 and review it)",
                case.name
            ));
            continue;
        };
        if &native != expected {
            failures.push(format!(
                "{}: native output differs\n--- expected\n{}\n--- native\n{}",
                case.name,
                pretty(expected),
                pretty(&native)
            ));
        }
        let component = component(case);
        if &component != expected {
            failures.push(format!(
                "{}: component output differs\n--- expected\n{}\n--- component\n{}",
                case.name,
                pretty(expected),
                pretty(&component)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn sealed_fixtures_really_are_sealed_on_the_wire() {
    // The golden comparison opens sealed values; check the raw output holds no plaintext.
    for case in load_cases()
        .iter()
        .filter(|c| c.key.is_some() && !c.name.contains("invalid"))
    {
        let raw = serde_json::to_string(
            &common::runtime()
                .process(&case.pages, &case.request)
                .unwrap(),
        )
        .unwrap();
        for secret in ["Acquisition of Initech", "$12M", "ceo@example.com"] {
            let sealed_by_default = case.request.options.sealed_fields.len() > 1;
            assert_eq!(
                !raw.contains(secret),
                sealed_by_default,
                "{}: {secret:?} plaintext presence is wrong",
                case.name
            );
        }
    }
}

#[test]
fn fixture_dirs_are_complete() {
    for case in load_cases() {
        assert!(!case.pages.is_empty(), "{}: no input*.json", case.name);
        assert!(Path::new(&case.dir.join("request.json")).exists());
    }
}
