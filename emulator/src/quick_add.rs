//! `events.quickAdd`: a small, documented subset of Google's natural language.
//!
//! ```text
//! text     = words [ "at" time ] [ day ] [ "for" number unit ]   (any order after the title)
//! time     = 15 | 3pm | 3:30pm | 15:30 | noon
//! day      = "today" | "tomorrow" | "on" (YYYY-MM-DD | monday .. sunday)
//! unit     = minute(s) | min | hour(s) | h
//! ```
//! Words that are not part of a phrase above form the title. Without a time
//! the event is all-day; without a duration it lasts an hour; without a day
//! it is today (in the user's time zone, by the emulator's clock). A weekday
//! means the next such day (today counts only if it is that day).
//! "Review at 3pm tomorrow for 30 minutes" → "Review", tomorrow 15:00–15:30.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde_json::{Value, json};

/// The event body for `text`, or why the text cannot be read.
pub fn parse(text: &str, now: Timestamp, zone_name: &str) -> Result<Value, String> {
    let zone = hcal_core::time::zone(zone_name).unwrap_or(TimeZone::UTC);
    let today = now.to_zoned_datetime(zone.clone()).date();
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut title = Vec::new();
    let mut time: Option<Time> = None;
    let mut day: Option<Date> = None;
    let mut minutes: i64 = 60;
    let mut i = 0;
    while i < words.len() {
        let word = words[i].to_ascii_lowercase();
        let next = words.get(i + 1).map(|w| w.to_ascii_lowercase());
        match word.as_str() {
            "at" if next.as_deref().and_then(parse_time).is_some() => {
                time = next.as_deref().and_then(parse_time);
                i += 2;
            }
            "today" => {
                day = Some(today);
                i += 1;
            }
            "tomorrow" => {
                day = today.tomorrow().ok();
                i += 1;
            }
            "on" if next.as_deref().and_then(|n| parse_day(n, today)).is_some() => {
                day = next.as_deref().and_then(|n| parse_day(n, today));
                i += 2;
            }
            "for"
                if next
                    .as_deref()
                    .and_then(|n| n.parse::<i64>().ok())
                    .is_some() =>
            {
                let count: i64 = next.as_deref().and_then(|n| n.parse().ok()).unwrap_or(0);
                let unit = words.get(i + 2).map(|w| w.to_ascii_lowercase());
                let factor = match unit.as_deref() {
                    Some("minute" | "minutes" | "min" | "mins") => 1,
                    Some("hour" | "hours" | "h" | "hr" | "hrs") => 60,
                    _ => return Err(format!("\"for {count}\" needs a unit: minutes or hours")),
                };
                if !(1..=24 * 60 * 14).contains(&(count * factor)) {
                    return Err(format!(
                        "a duration of {count} {} is out of range",
                        unit.unwrap_or_default()
                    ));
                }
                minutes = count * factor;
                i += 3;
            }
            _ => {
                title.push(words[i]);
                i += 1;
            }
        }
    }
    if title.is_empty() {
        return Err("the text has no title".into());
    }
    let day = day.unwrap_or(today);
    let summary = title.join(" ");
    Ok(match time {
        None => {
            let end = day.tomorrow().map_err(|e| e.to_string())?;
            json!({ "summary": summary, "start": { "date": day.to_string() }, "end": { "date": end.to_string() } })
        }
        Some(time) => {
            let start = day
                .to_datetime(time)
                .to_zoned_datetime(zone.clone())
                .map_err(|e| e.to_string())?;
            let end = start
                .checked_add(Span::new().minutes(minutes))
                .map_err(|e| e.to_string())?;
            json!({
                "summary": summary,
                "start": { "dateTime": hcal_core::time::rfc3339(&start), "timeZone": zone_name },
                "end": { "dateTime": hcal_core::time::rfc3339(&end), "timeZone": zone_name },
            })
        }
    })
}

fn parse_time(word: &str) -> Option<Time> {
    if word == "noon" {
        return Time::new(12, 0, 0, 0).ok();
    }
    let (digits, offset) = if let Some(rest) = word.strip_suffix("pm") {
        (rest, 12)
    } else if let Some(rest) = word.strip_suffix("am") {
        (rest, 0)
    } else {
        (word, -1)
    };
    let (hour, minute) = match digits.split_once(':') {
        Some((h, m)) => (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?),
        None => (digits.parse::<i8>().ok()?, 0),
    };
    let hour = match offset {
        -1 => hour,
        _ if !(1..=12).contains(&hour) => return None,
        12 if hour == 12 => 12,
        0 if hour == 12 => 0,
        add => hour + add as i8,
    };
    Time::new(hour, minute, 0, 0).ok()
}

fn parse_day(word: &str, today: Date) -> Option<Date> {
    if let Ok(date) = word.parse::<Date>() {
        return Some(date);
    }
    let weekday = match word {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => return None,
    };
    let ahead =
        (weekday.to_monday_zero_offset() - today.weekday().to_monday_zero_offset()).rem_euclid(7);
    today.checked_add(Span::new().days(i64::from(ahead))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn review_at_3pm_tomorrow_for_30_minutes() {
        let event = parse(
            "Review at 3pm tomorrow for 30 minutes",
            at("2026-12-01T08:00:00Z"),
            "Europe/Berlin",
        )
        .unwrap();
        assert_eq!(event["summary"], "Review");
        assert_eq!(event["start"]["dateTime"], "2026-12-02T15:00:00+01:00");
        assert_eq!(event["end"]["dateTime"], "2026-12-02T15:30:00+01:00");
    }

    #[test]
    fn no_time_is_all_day_and_weekdays_look_ahead() {
        let event = parse("Offsite on friday", at("2026-12-01T08:00:00Z"), "UTC").unwrap();
        assert_eq!(event["start"]["date"], "2026-12-04");
        assert_eq!(event["end"]["date"], "2026-12-05");
    }

    #[test]
    fn bad_text_is_an_error() {
        assert!(parse("at 3pm", at("2026-12-01T08:00:00Z"), "UTC").is_err());
        assert!(parse("Call for 3 parsecs", at("2026-12-01T08:00:00Z"), "UTC").is_err());
    }
}
