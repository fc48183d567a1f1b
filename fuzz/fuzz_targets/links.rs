//! Arbitrary text as the fields of an event (conference entry, event URL,
//! location, description) through `links::extract`, with the default options
//! and with a configured pattern and a small `max_links`; plus the helpers
//! that unwrap and classify a URL. Never a panic; at most `max_links` links,
//! each a non-empty URI from a field that was searched, and `choose` picks one of them.
//!
//! Input: the fields are separated by NUL bytes, in the order conference
//! entry point (trusted), event URL, location, description (already plain).
#![no_main]

use hcal_core::links::{self, CustomPatterns, Field};
use hcal_core::model::{LinkOptions, LinkSource};
use libfuzzer_sys::fuzz_target;

fn check(fields: &[Field<'_>], options: &LinkOptions, custom: &CustomPatterns) {
    let found = links::extract(fields, options, custom);
    assert!(found.len() <= options.max_links.max(1) as usize);
    if let Some(chosen) = links::choose(&found) {
        assert!(found.contains(chosen));
    }
    for link in &found {
        assert!(!link.uri.trim().is_empty(), "an empty link");
        assert!(
            fields.iter().any(|f| f.source == link.source),
            "a link from a field that was not searched"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let sources = [
        LinkSource::ConferenceData,
        LinkSource::EventUrl,
        LinkSource::Location,
        LinkSource::Description,
    ];
    let mut fields = Vec::new();
    for (i, source) in sources.into_iter().enumerate() {
        let Some(part) = parts.next() else { break };
        fields.push(Field {
            trusted: i == 0,
            plain: i == 3,
            ..Field::new(source, part)
        });
    }
    check(&fields, &LinkOptions::default(), &CustomPatterns::new(&[]));
    // The whole text as one description that may be HTML.
    let whole = [Field::new(LinkSource::Description, &text)];
    let options = LinkOptions {
        custom_patterns: vec![r"https://meet\.example\.com/[a-z0-9-]+".into()],
        max_links: 3,
    };
    check(
        &whole,
        &options,
        &CustomPatterns::new(&options.custom_patterns),
    );

    let _ = links::classify(&text);
    let _ = links::unwrap(&text);
    let _ = links::unwrap_safelinks(&text);
    let _ = links::percent_decode(&text);
});
