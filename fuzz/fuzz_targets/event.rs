//! Arbitrary text through `parse_page`: an events page, a single event, or
//! junk. A page or a typed error, never a panic; every item the page read is
//! an event or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(page) = hcal_core::event::parse_page(text) {
        for error in &page.errors {
            assert!(!error.error.code.is_empty());
        }
    }
});
