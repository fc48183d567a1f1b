//! Google's times: RFC 3339 instants with an offset, all-day dates, and IANA
//! zone names resolved against jiff's bundled tz database (so the native and
//! the wasm build agree, and no host help is needed).

use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, ZonedDateTime};

use crate::event::EventTime;

/// A resolved `start` or `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// A timed instant and the offset to show it in.
    Timed {
        at: Timestamp,
        zone: TimeZone,
        zone_name: Option<String>,
    },
    /// An all-day date (floating: it never shifts).
    AllDay(Date),
}

impl When {
    /// The instant this starts at; all-day dates begin at midnight in `floating`.
    pub fn instant(&self, floating: &TimeZone) -> Timestamp {
        match self {
            When::Timed { at, .. } => *at,
            // Midnight of a date at the edge of the range (9999-12-31) may
            // not be an instant: it saturates, so that order still holds
            // (an end of 2026 is never after a start of 9999).
            When::AllDay(date) => date
                .to_zoned_datetime(floating.clone())
                .map(|z| z.timestamp())
                .unwrap_or(if date.year() > 0 {
                    Timestamp::MAX
                } else {
                    Timestamp::MIN
                }),
        }
    }

    /// RFC 3339 in the event's zone, or `YYYY-MM-DD`.
    pub fn display(&self) -> String {
        match self {
            When::Timed { at, zone, .. } => rfc3339(&at.to_zoned_datetime(zone.clone())),
            When::AllDay(date) => date.to_string(),
        }
    }

    /// Google's instance-id suffix: `20261201T090000Z` or `20261201`.
    pub fn basic_utc(&self) -> String {
        match self {
            When::Timed { at, .. } => at.strftime("%Y%m%dT%H%M%SZ").to_string(),
            When::AllDay(date) => date.strftime("%Y%m%d").to_string(),
        }
    }
}

/// Why one of Google's `start`/`end`/`originalStartTime` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeFieldError {
    /// `invalid-time-zone` or `invalid-field`.
    pub code: &'static str,
    /// The JSON path, e.g. `start.dateTime`.
    pub field: String,
    pub message: String,
}

impl When {
    /// Resolve Google's `start`, `end` or `originalStartTime` (named `field`
    /// in errors): `dateTime` (shown in `timeZone`, else in its own offset)
    /// wins over `date`.
    pub fn resolve(time: &EventTime, field: &str) -> Result<When, TimeFieldError> {
        let fail = |code, suffix: &str, message: String| TimeFieldError {
            code,
            field: format!("{field}{suffix}"),
            message,
        };
        let zone = match time.time_zone.as_deref() {
            Some(name) => {
                Some(self::zone(name).map_err(|e| fail("invalid-time-zone", ".timeZone", e))?)
            }
            None => None,
        };
        match (&time.date, &time.date_time) {
            (_, Some(text)) => {
                let (at, offset) = parse_date_time(text, zone.as_ref())
                    .map_err(|e| fail("invalid-field", ".dateTime", e))?;
                Ok(When::Timed {
                    at,
                    zone: zone.unwrap_or_else(|| TimeZone::fixed(offset)),
                    zone_name: time.time_zone.clone(),
                })
            }
            (Some(text), None) => parse_date(text)
                .map(When::AllDay)
                .map_err(|e| fail("invalid-field", ".date", e)),
            (None, None) => Err(fail(
                "invalid-field",
                "",
                format!("`{field}` has neither `date` nor `dateTime`"),
            )),
        }
    }
}

/// Days since 1970-01-01 of a date.
pub fn day_number(date: Date) -> i32 {
    crate::recurrence::days_from_civil(
        i32::from(date.year()),
        date.month() as u32,
        date.day() as u32,
    )
}

/// The date of a day number (`None` beyond jiff's range).
pub fn date_of_day(day: i32) -> Option<Date> {
    let (year, month, day) = crate::recurrence::civil_from_days(day);
    Date::new(i16::try_from(year).ok()?, month as i8, day as i8).ok()
}

/// `2026-12-01T09:00:00+01:00` (seconds always, fractions only when present).
pub fn rfc3339(zoned: &ZonedDateTime) -> String {
    let offset = zoned.offset().seconds();
    let fast = (offset % 60 == 0)
        .then(|| whole_seconds(zoned.datetime(), zoned.subsec_nanosecond()))
        .flatten();
    let Some(mut out) = fast else {
        return zoned.strftime("%Y-%m-%dT%H:%M:%S%.f%:z").to_string();
    };
    out.push(if offset < 0 { '-' } else { '+' });
    push_two_digits(&mut out, offset.abs() / 3600);
    out.push(':');
    push_two_digits(&mut out, offset.abs() % 3600 / 60);
    out
}

/// `2026-12-01T08:55:00Z`: an instant in UTC, as jiff displays a timestamp.
pub fn utc(at: Timestamp) -> String {
    match whole_seconds(Offset::UTC.to_datetime(at), at.subsec_nanosecond()) {
        Some(mut out) => {
            out.push('Z');
            out
        }
        None => at.to_string(),
    }
}

/// `YYYY-MM-DDTHH:MM:SS` for a whole second in years 0 to 9999; `None`
/// for the rest, which the general formatter writes. Every meeting's start,
/// end and join button goes through here, so it is written directly rather
/// than through a format string.
fn whole_seconds(civil: DateTime, subsec_nanosecond: i32) -> Option<String> {
    let year = i32::from(civil.year());
    if subsec_nanosecond != 0 || !(0..=9999).contains(&year) {
        return None;
    }
    let mut out = String::with_capacity(25);
    push_two_digits(&mut out, year / 100);
    push_two_digits(&mut out, year % 100);
    for (separator, n) in [
        ('-', civil.month()),
        ('-', civil.day()),
        ('T', civil.hour()),
        (':', civil.minute()),
        (':', civil.second()),
    ] {
        out.push(separator);
        push_two_digits(&mut out, i32::from(n));
    }
    Some(out)
}

fn push_two_digits(out: &mut String, n: i32) {
    out.push(char::from(b'0' + (n / 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Look an IANA name up in the bundled database.
pub fn zone(name: &str) -> Result<TimeZone, String> {
    if name == "UTC" || name == "Etc/UTC" || name == "Z" {
        return Ok(TimeZone::UTC);
    }
    jiff::tz::db().get(name).map_err(|_| {
        format!("unknown time zone {name:?} (expected an IANA name such as Europe/Berlin)")
    })
}

/// Parse an RFC 3339 instant (`Z` or a numeric offset required).
pub fn parse_instant(text: &str) -> Result<Timestamp, String> {
    text.parse::<Timestamp>()
        .map_err(|e| format!("{text:?} is not an RFC 3339 date-time with an offset: {e}"))
}

/// Instants an event may have: a day inside the years 0001–9999, so that
/// in any time zone its time is still an RFC 3339 date-time (four-digit
/// years).
fn in_calendar(text: &str, at: Timestamp) -> Result<Timestamp, String> {
    const FIRST: i64 = -62_135_510_400; // 0001-01-02T00:00:00Z
    const LAST: i64 = 253_402_128_000; // 9999-12-30T00:00:00Z
    if (FIRST..=LAST).contains(&at.as_second()) {
        Ok(at)
    } else {
        Err(format!("{text:?} is outside the years 0001–9999"))
    }
}

/// Parse Google's `dateTime`, which carries an offset unless `timeZone` says
/// where the wall-clock time is.
pub fn parse_date_time(
    text: &str,
    time_zone: Option<&TimeZone>,
) -> Result<(Timestamp, Offset), String> {
    if let Ok(at) = text.parse::<Timestamp>() {
        let offset = offset_suffix(text).unwrap_or(Offset::UTC);
        return Ok((in_calendar(text, at)?, offset));
    }
    let civil: DateTime = text
        .parse()
        .map_err(|_| format!("{text:?} is not an RFC 3339 date-time"))?;
    let tz =
        time_zone.ok_or_else(|| format!("{text:?} has no offset and the event has no timeZone"))?;
    let zoned = civil
        .to_zoned_datetime(tz.clone())
        .map_err(|e| format!("{text:?}: {e}"))?;
    Ok((in_calendar(text, zoned.timestamp())?, zoned.offset()))
}

/// The `Z` / `±hh:mm` at the end of an RFC 3339 text.
fn offset_suffix(text: &str) -> Option<Offset> {
    let bytes = text.as_bytes();
    match bytes.last()? {
        b'Z' | b'z' => Some(Offset::UTC),
        _ if text.len() >= 6 => {
            let tail = &text[text.len() - 6..];
            let sign = match tail.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hours: i32 = tail.get(1..3)?.parse().ok()?;
            let minutes: i32 = tail.get(4..6)?.parse().ok()?;
            Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
        }
        _ => None,
    }
}

/// Parse `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<Date, String> {
    text.parse::<Date>()
        .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD)"))
}

#[cfg(test)]
mod tests {
    /// Found by the property test: a start of 9999-12-31 read as 1970 made
    /// an end of 2026 look later, and the event was listed ending first.
    #[test]
    fn dates_beyond_the_last_instant_stay_in_order() {
        let utc = jiff::tz::TimeZone::UTC;
        let last = super::When::AllDay(jiff::civil::date(9999, 12, 31));
        let first = super::When::AllDay(jiff::civil::date(-9999, 1, 1));
        let now = super::When::AllDay(jiff::civil::date(2026, 11, 1));
        assert!(now.instant(&utc) < last.instant(&utc));
        assert!(first.instant(&utc) < now.instant(&utc));
    }

    #[test]
    fn rfc3339_agrees_with_strftime() {
        let zones = [
            "UTC",
            "Europe/Berlin",
            "America/St_Johns",
            "Asia/Kathmandu",
            "Pacific/Chatham",
            "America/Los_Angeles",
        ];
        for name in zones {
            let zone = super::zone(name).unwrap();
            for step in 0..2000i64 {
                let at = jiff::Timestamp::from_second(-2_000_000_000 + step * 4_000_003).unwrap();
                let zoned = at.to_zoned_datetime(zone.clone());
                assert_eq!(
                    rfc3339(&zoned),
                    zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
                    "{name} {at}"
                );
            }
        }
        // Fractions and years outside 0000-9999 take the general path.
        let at = jiff::Timestamp::new(1_800_000_000, 5_000_000).unwrap();
        assert_eq!(
            rfc3339(&at.to_zoned_datetime(jiff::tz::TimeZone::UTC)),
            "2027-01-15T08:00:00.005+00:00"
        );
        assert_eq!(utc(at), at.to_string());
        for step in 0..2000i64 {
            let at = jiff::Timestamp::from_second(-70_000_000_000 + step * 99_000_001).unwrap();
            assert_eq!(utc(at), at.to_string(), "{at}");
        }
    }

    use super::*;

    #[test]
    fn keeps_the_offset_it_was_given() {
        let (at, offset) = parse_date_time("2026-12-01T09:00:00+01:00", None).unwrap();
        assert_eq!(at.to_string(), "2026-12-01T08:00:00Z");
        assert_eq!(offset.seconds(), 3600);
    }

    #[test]
    fn local_time_needs_a_zone() {
        assert!(parse_date_time("2026-12-01T09:00:00", None).is_err());
        let berlin = zone("Europe/Berlin").unwrap();
        let (at, _) = parse_date_time("2026-12-01T09:00:00", Some(&berlin)).unwrap();
        assert_eq!(at.to_string(), "2026-12-01T08:00:00Z");
    }

    #[test]
    fn unknown_zone_is_an_error() {
        assert!(zone("Mars/Olympus_Mons").unwrap_err().contains("IANA"));
    }
}
