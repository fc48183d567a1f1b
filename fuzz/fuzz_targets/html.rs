//! Arbitrary text as an event description: `flatten`, `agenda_text` and
//! `decode_entities`. Never a panic, and the output stays in proportion to
//! the input (markup only ever turns into less text, an anchor's target is
//! shown once beside its text, a list item or line break adds a few bytes).
#![no_main]

use hcal_core::html;
use libfuzzer_sys::fuzz_target;

/// The most text `len` bytes of markup may flatten to.
fn bound(len: usize) -> usize {
    2 * len + 16
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let flat = html::flatten(&text);
    assert!(
        flat.text.len() <= bound(text.len()),
        "{} bytes of text from {} bytes of markup",
        flat.text.len(),
        text.len()
    );
    let hrefs: usize = flat.hrefs.iter().map(String::len).sum();
    assert!(
        hrefs <= text.len(),
        "{hrefs} bytes of hrefs from {}",
        text.len()
    );

    let agenda = html::agenda_text(&text);
    assert!(agenda.len() <= bound(text.len()));
    if !html::looks_like_html(&text) {
        // Plain text is only tidied: never longer than it was.
        assert!(agenda.len() <= text.len());
    }

    let decoded = html::decode_entities(&text);
    assert!(decoded.len() <= text.len(), "entities only ever shrink");
});
