//! Keyword enrichment: the `events.patch` body that writes join details into
//! an event whose location carries a keyword, and the rules for when not to.
//!
//! The block goes at the end of the description (HTML when the description
//! is HTML, plain text otherwise), between the organisation's header and
//! footer. Private extended properties mark the event, so a second run over
//! the patched event yields no patch.

use std::collections::BTreeMap;

use crate::model::{ExtendedProperties, JoinBlock, JoinDetails, MeetingType, Patch};

/// Set on every event hcal enriched.
pub const PROCESSED: &str = "hcalProcessed";
/// The keyword that was acted on.
pub const KEYWORD: &str = "hcalKeyword";
/// The meeting type that was provided.
pub const MEETING_TYPE: &str = "hcalMeetingType";
/// The join URL written into the event.
pub const JOIN_URL: &str = "hcalJoinUrl";
/// The provider's id of the space or one-time meeting made for the event.
pub const MEETING_ID: &str = crate::model::MEETING_ID_PROPERTY;

/// Longest organisation header or footer, in characters.
pub const MAX_HEADER_CHARS: usize = 1024;

fn meeting_type_name(t: MeetingType) -> &'static str {
    match t {
        MeetingType::PersonalRoom => "personal_room",
        MeetingType::Space => "space",
        MeetingType::OneTime => "one_time",
    }
}

/// The meeting type recorded in an enriched event's properties.
pub fn meeting_type_named(name: &str) -> Option<MeetingType> {
    match name {
        "personal_room" => Some(MeetingType::PersonalRoom),
        "space" => Some(MeetingType::Space),
        "one_time" => Some(MeetingType::OneTime),
        _ => None,
    }
}

/// Which line of the block a value is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Line {
    Text,
    Join,
    Labelled,
}

/// The lines of the join block, in order.
fn block_lines<'a>(block: &'a JoinBlock, details: &JoinDetails) -> Vec<(Line, &'a str, String)> {
    let labels = &block.labels;
    let mut lines = Vec::new();
    if !block.header.is_empty() {
        lines.push((Line::Text, "", block.header.clone()));
    }
    lines.push((Line::Join, labels.join.as_str(), details.url.clone()));
    if let Some(sip) = &details.sip_address {
        lines.push((Line::Labelled, labels.video_address.as_str(), sip.clone()));
    }
    if let Some(number) = &details.meeting_number {
        lines.push((
            Line::Labelled,
            labels.meeting_number.as_str(),
            number.clone(),
        ));
    }
    if let Some(password) = &details.password {
        lines.push((Line::Labelled, labels.password.as_str(), password.clone()));
    }
    for call_in in &details.call_in {
        let value = format!("{} {}", call_in.number, call_in.label);
        lines.push((Line::Labelled, labels.call_in.as_str(), value));
    }
    if !block.footer.is_empty() {
        lines.push((Line::Text, "", block.footer.clone()));
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
    block: &JoinBlock,
    keyword: &str,
    meeting_type: MeetingType,
    details: &JoinDetails,
    meeting_id: Option<&str>,
) -> Patch {
    let old = description.unwrap_or("").trim_end();
    let html = crate::html::looks_like_html(old);
    let lines = block_lines(block, details);
    let mut text = String::from(old);
    if html {
        if !text.is_empty() {
            text.push_str("<br><br>");
        }
        let rendered: Vec<String> = lines
            .iter()
            .map(|(line, label, value)| match line {
                Line::Join => format!(
                    "{}: <a href=\"{1}\">{1}</a>",
                    escape_html(label),
                    escape_html(value)
                ),
                Line::Labelled => format!("{}: {}", escape_html(label), escape_html(value)),
                Line::Text => escape_html(value),
            })
            .collect();
        text.push_str(&rendered.join("<br>"));
    } else {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        let rendered: Vec<String> = lines
            .iter()
            .map(|(line, label, value)| match line {
                Line::Text => value.clone(),
                _ => format!("{label}: {value}"),
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
    if let Some(id) = meeting_id {
        private.insert(MEETING_ID.to_string(), id.to_string());
    }
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

    fn block(header: &str, footer: &str) -> JoinBlock {
        JoinBlock {
            header: header.into(),
            footer: footer.into(),
            ..JoinBlock::default()
        }
    }

    #[test]
    fn plain_descriptions_get_a_plain_block() {
        let p = patch(
            Some("Agenda"),
            &block("H", "F"),
            "@webex",
            MeetingType::PersonalRoom,
            &details(),
            None,
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
            &block("H & co", ""),
            "@webex",
            MeetingType::PersonalRoom,
            &details(),
            None,
        );
        assert!(
            p.description
                .starts_with("<p>Agenda</p><br><br>H &amp; co<br>Join: <a href=")
        );
    }

    #[test]
    fn the_block_speaks_the_organizers_language_and_records_the_meeting_id() {
        let german = crate::model::Options::default().join_block_for(Some("de"));
        let p = patch(
            None,
            &german,
            "@meet",
            MeetingType::Space,
            &details(),
            Some("space-1"),
        );
        assert!(
            p.description
                .contains("Teilnehmen: https://acme.webex.com/meet/alice")
        );
        assert!(p.description.contains("Videoadresse: alice@acme.webex.com"));
        assert_eq!(p.extended_properties.private[MEETING_ID], "space-1");
    }
}
