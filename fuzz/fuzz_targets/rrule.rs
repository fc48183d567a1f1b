//! A recurrence set (`RRULE`, `EXRULE`, `RDATE`, `EXDATE` lines) from
//! arbitrary text, expanded over a window: through `expand_series` with the
//! series' start, zone and window taken from the input, and through the
//! public `expand_recurrence`. Either a typed error or at most `max`
//! instances, each in the window, in order; never a panic, never unbounded
//! work (libFuzzer's `-timeout` catches that).
//!
//! Input: one item per line. `DTSTART[;TZID=zone][;VALUE=DATE]:YYYYMMDD[THHMMSS]`
//! sets the series' start (default 2026-12-01T09:00:00 UTC); `START-AT:` and
//! `END-AT:` (same form, read as UTC) the window (default: from the start, for
//! three years); `MAX:n` the instance cap (default 100, at most 2000). Every
//! other line is a recurrence line.
#![no_main]

use hcal_core::event::EventTime;
use hcal_core::model::Window;
use hcal_core::recurrence::{Civil, Series, SeriesStart, expand_series};
use libfuzzer_sys::fuzz_target;

struct Input {
    start: Civil,
    zone: Option<String>,
    all_day: bool,
    from: Option<i64>,
    to: Option<i64>,
    max: usize,
    lines: Vec<String>,
}

fn read(text: &str) -> Option<Input> {
    let mut input = Input {
        start: Civil::new(2026, 12, 1, 9 * 3600),
        zone: None,
        all_day: false,
        from: None,
        to: None,
        max: 100,
        lines: Vec::new(),
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("DTSTART") {
            let (params, value) = rest.split_once(':')?;
            for param in params.split(';').filter(|p| !p.is_empty()) {
                match param.split_once('=')? {
                    ("TZID", zone) => input.zone = Some(zone.to_string()),
                    ("VALUE", "DATE") => input.all_day = true,
                    _ => {}
                }
            }
            let value = value.trim().trim_end_matches('Z');
            input.start = Civil::parse_basic(value)?;
            input.all_day |= value.len() == 8;
        } else if let Some(at) = line.strip_prefix("START-AT:") {
            input.from = Some(Civil::parse_basic(at.trim().trim_end_matches('Z'))?.seconds());
        } else if let Some(at) = line.strip_prefix("END-AT:") {
            input.to = Some(Civil::parse_basic(at.trim().trim_end_matches('Z'))?.seconds());
        } else if let Some(n) = line.strip_prefix("MAX:") {
            input.max = n.trim().parse::<usize>().ok()?.min(2000);
        } else {
            input.lines.push(line.to_string());
        }
    }
    Some(input)
}

/// RFC 3339 text for `seconds` (UTC), as Google would write it.
fn rfc3339(seconds: i64) -> String {
    let c = Civil::from_seconds(seconds);
    let (y, m, d) = c.ymd();
    let (h, mi, s) = c.hms();
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(input) = read(text) else { return };
    let zone = match input.zone.as_deref() {
        Some(name) => match hcal_core::time::zone(name) {
            Ok(zone) => zone,
            Err(_) => return,
        },
        None => hcal_core::time::zone("UTC").expect("UTC"),
    };
    let from = input.from.unwrap_or(input.start.seconds());
    let to = input.to.unwrap_or(from + 3 * 366 * 86_400);
    if to <= from {
        return;
    }
    let (start, duration) = if input.all_day {
        let start = SeriesStart::AllDay {
            day: input.start.day,
            floating: zone.clone(),
        };
        (start, 86_400)
    } else {
        let start = SeriesStart::Timed {
            local: input.start,
            zone: zone.clone(),
        };
        (start, 3600)
    };
    let max = input.max;
    if let Ok(series) = Series::parse(&input.lines)
        && let Ok(expansion) = expand_series(&series, &start, duration, from, to, max)
    {
        let found = &expansion.instances;
        assert!(found.len() <= max, "{} instances, max {max}", found.len());
        assert!(!expansion.capped || found.len() == max, "capped early");
        for pair in found.windows(2) {
            assert!(pair[0].local < pair[1].local, "out of order: {pair:?}");
        }
        for i in found {
            assert!(
                i.start < to && i.start + duration > from,
                "{i:?} is outside [{from}, {to})"
            );
        }
    }

    // The public entry point, with the start as Google writes it.
    let (y, m, d) = input.start.ymd();
    let (h, mi, s) = input.start.hms();
    let event_start = if input.all_day {
        EventTime {
            date: Some(format!("{y:04}-{m:02}-{d:02}")),
            ..EventTime::default()
        }
    } else {
        EventTime {
            date_time: Some(format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}")),
            time_zone: Some(input.zone.clone().unwrap_or_else(|| "UTC".into())),
            date: None,
        }
    };
    let window = Window {
        from: rfc3339(from),
        to: rfc3339(to),
    };
    if let Ok(starts) =
        hcal_core::expand_recurrence(&event_start, &input.lines, &window, max as u32)
    {
        assert!(starts.len() <= max, "{} starts, max {max}", starts.len());
        for at in starts {
            assert!((from..to).contains(&at), "{at} is outside [{from}, {to})");
        }
    }
});
