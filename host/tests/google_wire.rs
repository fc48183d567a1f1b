//! Every request the Google client builds, checked against Google's
//! discovery documents (`../shared/reference/google/`): the method id exists,
//! the HTTP method matches, the path fits the template, every query parameter
//! is one the method (or the API) declares, required parameters are present,
//! and a body is sent exactly when the method takes one.

mod common;

use hcal::google::calendar::{self, EventsQuery, WatchRequest};
use hcal::google::gmail::{self, VacationSettings};
use hcal::google::{Api, ApiRequest};
use serde_json::{Value, json};

fn discovery(name: &str) -> Value {
    let path = common::workspace()
        .join("../shared/reference/google")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the discovery documents are in ../shared)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

/// The method with `id` anywhere in the document's resource tree.
fn find_method<'a>(resources: &'a Value, id: &str) -> Option<&'a Value> {
    for resource in resources.as_object()?.values() {
        if let Some(methods) = resource["methods"].as_object()
            && let Some(found) = methods.values().find(|m| m["id"] == id)
        {
            return Some(found);
        }
        if let Some(found) = find_method(&resource["resources"], id) {
            return Some(found);
        }
    }
    None
}

fn sample_requests() -> Vec<ApiRequest> {
    let everything = EventsQuery {
        time_min: Some("2026-12-01T00:00:00Z".into()),
        time_max: Some("2026-12-08T00:00:00Z".into()),
        single_events: true,
        order_by_start: true,
        max_results: Some(250),
        page_token: Some("p".into()),
        show_deleted: true,
        updated_min: Some("2026-11-01T00:00:00Z".into()),
        q: Some("standup".into()),
        private_properties: vec![("hcal".into(), "1".into())],
        ..EventsQuery::default()
    };
    let sync = EventsQuery {
        sync_token: Some("t".into()),
        ..EventsQuery::default()
    };
    let event = json!({ "summary": "x" });
    let room = "c_188@resource.calendar.google.com";
    let watch = WatchRequest {
        channel_id: "c".into(),
        address: "https://hcal.example.com/push".into(),
        token: Some("t".into()),
        expiration_ms: Some(1),
    };
    vec![
        calendar::list_request("alice@example.com", &everything),
        calendar::list_request("primary", &sync),
        calendar::get_request(room, "abc_20261201T090000Z"),
        calendar::insert_request("primary", &event),
        calendar::patch_request("primary", "abc", &event, Some("\"1\"")),
        calendar::update_request("primary", "abc", &event, None),
        calendar::delete_request("primary", "abc", Some("\"1\"")),
        calendar::instances_request(
            "primary",
            "abc",
            Some("2026-12-01T00:00:00Z"),
            Some("2026-12-08T00:00:00Z"),
            Some("p"),
        ),
        calendar::quick_add_request("primary", "Review at 3pm tomorrow"),
        calendar::watch_request("primary", &watch),
        calendar::stop_channel_request("c", "r"),
        calendar::setting_request("timezone"),
        calendar::acl_insert_request(room, "reader", "user", "alice@example.com"),
        calendar::acl_delete_request(room, "user:alice@example.com"),
        calendar::free_busy_request(
            "2026-12-01T00:00:00Z",
            "2026-12-08T00:00:00Z",
            &["alice@example.com", room],
        ),
        gmail::vacation_request("alice@example.com"),
        gmail::update_vacation_request("alice@example.com", &VacationSettings::default()),
    ]
}

#[test]
fn every_request_matches_the_discovery_documents() {
    let calendar_doc = discovery("calendar.v3.json");
    let gmail_doc = discovery("gmail.v1.json");
    let requests = sample_requests();
    let mut covered = std::collections::BTreeSet::new();
    for request in &requests {
        let doc = match request.api {
            Api::Calendar => &calendar_doc,
            Api::Gmail => &gmail_doc,
        };
        let method = find_method(&doc["resources"], request.method_id)
            .unwrap_or_else(|| panic!("{} is not in the discovery document", request.method_id));
        assert_eq!(
            method["httpMethod"],
            request.http_method.as_str(),
            "{}",
            request.method_id
        );

        // The path: servicePath + the method's template, `{param}` = one segment.
        let template = format!(
            "{}{}",
            doc["servicePath"].as_str().unwrap(),
            method["path"].as_str().unwrap()
        );
        let sent = format!("{}{}", request.api.service_path(), request.path);
        let template_parts: Vec<&str> = template.split('/').collect();
        let sent_parts: Vec<&str> = sent.split('/').collect();
        assert_eq!(
            template_parts.len(),
            sent_parts.len(),
            "{}: {sent} vs {template}",
            request.method_id
        );
        for (want, got) in template_parts.iter().zip(&sent_parts) {
            if want.starts_with('{') {
                assert!(
                    !got.is_empty() && !got.contains(['@', '#', ' ']),
                    "{}: segment {got:?} must be percent-encoded",
                    request.method_id
                );
            } else {
                assert_eq!(want, got, "{}: {sent} vs {template}", request.method_id);
            }
        }

        // Query parameters: declared by the method (location query) or the API.
        let parameters = &method["parameters"];
        for (name, _) in &request.query {
            let declared =
                parameters[*name]["location"] == "query" || doc["parameters"].get(*name).is_some();
            assert!(
                declared,
                "{}: {name} is not a parameter of this method",
                request.method_id
            );
        }
        for (name, spec) in parameters.as_object().into_iter().flatten() {
            if spec["required"] == true && spec["location"] == "query" {
                assert!(
                    request.query.iter().any(|(n, _)| n == name),
                    "{}: required {name} missing",
                    request.method_id
                );
            }
        }

        // A body exactly when the method takes a request resource.
        assert_eq!(
            method.get("request").is_some(),
            request.body.is_some(),
            "{}: body",
            request.method_id
        );
        covered.insert(request.method_id);
    }
    let used_by_hcal = [
        "calendar.events.list",
        "calendar.events.get",
        "calendar.events.insert",
        "calendar.events.patch",
        "calendar.events.update",
        "calendar.events.delete",
        "calendar.events.instances",
        "calendar.events.quickAdd",
        "calendar.events.watch",
        "calendar.channels.stop",
        "calendar.settings.get",
        "calendar.acl.insert",
        "calendar.acl.delete",
        "calendar.freebusy.query",
        "gmail.users.settings.getVacation",
        "gmail.users.settings.updateVacation",
    ];
    for id in used_by_hcal {
        assert!(covered.contains(id), "{id} is not checked");
    }
}

#[test]
fn ids_with_reserved_characters_are_encoded() {
    let request = calendar::get_request("en.german#holiday@group.v.calendar.google.com", "a b/c");
    assert_eq!(
        request.path,
        "calendars/en.german%23holiday%40group.v.calendar.google.com/events/a%20b%2Fc"
    );
}
