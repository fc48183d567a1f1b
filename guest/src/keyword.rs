//! Keyword scheduling: `@webex`, `@meet` and the legacy `@spark` typed into
//! an event's location, with the modifiers `:myroom`, `:space` and
//! `:onetime`. Only the first (leftmost) keyword counts; keywords match
//! case-insensitively and must stand as words, so `foo@webex.com` is an
//! e-mail address, not a keyword.

use crate::model::{KeywordDefaults, MeetingType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordService {
    Webex,
    Meet,
    Spark,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyword {
    /// As found, lower-cased: `@webex`, `@meet:space`.
    pub text: String,
    pub service: KeywordService,
    pub meeting_type: MeetingType,
    /// Byte offset in the location.
    pub offset: usize,
}

/// A keyword whose modifier is not one we know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownModifier {
    pub text: String,
}

const SERVICES: [(&str, KeywordService); 3] = [
    ("webex", KeywordService::Webex),
    ("meet", KeywordService::Meet),
    ("spark", KeywordService::Spark),
];

const MODIFIERS: [(&str, MeetingType); 3] = [
    ("myroom", MeetingType::PersonalRoom),
    ("space", MeetingType::Space),
    ("onetime", MeetingType::OneTime),
];

/// The first keyword in `location`.
///
/// ```
/// use hcal_core::{keyword::detect, model::{KeywordDefaults, MeetingType}};
/// let k = detect("Room 4 / @Meet:OneTime", &KeywordDefaults::default()).unwrap().unwrap();
/// assert_eq!((k.text.as_str(), k.meeting_type), ("@meet:onetime", MeetingType::OneTime));
/// assert!(detect("mail bob@webex.com", &KeywordDefaults::default()).is_none());
/// ```
pub fn detect(
    location: &str,
    defaults: &KeywordDefaults,
) -> Option<Result<Keyword, UnknownModifier>> {
    let bytes = location.as_bytes();
    let mut from = 0;
    while let Some(pos) = bytes[from..].iter().position(|&b| b == b'@') {
        let at = from + pos;
        from = at + 1;
        if at > 0 && is_word_byte(bytes[at - 1]) {
            continue; // part of an e-mail address or a word
        }
        for (name, service) in SERVICES {
            let end = at + 1 + name.len();
            let Some(candidate) = location.get(at + 1..end) else {
                continue;
            };
            if !candidate.eq_ignore_ascii_case(name) || !ends_word(bytes, end) {
                continue;
            }
            let default = match service {
                KeywordService::Webex => defaults.webex,
                KeywordService::Meet => defaults.meet,
                KeywordService::Spark => MeetingType::Space,
            };
            // A modifier directly after a colon.
            if bytes.get(end) == Some(&b':')
                && bytes.get(end + 1).is_some_and(|b| b.is_ascii_alphabetic())
            {
                let word_len = bytes[end + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric())
                    .count();
                let word = &location[end + 1..end + 1 + word_len];
                let text = format!("@{name}:{}", word.to_ascii_lowercase());
                return Some(
                    match MODIFIERS.iter().find(|(m, _)| m.eq_ignore_ascii_case(word)) {
                        Some((_, meeting_type)) => Ok(Keyword {
                            text,
                            service,
                            meeting_type: *meeting_type,
                            offset: at,
                        }),
                        None => Err(UnknownModifier { text }),
                    },
                );
            }
            return Some(Ok(Keyword {
                text: format!("@{name}"),
                service,
                meeting_type: default,
                offset: at,
            }));
        }
    }
    None
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.' || b == b'+' || b >= 0x80
}

/// The keyword ending at `end` is a whole word: not followed by more word,
/// nor by a domain (`@webex.com`).
fn ends_word(bytes: &[u8], end: usize) -> bool {
    match bytes.get(end) {
        None => true,
        Some(b) if b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-' || *b >= 0x80 => false,
        Some(b'.') => !bytes
            .get(end + 1)
            .is_some_and(|b| b.is_ascii_alphanumeric()),
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(location: &str) -> Option<String> {
        detect(location, &KeywordDefaults::default()).map(|r| match r {
            Ok(k) => k.text,
            Err(u) => format!("unknown {}", u.text),
        })
    }

    #[test]
    fn whole_words_only() {
        assert_eq!(text("@webex"), Some("@webex".into()));
        assert_eq!(text("(@WEBEX)"), Some("@webex".into()));
        assert_eq!(text("Room 1, @webex."), Some("@webex".into()));
        assert_eq!(text("foo@webex.com"), None);
        assert_eq!(text("@webex.com"), None);
        assert_eq!(text("@webexteams"), None);
        assert_eq!(text("@meeting"), None);
    }

    #[test]
    fn first_keyword_wins() {
        assert_eq!(text("@meet then @webex"), Some("@meet".into()));
        assert_eq!(text("x@meet @webex:space"), Some("@webex:space".into()));
    }

    #[test]
    fn modifiers_and_defaults() {
        let d = KeywordDefaults::default();
        let k = |l: &str| detect(l, &d).unwrap().unwrap().meeting_type;
        assert_eq!(k("@webex"), MeetingType::PersonalRoom);
        assert_eq!(k("@meet"), MeetingType::Space);
        assert_eq!(k("@spark"), MeetingType::Space);
        assert_eq!(k("@meet:myroom"), MeetingType::PersonalRoom);
        assert_eq!(k("@webex:space"), MeetingType::Space);
        assert_eq!(k("@webex:onetime"), MeetingType::OneTime);
        assert_eq!(text("@webex:later"), Some("unknown @webex:later".into()));
        // A colon that starts no word is punctuation.
        assert_eq!(text("@webex: room 5"), Some("@webex".into()));
    }
}
