//! Descriptions as plain text. Google stores what the web UI writes (HTML);
//! other clients write plain text. Either way the agenda is plain text, and
//! link extraction wants the text plus every `href`.
//!
//! The scanner is one linear pass that never fails: broken, unclosed or
//! deeply nested markup is read as well as it can be, in time linear in the
//! input.

use std::borrow::Cow;

/// Text with the targets of its anchors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flattened {
    pub text: String,
    pub hrefs: Vec<String>,
}

/// True when `text` holds something that looks like a tag (`<p>`, `</a>`,
/// `<!-- -->`). Plain text with a stray `<`, or with links in angle brackets
/// (`join<https://...>`, as plain-text mail writes them), is not HTML.
///
/// ```
/// use hcal_core::html::looks_like_html;
/// assert!(looks_like_html("<p>Agenda</p>"));
/// assert!(!looks_like_html("Click here to join the meeting<https://teams.microsoft.com/l/meetup-join/x>"));
/// ```
pub fn looks_like_html(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = bytes[from..].iter().position(|&b| b == b'<') {
        let at = from + pos;
        match bytes.get(at + 1) {
            _ if autolink_len(bytes, at).is_some() => from = at + 1,
            Some(b) if b.is_ascii_alphabetic() || *b == b'/' || *b == b'!' => return true,
            _ => from = at + 1,
        }
    }
    false
}

/// The length through `>` of a URL in angle brackets at `at`
/// (`<https://...>`, `<sip:...>`, `<tel:...>`, `<mailto:...>`): text, not a tag.
pub(crate) fn autolink_len(bytes: &[u8], at: usize) -> Option<usize> {
    const SCHEMES: [&[u8]; 6] = [
        b"https://",
        b"http://",
        b"sips:",
        b"sip:",
        b"tel:",
        b"mailto:",
    ];
    let rest = bytes.get(at + 1..)?;
    let scheme = SCHEMES
        .iter()
        .find(|s| rest.len() >= s.len() && rest[..s.len()].eq_ignore_ascii_case(s))?;
    let end = rest
        .iter()
        .position(|&b| b == b'>' || b <= b' ' || b == b'<' || b == b'"')?;
    (rest[end] == b'>' && end > scheme.len()).then_some(end + 2)
}

/// The agenda: a description as plain text. HTML is flattened (block tags
/// become line breaks, anchors keep their target); plain text is kept as is.
///
/// ```
/// let text = hcal_core::html::agenda_text("<p>Agenda:</p><ul><li>One &amp; two</li></ul>");
/// assert_eq!(text, "Agenda:\n- One & two");
/// ```
pub fn agenda_text(description: &str) -> String {
    if looks_like_html(description) {
        flatten(description).text
    } else {
        // Plain text keeps its indentation; only runs of blank lines go.
        tidy(description, str::trim_end).trim_start().to_string()
    }
}

/// Flatten HTML into text and hrefs.
pub fn flatten(html: &str) -> Flattened {
    let bytes = html.as_bytes();
    let mut out = Flattened::default();
    let mut text = String::with_capacity(html.len());
    let mut i = 0;
    let mut run_start = 0;
    // The open anchor: its href and where its text began in `text`.
    let mut anchor: Option<(String, usize)> = None;
    while i < bytes.len() {
        // Jump to the next `<` (memchr), not byte by byte.
        match crate::bytes::find_byte(bytes, i, b'<') {
            Some(at) => i = at,
            None => break,
        }
        let next = bytes.get(i + 1).copied().unwrap_or(b' ');
        if !(next.is_ascii_alphabetic() || next == b'/' || next == b'!') {
            i += 1;
            continue;
        }
        // A link in angle brackets stays text: its URL is what matters.
        if let Some(len) = autolink_len(bytes, i) {
            i += len;
            continue;
        }
        push_text(&mut text, &html[run_start..i]);
        if html[i..].starts_with("<!--") {
            i = html[i + 4..]
                .find("-->")
                .map(|p| i + 4 + p + 3)
                .unwrap_or(bytes.len());
            run_start = i;
            continue;
        }
        let end = tag_end(bytes, i + 1);
        let tag = &html[i + 1..end.min(bytes.len())];
        i = (end + 1).min(bytes.len());
        run_start = i;
        let closing = tag.starts_with('/');
        let name_part = tag.trim_start_matches('/');
        let name_len = name_part
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        // Lower-cased without allocating: tag names we act on are short.
        let mut lower = [0u8; 12];
        let name = match name_part.as_bytes().get(..name_len) {
            Some(raw) if raw.len() <= lower.len() => {
                lower[..raw.len()].copy_from_slice(raw);
                lower[..raw.len()].make_ascii_lowercase();
                std::str::from_utf8(&lower[..raw.len()]).unwrap_or("")
            }
            _ => "",
        };
        match name {
            "script" | "style" if !closing => {
                // Their content is not text.
                let close = if name == "script" {
                    "</script"
                } else {
                    "</style"
                };
                i = find_ignore_case(html, i, close).unwrap_or(bytes.len());
                run_start = i;
            }
            "a" if !closing => {
                // An anchor left open closes where the next one starts.
                close_anchor(&mut text, anchor.take());
                if let Some(href) = attribute(name_part, "href") {
                    let href = decode_entities(href.trim()).into_owned();
                    out.hrefs.push(href.clone());
                    anchor = Some((href, text.len()));
                }
            }
            "a" => close_anchor(&mut text, anchor.take()),
            "br" => text.push('\n'),
            "li" if !closing => {
                newline(&mut text);
                text.push_str("- ");
            }
            "p" | "div" | "li" | "ul" | "ol" | "tr" | "table" | "h1" | "h2" | "h3" | "h4"
            | "h5" | "h6" | "blockquote" | "pre" | "hr" | "section" | "article" | "header"
            | "footer" => newline(&mut text),
            "td" | "th" if closing => text.push(' '),
            _ => {}
        }
    }
    push_text(&mut text, &html[run_start.min(html.len())..]);
    // Broken markup: an anchor still open at the end keeps its target too.
    close_anchor(&mut text, anchor.take());
    out.text = tidy(&text, str::trim);
    out
}

/// Show an anchor's target after its text, unless the text already shows it.
fn close_anchor(text: &mut String, anchor: Option<(String, usize)>) {
    let Some((href, from)) = anchor else { return };
    let shown = &text[from.min(text.len())..];
    let target = href.strip_prefix("mailto:").unwrap_or(&href);
    if href.is_empty() || href.starts_with('#') || shown.contains(target) {
        return;
    }
    if shown.trim().is_empty() {
        text.push_str(target);
    } else {
        text.push_str(" (");
        text.push_str(target);
        text.push(')');
    }
}

/// Where the tag that starts at `from` ends (its `>`), skipping quoted values.
fn tag_end(bytes: &[u8], from: usize) -> usize {
    let mut quote = None;
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return i,
            None => {}
        }
        i += 1;
    }
    // Unclosed quote: fall back to the first `>`.
    bytes[from..]
        .iter()
        .position(|&b| b == b'>')
        .map(|p| from + p)
        .unwrap_or(bytes.len())
}

fn find_ignore_case(haystack: &str, from: usize, needle: &str) -> Option<usize> {
    let hay = haystack.as_bytes();
    let needle = needle.as_bytes();
    if needle.is_empty() || from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| from + p)
}

/// The value of attribute `name` in a tag's text.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let bytes = tag.as_bytes();
    let mut i = 0;
    while let Some(at) = find_ignore_case(tag, i, name) {
        i = at + name.len();
        let before_ok = at == 0 || bytes[at - 1].is_ascii_whitespace();
        let mut j = i;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if !before_ok || bytes.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        return match bytes.get(j) {
            Some(&q @ (b'"' | b'\'')) => {
                let rest = &tag[j + 1..];
                Some(rest.find(q as char).map(|e| &rest[..e]).unwrap_or(rest))
            }
            Some(_) => {
                let rest = &tag[j..];
                Some(
                    rest.split(|c: char| c.is_ascii_whitespace() || c == '>')
                        .next()
                        .unwrap_or(""),
                )
            }
            None => None,
        };
    }
    None
}

/// Append a run of HTML text: entities decoded, white space collapsed.
/// HTML white space is ASCII (space, tab, LF, FF, CR); a non-breaking space
/// is a space that is never collapsed.
fn push_text(text: &mut String, run: &str) {
    if run.is_empty() {
        return;
    }
    let decoded = decode_entities(run);
    let bytes = decoded.as_bytes();
    let mut start = 0;
    let mut i = 0;
    let maybe_space = |b: u8| b <= b' ' || b == 0xc2;
    let mask = |w: u64| crate::bytes::below(w, 0x21) | crate::bytes::equal_to(w, 0xc2);
    while let Some(at) = crate::bytes::find(bytes, i, mask, maybe_space) {
        i = at;
        let b = bytes[i];
        let (width, nbsp) = match b {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => (1, false),
            0xc2 if bytes.get(i + 1) == Some(&0xa0) => (2, true),
            _ => {
                i += 1;
                continue;
            }
        };
        // A lone space after text is kept where it is: the run is copied
        // whole at the next cut, not word by word (small copies are costly
        // in wasm, where each is a call out of the guest).
        if b == b' ' {
            let before = if i > start {
                Some(bytes[i - 1])
            } else {
                text.as_bytes().last().copied()
            };
            if !matches!(before, None | Some(b' ' | b'\n')) {
                i += 1;
                continue;
            }
        }
        // Both cut points are at ASCII bytes or at the start of U+00A0.
        text.push_str(&decoded[start..i]);
        // A non-breaking space always stays; other white space collapses.
        if nbsp || !matches!(text.as_bytes().last(), None | Some(b' ' | b'\n')) {
            text.push(' ');
        }
        i += width;
        start = i;
    }
    text.push_str(&decoded[start..]);
}

fn newline(text: &mut String) {
    while text.ends_with(' ') {
        text.pop();
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
}

/// Trim each line with `trim`, and keep at most one blank line in a row.
fn tidy(text: &str, trim: fn(&str) -> &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    let bytes = text.as_bytes();
    let mut start = 0;
    while start <= text.len() {
        // Lines end at `\n`; a `\r` before it is white space to `trim`.
        let end = crate::bytes::find_byte(bytes, start, b'\n').unwrap_or(text.len());
        let line = trim(&text[start..end]);
        start = end + 1;
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

/// Decode HTML character references (`&amp;`, `&#233;`, `&#x68;`). Unknown
/// or malformed references stay as they are.
///
/// ```
/// assert_eq!(hcal_core::html::decode_entities("&#x68;ttps &amp; &bogus;"), "https & &bogus;");
/// ```
pub fn decode_entities(text: &str) -> Cow<'_, str> {
    let find_amp = |text: &str| crate::bytes::find_byte(text.as_bytes(), 0, b'&');
    if find_amp(text).is_none() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = find_amp(rest) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.as_bytes().iter().take(12).position(|&b| b == b';');
        let decoded = end.and_then(|end| entity(&rest[1..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| *c != '\0');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "bull" => '•',
        "middot" => '·',
        "copy" => '©',
        "reg" => '®',
        "euro" => '€',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_keep_their_target() {
        let f = flatten(r#"Join <a href="https://x.webex.com/meet/a">here</a>."#);
        assert_eq!(f.text, "Join here (https://x.webex.com/meet/a).");
        assert_eq!(f.hrefs, ["https://x.webex.com/meet/a"]);
    }

    #[test]
    fn broken_markup_is_read_anyway() {
        let f = flatten("<div><b>unclosed <a href='https://zoom.us/j/1'>z</a> <p");
        assert!(f.text.starts_with("unclosed z (https://zoom.us/j/1)"));
        let dangling = flatten("<a href='https://x.webex.com/meet/a'>never closed");
        assert_eq!(dangling.text, "never closed (https://x.webex.com/meet/a)");
        assert_eq!(f.hrefs, ["https://zoom.us/j/1"]);
    }

    #[test]
    fn scripts_and_comments_are_not_text() {
        assert_eq!(flatten("a<script>x()</script>b<!-- c -->d").text, "abd");
    }

    #[test]
    fn plain_text_is_not_html() {
        assert!(!looks_like_html("a < b and 3<4"));
        assert_eq!(
            agenda_text("line 1\n  line 2 \n\n\n\nend"),
            "line 1\n  line 2\n\nend"
        );
    }

    #[test]
    fn deep_nesting_is_linear() {
        let html = "<div>".repeat(100_000) + "x" + &"</div>".repeat(100_000);
        assert_eq!(flatten(&html).text, "x");
    }
}
