//! Keyword enrichment: the `events.patch` body that writes join details into
//! an event whose location carries a keyword, and the rules for when not to.
//!
//! The block goes at the end of the description (HTML when the description
//! is HTML, plain text otherwise), between the organisation's header and
//! footer. Private extended properties mark the event, so a second run over
//! the patched event yields no patch.

use std::collections::BTreeMap;

use crate::model::{ExtendedProperties, JoinDetails, MeetingType, Patch};

/// Set on every event hcal enriched.
pub const PROCESSED: &str = "hcalProcessed";
/// The keyword that was acted on.
pub const KEYWORD: &str = "hcalKeyword";
/// The meeting type that was provided.
pub const MEETING_TYPE: &str = "hcalMeetingType";
/// The join URL written into the event.
pub const JOIN_URL: &str = "hcalJoinUrl";

/// Longest organisation header or footer, in characters.
pub const MAX_HEADER_CHARS: usize = 1024;

fn meeting_type_name(t: MeetingType) -> &'static str {
    match t {
        MeetingType::PersonalRoom => "personal_room",
        MeetingType::Space => "space",
        MeetingType::OneTime => "one_time",
    }
}

/// The lines of the join block, in order.
fn block_lines(
    header: &str,
    footer: &str,
    details: &JoinDetails,
) -> Vec<(Option<&'static str>, String)> {
    let mut lines = Vec::new();
    if !header.is_empty() {
        lines.push((None, header.to_string()));
    }
    lines.push((Some("Join"), details.url.clone()));
    if let Some(sip) = &details.sip_address {
        lines.push((Some("Video address"), sip.clone()));
    }
    if let Some(number) = &details.meeting_number {
        lines.push((Some("Meeting number"), number.clone()));
    }
    if let Some(password) = &details.password {
        lines.push((Some("Password"), password.clone()));
    }
    for call_in in &details.call_in {
        lines.push((
            Some("Call in"),
            format!("{} {}", call_in.number, call_in.label),
        ));
    }
    if !footer.is_empty() {
        lines.push((None, footer.to_string()));
    }
    lines
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// The patch that adds `details` to an event with `description`.
pub fn patch(
    description: Option<&str>,
    header: &str,
    footer: &str,
    keyword: &str,
    meeting_type: MeetingType,
    details: &JoinDetails,
) -> Patch {
    let old = description.unwrap_or("").trim_end();
    let html = crate::html::looks_like_html(old);
    let lines = block_lines(header, footer, details);
    let mut text = String::from(old);
    if html {
        if !text.is_empty() {
            text.push_str("<br><br>");
        }
        let rendered: Vec<String> = lines
            .iter()
            .map(|(label, value)| match label {
                Some("Join") => format!("Join: <a href=\"{0}\">{0}</a>", escape_html(value)),
                Some(label) => format!("{label}: {}", escape_html(value)),
                None => escape_html(value),
            })
            .collect();
        text.push_str(&rendered.join("<br>"));
    } else {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        let rendered: Vec<String> = lines
            .iter()
            .map(|(label, value)| match label {
                Some(label) => format!("{label}: {value}"),
                None => value.clone(),
            })
            .collect();
        text.push_str(&rendered.join("\n"));
    }
    let mut private = BTreeMap::new();
    private.insert(PROCESSED.to_string(), "1".to_string());
    private.insert(KEYWORD.to_string(), keyword.to_string());
    private.insert(
        MEETING_TYPE.to_string(),
        meeting_type_name(meeting_type).to_string(),
    );
    private.insert(JOIN_URL.to_string(), details.url.clone());
    Patch {
        description: text,
        extended_properties: ExtendedProperties { private },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details() -> JoinDetails {
        JoinDetails {
            url: "https://acme.webex.com/meet/alice".into(),
            sip_address: Some("alice@acme.webex.com".into()),
            meeting_number: None,
            call_in: vec![],
            password: None,
        }
    }

    #[test]
    fn plain_descriptions_get_a_plain_block() {
        let p = patch(
            Some("Agenda"),
            "H",
            "F",
            "@webex",
            MeetingType::PersonalRoom,
            &details(),
        );
        assert_eq!(
            p.description,
            "Agenda\n\nH\nJoin: https://acme.webex.com/meet/alice\nVideo address: alice@acme.webex.com\nF"
        );
        assert_eq!(p.extended_properties.private[PROCESSED], "1");
    }

    #[test]
    fn html_descriptions_get_an_html_block() {
        let p = patch(
            Some("<p>Agenda</p>"),
            "H & co",
            "",
            "@webex",
            MeetingType::PersonalRoom,
            &details(),
        );
        assert!(
            p.description
                .starts_with("<p>Agenda</p><br><br>H &amp; co<br>Join: <a href=")
        );
    }
}
