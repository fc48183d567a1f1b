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

use hcal::conformance::{Case, open_sealed};
use serde_json::{Value, json};

fn load_cases() -> Vec<Case> {
    hcal::conformance::load(&common::workspace().join("fixtures/core")).unwrap()
}

fn native(case: &Case) -> Value {
    let pages: Vec<&str> = case.pages.iter().map(String::as_str).collect();
    match hcal_core::process(&pages, &case.request) {
        Ok(list) => {
            let mut value = serde_json::to_value(&list).unwrap();
            if let Some(key) = &case.key {
                open_sealed(&mut value, &|s| {
                    hcal_core::seal::open(s, key).map_err(|e| e.to_string())
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
    // The kit's own answer (`hcal conformance`): the same comparison.
    hcal::conformance::answer(common::runtime(), case)
        .unwrap_or_else(|e| panic!("{}: the runtime failed: {e}", case.name))
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
