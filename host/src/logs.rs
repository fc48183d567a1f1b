//! How hcal writes its log lines: one event is one line, whatever its
//! fields hold, and a line that strangers can trigger at will is written
//! now and then, not every time.
//!
//! Field values come from outside (an address in a request, a header, a
//! reason Google gave): a newline in one would start a forged log line, an
//! escape sequence would drive the reader's terminal. [`fields`] writes
//! every control character of every field (the message too) escaped.

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

/// The field formatter of every hcal log: `message key=value ...`, each
/// value with its control characters escaped.
pub fn fields()
-> impl for<'writer> tracing_subscriber::fmt::FormatFields<'writer> + Send + Sync + 'static {
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let text = format!("{value:?}");
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
        assert!(
            text.contains("user=eve@example.com\\n2026-12-02T00:00:00Z  INFO join button"),
            "{text}"
        );
    }
}
