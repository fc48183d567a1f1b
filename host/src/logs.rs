//! How hcal writes its log lines: one event is one line, whatever its
//! fields hold, and a line that strangers can trigger at will is written
//! now and then, not every time.
//!
//! Field values come from outside (an address in a request, a header, a
//! reason Google gave): a newline in one would start a forged log line, an
//! escape sequence would drive the reader's terminal. [`fields`] writes
//! every control character of every field (the message too) escaped.
//!
//! No e-mail address reaches a log: each is written as the user's stable
//! log id ([`user_id`], `u-` and 12 hex digits of its SHA-256), the same on
//! every worker and in `hcal users list`, so lines about one person can be
//! followed without naming them. `HCAL_LOG_FORMAT=json` writes one JSON
//! object per line ([`JsonLines`]) for log shippers, with the same rules.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use tracing_subscriber::field::MakeExt as _;

/// `text` with its control characters (and line separators and
/// bidirectional overrides) written as Rust escapes (`\n`, `\u{1b}`,
/// `\u{202e}`): what is left cannot end a line, move a cursor or reorder
/// what the reader sees.
///
/// ```
/// assert_eq!(hcal::logs::escape_controls("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
/// assert_eq!(hcal::logs::escape_controls("plain"), "plain");
/// ```
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hostile) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hostile(c) {
            let _ = write!(escaped, "{}", c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

/// Controls, and the characters that end a line or reorder what a reader
/// sees (line and paragraph separators, bidirectional overrides).
fn hostile(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A user's log id: `u-` and the first 12 hex digits of the SHA-256 of the
/// lower-cased address.
///
/// ```
/// assert_eq!(hcal::logs::user_id("Alice@Example.com"), hcal::logs::user_id("alice@example.com"));
/// assert!(hcal::logs::user_id("alice@example.com").starts_with("u-"));
/// ```
pub fn user_id(email: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        email.trim().to_ascii_lowercase().as_bytes(),
    );
    let mut id = String::from("u-");
    for b in &digest.as_ref()[..6] {
        let _ = write!(id, "{b:02x}");
    }
    id
}

/// `text` with every e-mail address in it written as its [`user_id`].
///
/// ```
/// let line = hcal::logs::scrub_addresses("alice@example.com is not activated");
/// assert!(line.starts_with("u-") && line.ends_with(" is not activated"), "{line}");
/// assert_eq!(hcal::logs::scrub_addresses("no address @ all"), "no address @ all");
/// // Letters beyond ASCII are part of an address too.
/// let line = hcal::logs::scrub_addresses("jürgen@münchen.example and a&b@x.com");
/// assert!(!line.contains('@') && !line.contains("rgen") && !line.contains("a&"), "{line}");
/// ```
pub fn scrub_addresses(text: &str) -> Cow<'_, str> {
    if !text.contains('@') {
        return Cow::Borrowed(text);
    }
    // Generous on purpose (any letter, `&` and friends): a part of an
    // address left in clear is the leak this exists to prevent; a wrong id
    // is only a wrong id.
    let local = |c: char| c.is_alphanumeric() || "._%+-!#$&*?^`{|}~".contains(c);
    let domain = |c: char| c.is_alphanumeric() || ".-".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut from = 0;
    while let Some(at) = text[from..].find('@').map(|p| p + from) {
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| local(*c))
            .last()
            .map(|(i, _)| i)
            .unwrap_or(at);
        let end = text[at + 1..]
            .char_indices()
            .take_while(|(_, c)| domain(*c))
            .last()
            .map(|(i, c)| at + 1 + i + c.len_utf8())
            .unwrap_or(at + 1);
        let host = text[at + 1..end].trim_end_matches('.');
        let end = at + 1 + host.len();
        if start < at && start >= last && host.contains('.') && !host.starts_with('.') {
            out.push_str(&text[last..start]);
            out.push_str(&user_id(&text[start..end]));
            last = end;
        }
        from = at + 1;
    }
    if last == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// The field formatter of every hcal log: `message key=value ...`, each
/// value with its control characters escaped and its addresses as log ids.
pub fn fields()
-> impl for<'writer> tracing_subscriber::fmt::FormatFields<'writer> + Send + Sync + 'static {
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let text = format!("{value:?}");
        let text = scrub_addresses(&text);
        let text = escape_controls(&text);
        if field.name() == "message" {
            write!(writer, "{text}")
        } else {
            write!(writer, "{field}={text}")
        }
    })
    .delimited(" ")
}

/// Lets a log line through at most once every `seconds`, counting the ones
/// held back, for lines anyone on the network can trigger (a forged push
/// notification): the log shows that it happens and how often, and cannot
/// be flooded.
///
/// ```
/// let throttle = hcal::logs::Throttle::new(10);
/// assert_eq!(throttle.allow(100), Some(0));
/// assert_eq!(throttle.allow(101), None);
/// assert_eq!(throttle.allow(105), None);
/// assert_eq!(throttle.allow(110), Some(2)); // two held back since
/// ```
pub struct Throttle {
    seconds: i64,
    last: AtomicI64,
    held_back: AtomicU64,
}

impl Throttle {
    pub const fn new(seconds: i64) -> Throttle {
        Throttle {
            seconds,
            last: AtomicI64::new(i64::MIN),
            held_back: AtomicU64::new(0),
        }
    }

    /// At `now` (Unix seconds): `Some(held back since the last)` when the
    /// line may be written, `None` when it is held back.
    pub fn allow(&self, now: i64) -> Option<u64> {
        let last = self.last.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= self.seconds
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.held_back.swap(0, Ordering::Relaxed));
        }
        self.held_back.fetch_add(1, Ordering::Relaxed);
        None
    }
}

/// `HCAL_LOG_FORMAT=json`: one JSON object per line, `{"time", "level",
/// "target", "message", ...fields}`, every string with its addresses as log
/// ids and its controls, line separators and bidirectional overrides
/// escaped as in the text format.
pub struct JsonLines;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JsonLines
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _context: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let metadata = event.metadata();
        let mut line = serde_json::Map::new();
        line.insert("time".into(), jiff::Timestamp::now().to_string().into());
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("target".into(), metadata.target().into());
        let mut visitor = JsonVisitor(&mut line);
        event.record(&mut visitor);
        let text = serde_json::Value::Object(line).to_string();
        writeln!(writer, "{text}")
    }
}

struct JsonVisitor<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(
            field.name().into(),
            scrub_addresses(value).into_owned().into(),
        );
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        self.0.insert(
            field.name().into(),
            scrub_addresses(&text).into_owned().into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_field_cannot_forge_a_line_or_drive_a_terminal() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(super::fields())
            .finish();
        let forged = "eve@example.com\n2026-12-02T00:00:00Z  INFO join button delivered user=ceo@example.com\u{1b}[2J\u{202e}moc.elpmaxe\u{2028}";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(user = %forged, reason = forged, "refused {}", "x\ry");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            !text.contains(['\u{1b}', '\r', '\u{202e}', '\u{2028}']),
            "{text}"
        );
        assert!(text.contains("refused x\\ry"), "{text}");
        let eve = super::user_id("eve@example.com");
        assert!(
            text.contains(&format!(
                "user={eve}\\n2026-12-02T00:00:00Z  INFO join button"
            )),
            "{text}"
        );
        assert!(
            !text.contains("@example.com"),
            "addresses are log ids: {text}"
        );
    }

    #[test]
    fn json_lines_are_one_object_per_event_without_addresses() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .event_format(super::JsonLines)
            .finish();
        let forged = "eve@example.com\n{\"level\":\"INFO\"}";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(user = %forged, count = 3, ok = true, "refused {}", "x\ry");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "refused x\ry");
        assert_eq!(line["count"], 3);
        assert_eq!(line["ok"], true);
        let eve = super::user_id("eve@example.com");
        assert_eq!(line["user"], format!("{eve}\n{{\"level\":\"INFO\"}}"));
        assert!(!text.contains("@example.com"), "{text}");
    }
}
