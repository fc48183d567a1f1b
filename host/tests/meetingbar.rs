//! MeetingBar's meeting-link cases (`../shared/conformance/meetingbar/`), a
//! suite nobody on this project wrote, through the link extractor: natively
//! and in the component. Rows marked `meetingbar_specific` test MeetingBar's
//! own `authuser` habit and are skipped. Every other row passes, except the
//! deliberate differences listed in `DIFFERENCES`, each with its reason.

mod common;

use std::collections::HashMap;

use hcal_core::links::{CustomPatterns, Field};
use hcal_core::model::{JoinLink, LinkOptions, LinkSource};
use serde_json::Value;

/// Rows (by their `origin` suffix) where hcal deliberately differs.
const DIFFERENCES: &[(&str, &str)] = &[(
    "test_cleanupOutlookSafeLinks_withSafeLink_returnCleanLink",
    "MeetingBar keeps `&data=...` after the unwrapped URL; `data` is a parameter of the SafeLinks \
     wrapper, not of the wrapped link, so hcal stops the `url` parameter at the next `&`.",
)];

fn cases() -> Vec<Value> {
    let path = common::workspace().join("../shared/conformance/meetingbar/cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn source_for(field: &str) -> LinkSource {
    match field {
        "conference_url" => LinkSource::ConferenceData,
        "event_url" => LinkSource::EventUrl,
        "location" => LinkSource::Location,
        _ => LinkSource::Description, // "notes", "any"
    }
}

fn field_name(source: LinkSource) -> &'static str {
    match source {
        LinkSource::ConferenceData => "conference_url",
        LinkSource::EventUrl => "event_url",
        LinkSource::Location => "location",
        LinkSource::Description => "notes",
    }
}

/// The fields of a case, in MeetingBar's order.
fn fields(case: &Value) -> Vec<(LinkSource, String)> {
    if case["field"] == "multi" {
        let map = case["fields"].as_object().unwrap();
        ["conference_url", "event_url", "location", "notes"]
            .iter()
            .filter_map(|k| {
                map.get(*k)
                    .and_then(|v| v.as_str())
                    .map(|t| (source_for(k), t.to_string()))
            })
            .collect()
    } else {
        vec![(
            source_for(case["field"].as_str().unwrap()),
            case["text"].as_str().unwrap().to_string(),
        )]
    }
}

fn options(case: &Value) -> LinkOptions {
    let custom = case["custom_regexes"]
        .as_array()
        .map(|a| a.iter().map(|p| p.as_str().unwrap().to_string()).collect());
    LinkOptions {
        custom_patterns: custom.unwrap_or_default(),
        ..LinkOptions::default()
    }
}

fn native_links(case: &Value) -> Vec<JoinLink> {
    let fields = fields(case);
    let fields: Vec<Field> = fields
        .iter()
        .map(|(source, text)| Field::new(*source, text))
        .collect();
    let options = options(case);
    hcal_core::links::extract(
        &fields,
        &options,
        &CustomPatterns::new(&options.custom_patterns),
    )
}

fn component_links(case: &Value) -> Vec<JoinLink> {
    common::runtime()
        .extract_links(&fields(case), &options(case))
        .unwrap()
}

/// What is wrong with `links` for `case`, if anything.
fn check(case: &Value, links: &[JoinLink], names: &HashMap<String, String>) -> Option<String> {
    let chosen = hcal_core::links::choose(links);
    let expected_service = case["expected_service"].as_str();
    let got_service = chosen.map(|l| names[&l.service].as_str());
    if expected_service != got_service {
        return Some(format!(
            "service: expected {expected_service:?}, got {got_service:?} ({links:?})"
        ));
    }
    if case["url_asserted"] != false {
        let expected_url = case["expected_url"].as_str();
        let got_url = chosen.map(|l| l.uri.as_str());
        if expected_url != got_url {
            return Some(format!("url: expected {expected_url:?}, got {got_url:?}"));
        }
    }
    if let Some(ranking) = case["expected_ranking"].as_array() {
        let got: Vec<(String, String)> = links
            .iter()
            .map(|l| (names[&l.service].clone(), field_name(l.source).to_string()))
            .collect();
        let expected: Vec<(String, String)> = ranking
            .iter()
            .map(|r| {
                (
                    r[0].as_str().unwrap().to_string(),
                    r[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        if got != expected {
            return Some(format!("ranking: expected {expected:?}, got {got:?}"));
        }
    }
    None
}

fn deliberate(case: &Value) -> Option<&'static str> {
    let origin = case["origin"].as_str().unwrap_or("");
    DIFFERENCES
        .iter()
        .find(|(suffix, _)| origin.ends_with(suffix))
        .map(|(_, why)| *why)
}

#[test]
fn meetingbar_cases_pass_natively_and_in_the_component() {
    let names: HashMap<String, String> =
        common::runtime().services().unwrap().into_iter().collect();
    let native_names: HashMap<String, String> = hcal_core::links::SERVICES
        .iter()
        .map(|s| (s.id.to_string(), s.name.to_string()))
        .collect();
    assert_eq!(
        names, native_names,
        "the component and the native build list the same services"
    );

    let (mut run, mut skipped, mut differ) = (0, 0, 0);
    let mut failures = Vec::new();
    for (index, case) in cases().iter().enumerate() {
        if !case["meetingbar_specific"].is_null() && case["meetingbar_specific"] != false {
            skipped += 1;
            continue;
        }
        run += 1;
        let label = format!("#{index} {}", case["origin"].as_str().unwrap_or("?"));
        let problems: Vec<String> = if case["kind"] == "safelink_cleanup" {
            let text = case["text"].as_str().unwrap();
            let expected = case["expected_text"].as_str().unwrap();
            let native = hcal_core::links::unwrap_safelinks(text);
            let component = common::runtime().unwrap_safelinks(text).unwrap();
            assert_eq!(native, component, "{label}: native and component disagree");
            (native != expected)
                .then(|| format!("expected {expected:?}, got {native:?}"))
                .into_iter()
                .collect()
        } else {
            let native = native_links(case);
            let component = component_links(case);
            assert_eq!(native, component, "{label}: native and component disagree");
            check(case, &native, &names).into_iter().collect()
        };
        match (problems.is_empty(), deliberate(case)) {
            (true, None) => {}
            (true, Some(_)) => failures.push(format!(
                "{label}: listed as a deliberate difference but passes; remove it from DIFFERENCES"
            )),
            (false, Some(_)) => differ += 1,
            (false, None) => failures.push(format!("{label}: {}", problems.join("; "))),
        }
    }
    eprintln!(
        "meetingbar: {run} run, {} pass, {differ} deliberate differences, {skipped} skipped (meetingbar_specific)",
        run - differ
    );
    assert!(
        failures.is_empty(),
        "{} MeetingBar cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        differ,
        DIFFERENCES.len(),
        "every listed difference matches a case"
    );
}
