//! Recurring series: RFC 5545 `RRULE`, `EXRULE`, `RDATE` and `EXDATE`, with
//! Google's habits.
//!
//! The rule is expanded in the series' wall-clock time (days and seconds of
//! the day, as plain integers), period by period as RFC 5545 §3.3.10 lays
//! out; only the instances that are kept are turned into instants in the
//! series' time zone. A nonexistent local time moves forward by the gap and an
//! ambiguous one takes the first occurrence (§3.3.5, as Google does); all-day
//! series are dates and never shift.
//!
//! Bounds: expansion never walks past the window's end, jumps straight to the
//! window when the rule has no `COUNT`, stops at `max_instances`, and gives up
//! with [`RecurrenceError::TooMuchWork`] on rules that would need millions of
//! steps to get there (`FREQ=SECONDLY` from decades back with a `COUNT`).
//!
//! ```
//! use hcal_core::recurrence::{Rule, Civil};
//! let rule: Rule = "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=3".parse().unwrap();
//! let start = Civil::new(2026, 12, 1, 9 * 3600); // a Tuesday: not a MO or WE
//! let found = rule.expand(start, None, Civil::new(2027, 1, 1, 0), 100).unwrap();
//! let days: Vec<_> = found.iter().map(|c| c.ymd()).collect();
//! // DTSTART is the first instance anyway, and does not count toward COUNT.
//! assert_eq!(days, [(2026, 12, 1), (2026, 12, 2), (2026, 12, 7), (2026, 12, 9)]);
//! ```

use std::str::FromStr;

/// Why a rule cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecurrenceError {
    /// The text is not a rule: names the part and says why.
    Invalid(String),
    /// The rule would need more than this many steps to reach the window.
    TooMuchWork(u64),
}

impl std::fmt::Display for RecurrenceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecurrenceError::Invalid(why) => write!(f, "{why}"),
            RecurrenceError::TooMuchWork(steps) => {
                write!(
                    f,
                    "the rule needs more than {steps} steps to reach the window; it is refused"
                )
            }
        }
    }
}

fn invalid(why: impl Into<String>) -> RecurrenceError {
    RecurrenceError::Invalid(why.into())
}

// ---- civil time as integers ------------------------------------------------------

/// `value` held to `i32`'s range: periods past the end of time are all the
/// end of time (and beyond any window).
fn clamp_i32(value: i64) -> i32 {
    value.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's
/// algorithm), worked in 64 bits and held to `i32`'s range: a year far out
/// of any calendar (a rule stepped to the end of time) is the end of time,
/// not an overflow.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month.min(12));
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day.min(31)) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    clamp_i32(era * 146_097 + doe - 719_468)
}

/// The date of a day number.
pub fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    // Every i32 day falls in a year that fits an i32.
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Monday = 0 ... Sunday = 6.
fn weekday(days: i32) -> u32 {
    (i64::from(days) + 3).rem_euclid(7) as u32
}

/// A wall-clock date and time: a day number and the second of that day.
/// Ordered by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Civil {
    pub day: i32,
    pub second: u32,
}

impl Civil {
    pub fn new(year: i32, month: u32, day: u32, second: u32) -> Civil {
        Civil {
            day: days_from_civil(year, month, day),
            second,
        }
    }

    pub fn ymd(&self) -> (i32, u32, u32) {
        civil_from_days(self.day)
    }

    pub fn hms(&self) -> (u32, u32, u32) {
        (self.second / 3600, self.second / 60 % 60, self.second % 60)
    }

    /// Seconds since 1970-01-01T00:00:00 in this wall clock.
    pub fn seconds(&self) -> i64 {
        i64::from(self.day) * 86_400 + i64::from(self.second)
    }

    pub fn from_seconds(seconds: i64) -> Civil {
        Civil {
            day: clamp_i32(seconds.div_euclid(86_400)),
            second: seconds.rem_euclid(86_400) as u32,
        }
    }

    /// `YYYYMMDDTHHMMSS` (RFC 5545's form, no zone).
    pub fn basic(&self) -> String {
        let (y, m, d) = self.ymd();
        let (h, mi, s) = self.hms();
        format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}{s:02}")
    }

    /// Parse `YYYYMMDD` or `YYYYMMDDTHHMMSS` (a trailing `Z` is the caller's business).
    pub fn parse_basic(text: &str) -> Option<Civil> {
        // Only ASCII can be digits, and the fields below are sliced by byte.
        if !text.is_ascii() {
            return None;
        }
        let digits = |s: &str| -> Option<u32> {
            if s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            }
        };
        let date = text.get(0..8)?;
        let (year, month, day) = (
            digits(&date[0..4])? as i32,
            digits(&date[4..6])?,
            digits(&date[6..8])?,
        );
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let second = match text.len() {
            8 => 0,
            15 if text.as_bytes()[8] == b'T' => {
                let (h, mi, s) = (
                    digits(&text[9..11])?,
                    digits(&text[11..13])?,
                    digits(&text[13..15])?,
                );
                if h > 23 || mi > 59 || s > 60 {
                    return None;
                }
                h * 3600 + mi * 60 + s.min(59)
            }
            _ => return None,
        };
        Some(Civil::new(year, month, day, second))
    }
}

// ---- the rule ---------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Frequency {
    Secondly,
    Minutely,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// `UNTIL`, in the form it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// `...Z`: an instant (seconds since the epoch, UTC).
    Utc(i64),
    /// A local date-time (the form some clients write).
    Local(Civil),
    /// A date: instances on that day are included.
    Date(i32),
}

/// A parsed `RRULE` (or `EXRULE`) value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub frequency: Frequency,
    pub interval: u32,
    pub count: Option<u32>,
    pub until: Option<Until>,
    pub by_second: Vec<u32>,
    pub by_minute: Vec<u32>,
    pub by_hour: Vec<u32>,
    /// `(ordinal, weekday)`; ordinal 0 means every such weekday.
    pub by_day: Vec<(i32, u32)>,
    pub by_month_day: Vec<i32>,
    pub by_year_day: Vec<i32>,
    pub by_week_no: Vec<i32>,
    pub by_month: Vec<u32>,
    pub by_set_pos: Vec<i32>,
    /// Monday = 0.
    pub week_start: u32,
}

/// Most values one `BYxxx` part may list.
const MAX_LIST: usize = 400;

fn parse_weekday(text: &str) -> Option<u32> {
    Some(match text {
        "MO" => 0,
        "TU" => 1,
        "WE" => 2,
        "TH" => 3,
        "FR" => 4,
        "SA" => 5,
        "SU" => 6,
        _ => return None,
    })
}

fn parse_list(
    name: &str,
    value: &str,
    range: std::ops::RangeInclusive<i32>,
    signed: bool,
) -> Result<Vec<i32>, RecurrenceError> {
    let mut out = Vec::new();
    for item in value.split(',') {
        let n: i32 = item
            .trim()
            .parse()
            .map_err(|_| invalid(format!("{name}: {item:?} is not a number")))?;
        // `checked_abs`: -2147483648 has no magnitude in i32.
        let magnitude_ok =
            n.checked_abs().is_some_and(|m| range.contains(&m)) && (signed || n >= 0);
        if !magnitude_ok || n == 0 && !range.contains(&0) {
            return Err(invalid(format!("{name}: {n} is out of range")));
        }
        out.push(n);
        if out.len() > MAX_LIST {
            return Err(invalid(format!("{name}: more than {MAX_LIST} values")));
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

impl FromStr for Rule {
    type Err = RecurrenceError;

    /// Parse an RRULE value (`FREQ=...;...`), with or without the `RRULE:` name.
    fn from_str(text: &str) -> Result<Rule, RecurrenceError> {
        let text = text.trim();
        let text = text
            .strip_prefix("RRULE:")
            .or_else(|| text.strip_prefix("EXRULE:"))
            .unwrap_or(text);
        let mut rule = Rule {
            frequency: Frequency::Daily,
            interval: 1,
            count: None,
            until: None,
            by_second: vec![],
            by_minute: vec![],
            by_hour: vec![],
            by_day: vec![],
            by_month_day: vec![],
            by_year_day: vec![],
            by_week_no: vec![],
            by_month: vec![],
            by_set_pos: vec![],
            week_start: 0,
        };
        let mut frequency = None;
        for part in text.split(';').filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| invalid(format!("{part:?} is not NAME=VALUE")))?;
            let name = name.to_ascii_uppercase();
            let value = value.to_ascii_uppercase();
            let unsigned = |v: Vec<i32>| v.into_iter().map(|n| n as u32).collect::<Vec<u32>>();
            match name.as_str() {
                "FREQ" => {
                    frequency = Some(match value.as_str() {
                        "SECONDLY" => Frequency::Secondly,
                        "MINUTELY" => Frequency::Minutely,
                        "HOURLY" => Frequency::Hourly,
                        "DAILY" => Frequency::Daily,
                        "WEEKLY" => Frequency::Weekly,
                        "MONTHLY" => Frequency::Monthly,
                        "YEARLY" => Frequency::Yearly,
                        other => return Err(invalid(format!("FREQ: unknown frequency {other:?}"))),
                    })
                }
                "INTERVAL" => {
                    rule.interval = value
                        .parse()
                        .map_err(|_| invalid(format!("INTERVAL: {value:?} is not a number")))?;
                    if rule.interval == 0 {
                        return Err(invalid("INTERVAL: must be at least 1"));
                    }
                }
                "COUNT" => {
                    rule.count = Some(
                        value
                            .parse()
                            .map_err(|_| invalid(format!("COUNT: {value:?} is not a number")))?,
                    )
                }
                "UNTIL" => {
                    let utc = value.ends_with('Z');
                    let civil =
                        Civil::parse_basic(value.trim_end_matches('Z')).ok_or_else(|| {
                            invalid(format!("UNTIL: {value:?} is not a date or date-time"))
                        })?;
                    rule.until = Some(if value.len() == 8 {
                        Until::Date(civil.day)
                    } else if utc {
                        Until::Utc(civil.seconds())
                    } else {
                        Until::Local(civil)
                    });
                }
                "BYSECOND" => rule.by_second = unsigned(parse_list(&name, &value, 0..=60, false)?),
                "BYMINUTE" => rule.by_minute = unsigned(parse_list(&name, &value, 0..=59, false)?),
                "BYHOUR" => rule.by_hour = unsigned(parse_list(&name, &value, 0..=23, false)?),
                "BYMONTHDAY" => rule.by_month_day = parse_list(&name, &value, 1..=31, true)?,
                "BYYEARDAY" => rule.by_year_day = parse_list(&name, &value, 1..=366, true)?,
                "BYWEEKNO" => rule.by_week_no = parse_list(&name, &value, 1..=53, true)?,
                "BYMONTH" => rule.by_month = unsigned(parse_list(&name, &value, 1..=12, false)?),
                "BYSETPOS" => rule.by_set_pos = parse_list(&name, &value, 1..=366, true)?,
                "WKST" => {
                    rule.week_start = parse_weekday(&value)
                        .ok_or_else(|| invalid(format!("WKST: {value:?} is not a weekday")))?
                }
                "BYDAY" => {
                    for item in value.split(',') {
                        let item = item.trim();
                        let split = item
                            .len()
                            .checked_sub(2)
                            .ok_or_else(|| invalid(format!("BYDAY: {item:?} is not a weekday")))?;
                        // The weekday is the last two bytes, and they must be
                        // whole characters (`TU` after an ordinal, never `ܫH`).
                        let day = item
                            .get(split..)
                            .and_then(parse_weekday)
                            .ok_or_else(|| invalid(format!("BYDAY: {item:?} is not a weekday")))?;
                        let ordinal: i32 = match &item[..split] {
                            "" | "+" => 0,
                            n => n.parse().map_err(|_| {
                                invalid(format!("BYDAY: {item:?} has a bad ordinal"))
                            })?,
                        };
                        if !(-53..=53).contains(&ordinal)
                            || (ordinal == 0 && !item[..split].is_empty() && item[..split] != *"+")
                        {
                            return Err(invalid(format!(
                                "BYDAY: ordinal {ordinal} is out of range"
                            )));
                        }
                        rule.by_day.push((ordinal, day));
                        if rule.by_day.len() > MAX_LIST {
                            return Err(invalid(format!("BYDAY: more than {MAX_LIST} values")));
                        }
                    }
                    rule.by_day.sort_unstable();
                    rule.by_day.dedup();
                }
                // Extensions we do not act on (RFC 7529 RSCALE/SKIP, X- names) are ignored.
                _ => {}
            }
        }
        rule.frequency = frequency.ok_or_else(|| invalid("FREQ is missing"))?;
        if rule.count.is_some() && rule.until.is_some() {
            return Err(invalid("COUNT and UNTIL cannot both be given"));
        }
        Ok(rule)
    }
}

/// Everything the `BYxxx` parts ask of a day, kept up to date while walking
/// a period's days instead of recomputed from the day number for each.
#[derive(Debug, Clone, Copy)]
struct DayInfo {
    day: i32,
    year: i32,
    month: u32,
    month_day: u32,
    month_length: u32,
    /// 1-based.
    year_day: i32,
    year_length: i32,
    /// Monday = 0.
    weekday: u32,
}

impl DayInfo {
    fn of(day: i32) -> DayInfo {
        let (year, month, month_day) = civil_from_days(day);
        DayInfo {
            day,
            year,
            month,
            month_day,
            month_length: days_in_month(year, month),
            year_day: day - days_from_civil(year, 1, 1) + 1,
            year_length: if is_leap(year) { 366 } else { 365 },
            weekday: weekday(day),
        }
    }

    fn next(&self) -> DayInfo {
        let mut next = *self;
        next.day += 1;
        next.weekday = (self.weekday + 1) % 7;
        next.month_day += 1;
        next.year_day += 1;
        if next.month_day > self.month_length {
            next.month_day = 1;
            next.month += 1;
            if next.month > 12 {
                next.month = 1;
                next.year += 1;
                next.year_day = 1;
                next.year_length = if is_leap(next.year) { 366 } else { 365 };
            }
            next.month_length = days_in_month(next.year, next.month);
        }
        next
    }
}

/// What one period of the rule looks at.
struct Period {
    /// First and one-past-last day of the period's days.
    days: std::ops::Range<i32>,
    /// For HOURLY and finer: the fixed hour, minute and second of the period.
    hour: Option<u32>,
    minute: Option<u32>,
    second: Option<u32>,
}

impl Period {
    /// A period of whole days (DAILY and coarser).
    fn days(days: std::ops::Range<i32>) -> Period {
        Period {
            days,
            hour: None,
            minute: None,
            second: None,
        }
    }
}

/// The first day of week 1 of `year` for weeks starting on `week_start`: the
/// week that holds at least four days of the year.
fn week_one_start(year: i32, week_start: u32) -> i32 {
    let jan4 = days_from_civil(year, 1, 4);
    jan4.saturating_sub(((weekday(jan4) + 7 - week_start) % 7) as i32)
}

/// Most periods one expansion may step through.
const MAX_STEPS: u64 = 1_000_000;

impl Rule {
    /// The rule for an all-day series: its time-of-day parts do not apply.
    pub fn for_dates(&self) -> Rule {
        let mut rule = self.clone();
        rule.by_hour.clear();
        rule.by_minute.clear();
        rule.by_second.clear();
        if rule.frequency < Frequency::Daily {
            rule.frequency = Frequency::Daily;
        }
        rule
    }

    /// The rule with RFC 5545's defaults filled in from `start`.
    fn with_defaults(&self, start: Civil) -> Rule {
        let mut rule = self.clone();
        let (_, month, day) = start.ymd();
        let has_day_rules = !rule.by_week_no.is_empty()
            || !rule.by_year_day.is_empty()
            || !rule.by_month_day.is_empty()
            || !rule.by_day.is_empty();
        match rule.frequency {
            Frequency::Yearly if !has_day_rules => {
                if rule.by_month.is_empty() {
                    rule.by_month = vec![month];
                }
                rule.by_month_day = vec![day as i32];
            }
            // Days of the month, but no month: the month is DTSTART's (what the
            // rule does not say comes from DTSTART, RFC 5545 §3.3.10).
            Frequency::Yearly
                if !rule.by_month_day.is_empty()
                    && rule.by_month.is_empty()
                    && rule.by_week_no.is_empty()
                    && rule.by_year_day.is_empty() =>
            {
                rule.by_month = vec![month];
            }
            Frequency::Yearly
                if !rule.by_week_no.is_empty()
                    && rule.by_day.is_empty()
                    && rule.by_month_day.is_empty()
                    && rule.by_year_day.is_empty() =>
            {
                rule.by_day = vec![(0, weekday(start.day))];
            }
            Frequency::Monthly
                if rule.by_month_day.is_empty()
                    && rule.by_day.is_empty()
                    && rule.by_year_day.is_empty() =>
            {
                rule.by_month_day = vec![day as i32];
            }
            Frequency::Weekly if rule.by_day.is_empty() => {
                rule.by_day = vec![(0, weekday(start.day))]
            }
            _ => {}
        }
        let (hour, minute, second) = start.hms();
        if rule.by_hour.is_empty() && rule.frequency > Frequency::Hourly {
            rule.by_hour = vec![hour];
        }
        if rule.by_minute.is_empty() && rule.frequency > Frequency::Minutely {
            rule.by_minute = vec![minute];
        }
        if rule.by_second.is_empty() && rule.frequency > Frequency::Secondly {
            rule.by_second = vec![second];
        }
        rule
    }

    /// The period that holds `at`, as an index counted in frequency units
    /// from the epoch (years, months, weeks, days, hours, minutes, seconds).
    fn unit_of(&self, at: Civil) -> i64 {
        let (year, month, _) = at.ymd();
        match self.frequency {
            // With week numbers, a date belongs to its week-numbering year.
            Frequency::Yearly if !self.by_week_no.is_empty() => i64::from(self.week_year(at.day)),
            Frequency::Yearly => i64::from(year),
            Frequency::Monthly => i64::from(year) * 12 + i64::from(month) - 1,
            Frequency::Weekly => i64::from(at.day - self.week_reference()).div_euclid(7),
            Frequency::Daily => i64::from(at.day),
            Frequency::Hourly => at.seconds().div_euclid(3600),
            Frequency::Minutely => at.seconds().div_euclid(60),
            Frequency::Secondly => at.seconds(),
        }
    }

    fn period(&self, unit: i64) -> Period {
        let fixed = |seconds: i64| {
            let c = Civil::from_seconds(seconds);
            let (h, m, s) = c.hms();
            (c.day, h, m, s)
        };
        match self.frequency {
            Frequency::Yearly => {
                let year = clamp_i32(unit);
                let days = if self.by_week_no.is_empty() {
                    days_from_civil(year, 1, 1)..days_from_civil(year.saturating_add(1), 1, 1)
                } else {
                    week_one_start(year, self.week_start)
                        ..week_one_start(year.saturating_add(1), self.week_start)
                };
                Period::days(days)
            }
            Frequency::Monthly => {
                let (year, month) = (
                    clamp_i32(unit.div_euclid(12)),
                    (unit.rem_euclid(12) + 1) as u32,
                );
                let first = days_from_civil(year, month, 1);
                Period::days(first..first.saturating_add(days_in_month(year, month) as i32))
            }
            Frequency::Weekly => {
                let first = clamp_i32(unit.saturating_mul(7) + i64::from(self.week_reference()));
                Period::days(first..first.saturating_add(7))
            }
            Frequency::Daily => Period::days(clamp_i32(unit)..clamp_i32(unit).saturating_add(1)),
            Frequency::Hourly => {
                let (day, h, _, _) = fixed(unit.saturating_mul(3600));
                Period {
                    days: day..day.saturating_add(1),
                    hour: Some(h),
                    minute: None,
                    second: None,
                }
            }
            Frequency::Minutely => {
                let (day, h, m, _) = fixed(unit.saturating_mul(60));
                Period {
                    days: day..day.saturating_add(1),
                    hour: Some(h),
                    minute: Some(m),
                    second: None,
                }
            }
            Frequency::Secondly => {
                let (day, h, m, s) = fixed(unit);
                Period {
                    days: day..day.saturating_add(1),
                    hour: Some(h),
                    minute: Some(m),
                    second: Some(s),
                }
            }
        }
    }

    /// A day number that starts a week (a `WKST` day): weeks are counted from it.
    fn week_reference(&self) -> i32 {
        // Day 0, 1970-01-01, is a Thursday; day -3 a Monday.
        -3 + self.week_start as i32
    }

    /// The week-numbering year `day` belongs to.
    fn week_year(&self, day: i32) -> i32 {
        let (year, _, _) = civil_from_days(day);
        if day < week_one_start(year, self.week_start) {
            year.saturating_sub(1)
        } else if day >= week_one_start(year.saturating_add(1), self.week_start) {
            year.saturating_add(1)
        } else {
            year
        }
    }

    /// Does the day pass the day-level `BYxxx` parts?
    fn day_matches(&self, d: &DayInfo) -> bool {
        if !self.by_month.is_empty() && !self.by_month.contains(&d.month) {
            return false;
        }
        if !self.by_month_day.is_empty() {
            let (n, from_end) = (
                d.month_day as i32,
                d.month_day as i32 - d.month_length as i32 - 1,
            );
            if !self.by_month_day.iter().any(|&m| m == n || m == from_end) {
                return false;
            }
        }
        if !self.by_year_day.is_empty()
            && !matches!(self.frequency, Frequency::Monthly | Frequency::Weekly)
        {
            let from_end = d.year_day - d.year_length - 1;
            if !self
                .by_year_day
                .iter()
                .any(|&y| y == d.year_day || y == from_end)
            {
                return false;
            }
        }
        if !self.by_week_no.is_empty() && self.frequency == Frequency::Yearly {
            // The week-numbering year of the day, and its week number there.
            let week_year = self.week_year(d.day);
            let first = week_one_start(week_year, self.week_start);
            let next = week_one_start(week_year.saturating_add(1), self.week_start);
            let weeks = next.saturating_sub(first) / 7;
            let n = d.day.saturating_sub(first) / 7 + 1;
            if !self
                .by_week_no
                .iter()
                .any(|&w| w == n || w == n - weeks - 1)
            {
                return false;
            }
        }
        if !self.by_day.is_empty() {
            let ordinals_apply = matches!(self.frequency, Frequency::Monthly | Frequency::Yearly);
            // Ordinals count within the month (MONTHLY, or YEARLY with BYMONTH), else the year.
            let in_month = self.frequency == Frequency::Monthly || !self.by_month.is_empty();
            let (position, length) = if in_month {
                (d.month_day as i32, d.month_length as i32)
            } else {
                (d.year_day, d.year_length)
            };
            let nth = (position - 1) / 7 + 1;
            let nth_from_end = (length - position) / 7 + 1;
            let ok = self.by_day.iter().any(|&(ordinal, wd)| {
                wd == d.weekday
                    && (ordinal == 0
                        || !ordinals_apply
                        || ordinal == nth
                        || ordinal == -nth_from_end)
            });
            if !ok {
                return false;
            }
        }
        true
    }

    /// The instances of one period, in order, before `BYSETPOS`.
    fn candidates(&self, period: &Period, out: &mut Vec<Civil>) {
        out.clear();
        // A period of HOURLY or finer fixes its hour (minute, second): that
        // one value if the rule allows it, else nothing; otherwise the list.
        fn choose<'a>(
            fixed: Option<u32>,
            list: &'a [u32],
            one: &'a mut [u32; 1],
        ) -> Option<&'a [u32]> {
            match fixed {
                Some(v) if list.is_empty() || list.contains(&v) => {
                    one[0] = v;
                    Some(&one[..])
                }
                Some(_) => None,
                None => Some(list),
            }
        }
        let (mut h1, mut m1, mut s1) = ([0], [0], [0]);
        let (Some(hours), Some(minutes), Some(seconds)) = (
            choose(period.hour, &self.by_hour, &mut h1),
            choose(period.minute, &self.by_minute, &mut m1),
            choose(period.second, &self.by_second, &mut s1),
        ) else {
            return;
        };
        let mut info = DayInfo::of(period.days.start);
        for day in period.days.clone() {
            if day > period.days.start {
                info = info.next();
            }
            if !self.day_matches(&info) {
                continue;
            }
            for &h in hours {
                for &m in minutes {
                    for &s in seconds {
                        out.push(Civil {
                            day,
                            second: h * 3600 + m * 60 + s.min(59),
                        });
                    }
                }
            }
        }
    }

    fn apply_set_pos(&self, candidates: &mut Vec<Civil>) {
        if self.by_set_pos.is_empty() || candidates.is_empty() {
            return;
        }
        let n = candidates.len() as i32;
        let index = |p: i32| -> Option<usize> {
            let index = if p > 0 { p - 1 } else { n + p };
            (0..n).contains(&index).then_some(index as usize)
        };
        // One position (the usual "last work day"): pick it in place.
        if let [position] = self.by_set_pos[..] {
            match index(position) {
                Some(i) => {
                    candidates.swap(0, i);
                    candidates.truncate(1);
                }
                None => candidates.clear(),
            }
            return;
        }
        let mut kept: Vec<Civil> = self
            .by_set_pos
            .iter()
            .filter_map(|&p| index(p).map(|i| candidates[i]))
            .collect();
        kept.sort_unstable();
        kept.dedup();
        *candidates = kept;
    }

    /// Is `at` past `UNTIL`? `to_utc` turns a wall-clock time into an instant.
    fn past_until(&self, at: Civil, to_utc: &dyn Fn(Civil) -> i64) -> bool {
        match self.until {
            None => false,
            Some(Until::Utc(until)) => to_utc(at) > until,
            Some(Until::Local(until)) => at > until,
            Some(Until::Date(day)) => at.day > day,
        }
    }

    /// The wall-clock starts of the series from `start` up to `horizon`
    /// (exclusive), at most `max`. `skip_to` lets a rule without `COUNT`
    /// begin at the window instead of at `start`. `start` itself is always
    /// the first instance, even when the rule does not match it (as Google
    /// and RFC 5545 have it); it does not count toward `COUNT` then.
    pub fn expand(
        &self,
        start: Civil,
        skip_to: Option<Civil>,
        horizon: Civil,
        max: usize,
    ) -> Result<Vec<Civil>, RecurrenceError> {
        self.expand_with(start, skip_to, horizon, max, &|c: Civil| c.seconds())
    }

    /// [`Rule::expand`] with `UNTIL=...Z` compared through `to_utc`.
    pub fn expand_with(
        &self,
        start: Civil,
        skip_to: Option<Civil>,
        horizon: Civil,
        max: usize,
        to_utc: &dyn Fn(Civil) -> i64,
    ) -> Result<Vec<Civil>, RecurrenceError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let rule = self.with_defaults(start);
        let mut found = Vec::new();
        let mut buffer = Vec::new();
        let first_unit = rule.unit_of(start);
        let interval = i64::from(rule.interval);
        let mut unit = first_unit;
        if let (None, Some(skip)) = (rule.count, skip_to) {
            let target = rule.unit_of(skip) - 1;
            if target > unit {
                unit += (target - unit) / interval * interval;
            }
        }
        let mut start_matched = false;
        let mut counted = 0u32;
        let mut steps = 0u64;
        let mut emitted_start = false;
        let emit = |at: Civil, found: &mut Vec<Civil>| {
            if skip_to.is_none_or(|s| at >= s) || at == start {
                found.push(at);
            }
        };
        loop {
            let period = rule.period(unit);
            if period.days.start > horizon.day {
                break;
            }
            rule.candidates(&period, &mut buffer);
            rule.apply_set_pos(&mut buffer);
            for &at in &buffer {
                if at < start {
                    continue;
                }
                if !emitted_start && at > start && !start_matched {
                    // DTSTART did not match the rule: it is an instance anyway.
                    emitted_start = true;
                    if start < horizon {
                        emit(start, &mut found);
                        if found.len() >= max {
                            return Ok(found);
                        }
                    }
                }
                if at == start {
                    start_matched = true;
                }
                // An UNTIL before DTSTART still leaves DTSTART (`finish`).
                if rule.past_until(at, to_utc)
                    || at >= horizon
                    || rule.count.is_some_and(|c| counted >= c)
                {
                    return Ok(finish(found, start, emitted_start, horizon));
                }
                counted += 1;
                emit(at, &mut found);
                emitted_start |= at == start;
                if found.len() >= max {
                    return Ok(found);
                }
            }
            steps += 1;
            if steps > MAX_STEPS {
                // The horizon is out of reach: stopping here would silently
                // drop instances, so say so instead.
                return Err(RecurrenceError::TooMuchWork(MAX_STEPS));
            }
            unit = unit.saturating_add(interval);
        }
        Ok(finish(found, start, emitted_start, horizon))
    }
}

/// The start is an instance even when nothing of the rule followed it.
fn finish(mut found: Vec<Civil>, start: Civil, emitted_start: bool, horizon: Civil) -> Vec<Civil> {
    if !emitted_start && start < horizon && !found.contains(&start) {
        found.insert(0, start);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip() {
        for day in [-800_000, -1, 0, 1, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(weekday(0), 3); // a Thursday
    }

    #[test]
    fn hostile_rules_are_refused_or_bounded() {
        assert!("FREQ=DAILY;INTERVAL=0".parse::<Rule>().is_err());
        assert!("FREQ=FORTNIGHTLY".parse::<Rule>().is_err());
        assert!("FREQ=MONTHLY;BYMONTHDAY=32".parse::<Rule>().is_err());
        assert!("FREQ=YEARLY;BYSETPOS=0".parse::<Rule>().is_err());
        let never: Rule = "FREQ=YEARLY;BYMONTHDAY=31;BYMONTH=2".parse().unwrap();
        let start = Civil::new(2026, 1, 31, 0);
        let found = never
            .expand(start, None, Civil::new(2100, 1, 1, 0), 10)
            .unwrap();
        assert_eq!(found, [start], "only DTSTART; no 31st of February ever");
        let secondly: Rule = "FREQ=SECONDLY".parse().unwrap();
        let found = secondly
            .expand(start, None, Civil::new(2100, 1, 1, 0), 1000)
            .unwrap();
        assert_eq!(found.len(), 1000);
        let far: Rule = "FREQ=SECONDLY;COUNT=2000000000".parse().unwrap();
        let result = far.expand(
            Civil::new(1900, 1, 1, 0),
            Some(Civil::new(2026, 1, 1, 0)),
            Civil::new(2026, 2, 1, 0),
            10,
        );
        assert_eq!(result, Err(RecurrenceError::TooMuchWork(MAX_STEPS)));
    }
}

// ---- a whole series: RRULE, EXRULE, RDATE, EXDATE in a time zone -----------------

/// A date or time in an `RDATE` or `EXDATE` line.
#[derive(Debug, Clone, PartialEq)]
pub enum Moment {
    /// `...Z`: an instant (Unix seconds).
    Utc(i64),
    /// A wall-clock time, in the line's `TZID` (or the series' zone when absent).
    Local(Civil, Option<jiff::tz::TimeZone>),
    /// `VALUE=DATE`: a whole day.
    Date(i32),
}

/// The `recurrence` lines of a Google series master, parsed.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub rules: Vec<Rule>,
    pub exrules: Vec<Rule>,
    pub rdates: Vec<Moment>,
    pub exdates: Vec<Moment>,
}

/// Most dates one `RDATE` or `EXDATE` line may list.
const MAX_DATES: usize = 5000;

impl Series {
    /// Parse Google's `recurrence` lines: `RRULE:`, `EXRULE:`, and `RDATE`/
    /// `EXDATE` with `TZID=`, `VALUE=DATE` or `VALUE=PERIOD`, comma lists, any
    /// number of lines.
    ///
    /// ```
    /// use hcal_core::recurrence::Series;
    /// let s = Series::parse(&["RRULE:FREQ=DAILY".into(), "EXDATE;TZID=Europe/Berlin:20261202T090000,20261203T090000".into()]).unwrap();
    /// assert_eq!((s.rules.len(), s.exdates.len()), (1, 2));
    /// ```
    pub fn parse(lines: &[String]) -> Result<Series, RecurrenceError> {
        let mut series = Series::default();
        for line in lines {
            let line = line.trim();
            let (head, value) = line
                .split_once(':')
                .ok_or_else(|| invalid(format!("{line:?} has no ':'")))?;
            let mut parts = head.split(';');
            let name = parts.next().unwrap_or("").to_ascii_uppercase();
            let mut zone = None;
            let mut date_only = false;
            for param in parts {
                let (key, val) = param
                    .split_once('=')
                    .ok_or_else(|| invalid(format!("{name}: bad parameter {param:?}")))?;
                match key.to_ascii_uppercase().as_str() {
                    "TZID" => {
                        let tz = crate::time::zone(val.trim_matches('"'))
                            .map_err(|e| invalid(format!("{name}: {e}")))?;
                        zone = Some(tz);
                    }
                    "VALUE" => date_only = val.eq_ignore_ascii_case("DATE"),
                    _ => {}
                }
            }
            match name.as_str() {
                "RRULE" => series.rules.push(value.parse()?),
                "EXRULE" => series.exrules.push(value.parse()?),
                "RDATE" | "EXDATE" => {
                    let target = if name == "RDATE" {
                        &mut series.rdates
                    } else {
                        &mut series.exdates
                    };
                    for item in value.split(',').filter(|s| !s.trim().is_empty()) {
                        // A PERIOD's start is the instance.
                        let item = item.trim().split('/').next().unwrap_or("");
                        let utc = item.ends_with(['Z', 'z']);
                        let civil = Civil::parse_basic(item.trim_end_matches(['Z', 'z']))
                            .ok_or_else(|| {
                                invalid(format!("{name}: {item:?} is not a date or date-time"))
                            })?;
                        target.push(if date_only || item.len() == 8 {
                            Moment::Date(civil.day)
                        } else if utc {
                            Moment::Utc(civil.seconds())
                        } else {
                            Moment::Local(civil, zone.clone())
                        });
                        if target.len() > MAX_DATES {
                            return Err(invalid(format!("{name}: more than {MAX_DATES} dates")));
                        }
                    }
                }
                // Google writes only these; anything else is not a recurrence line.
                other => {
                    return Err(invalid(format!(
                        "{other:?} is not RRULE, EXRULE, RDATE or EXDATE"
                    )));
                }
            }
        }
        if series.rules.is_empty() && series.rdates.is_empty() {
            return Err(invalid("the series has neither an RRULE nor an RDATE"));
        }
        Ok(series)
    }
}

/// Where and how a series starts.
#[derive(Debug, Clone)]
pub enum SeriesStart {
    /// A timed series: DTSTART's wall-clock time in its zone.
    Timed {
        local: Civil,
        zone: jiff::tz::TimeZone,
    },
    /// An all-day series: DTSTART's date; `floating` places dates in time.
    AllDay {
        day: i32,
        floating: jiff::tz::TimeZone,
    },
}

impl SeriesStart {
    /// Where a series whose DTSTART resolved to `start` begins; all-day
    /// dates are placed in time by `floating`.
    pub fn of(start: &crate::time::When, floating: &jiff::tz::TimeZone) -> SeriesStart {
        match start {
            crate::time::When::Timed { at, zone, .. } => SeriesStart::Timed {
                local: to_local(at.as_second(), zone),
                zone: zone.clone(),
            },
            crate::time::When::AllDay(date) => SeriesStart::AllDay {
                day: crate::time::day_number(*date),
                floating: floating.clone(),
            },
        }
    }
}

/// One instance: when it starts (Unix seconds) and its wall-clock start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instance {
    pub start: i64,
    pub local: Civil,
}

/// The instances of a series, and whether the cap cut them short.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansion {
    pub instances: Vec<Instance>,
    pub capped: bool,
}

/// The instant of a wall-clock time in `zone`: a time in a gap moves forward by
/// the gap, an ambiguous one takes the earlier offset (RFC 5545 §3.3.5).
pub fn to_instant(local: Civil, zone: &jiff::tz::TimeZone) -> i64 {
    if zone.is_unknown() || *zone == jiff::tz::TimeZone::UTC {
        return local.seconds();
    }
    let (y, m, d) = local.ymd();
    let (h, mi, s) = local.hms();
    let civil =
        jiff::civil::DateTime::new(y as i16, m as i8, d as i8, h as i8, mi as i8, s as i8, 0);
    match civil.and_then(|c| zone.to_ambiguous_timestamp(c).compatible()) {
        Ok(at) => at.as_second(),
        // Out of jiff's range (years beyond ±9999): as if UTC.
        Err(_) => local.seconds(),
    }
}

/// Turns wall-clock times of one zone into instants, fast when they come in
/// order: between two transitions the offset is constant, so only times
/// within a day of a transition (gaps, folds) take the exact, slower path.
pub struct ZoneClock<'z> {
    zone: &'z jiff::tz::TimeZone,
    offset: i64,
    /// UTC seconds where `offset` holds, a day clear of any transition.
    safe: std::ops::Range<i64>,
}

impl<'z> ZoneClock<'z> {
    pub fn new(zone: &'z jiff::tz::TimeZone) -> ZoneClock<'z> {
        ZoneClock {
            zone,
            offset: 0,
            safe: 0..0,
        }
    }

    pub fn instant(&mut self, local: Civil) -> i64 {
        let guess = local.seconds() - self.offset;
        if self.safe.contains(&guess) {
            return guess;
        }
        let at = to_instant(local, self.zone);
        if let Ok(ts) = jiff::Timestamp::from_second(at) {
            self.offset = i64::from(self.zone.to_offset(ts).seconds());
            let before = self
                .zone
                .preceding(ts)
                .next()
                .map(|t| t.timestamp().as_second())
                .unwrap_or(i64::MIN / 4);
            let after = self
                .zone
                .following(ts)
                .next()
                .map(|t| t.timestamp().as_second())
                .unwrap_or(i64::MAX / 4);
            self.safe = before + 86_400..after - 86_400;
        }
        at
    }
}

/// The wall-clock time of an instant in `zone`.
pub fn to_local(instant: i64, zone: &jiff::tz::TimeZone) -> Civil {
    let offset = jiff::Timestamp::from_second(instant)
        .map(|t| zone.to_offset(t).seconds())
        .unwrap_or(0);
    Civil::from_seconds(instant + i64::from(offset))
}

/// Expand `series` from `start` into the instances that overlap
/// `[from, to)` (Unix seconds), each lasting `duration` seconds; at most
/// `max` of them.
pub fn expand_series(
    series: &Series,
    start: &SeriesStart,
    duration: i64,
    from: i64,
    to: i64,
    max: usize,
) -> Result<Expansion, RecurrenceError> {
    let (local_start, zone, all_day) = match start {
        SeriesStart::Timed { local, zone } => (*local, zone, false),
        SeriesStart::AllDay { day, floating } => (
            Civil {
                day: *day,
                second: 0,
            },
            floating,
            true,
        ),
    };
    let clock = std::cell::RefCell::new(ZoneClock::new(zone));
    let instant = |c: Civil| clock.borrow_mut().instant(c);
    // Wall-clock bounds with two days to spare for any zone offset; exact
    // filtering happens on instants below.
    let skip_to = Civil::from_seconds(from - duration.max(0) - 2 * 86_400);
    let horizon = Civil::from_seconds(to + 2 * 86_400);
    let mut locals: Vec<Civil> = Vec::new();
    let generous = max.saturating_mul(2).saturating_add(16);
    for rule in &series.rules {
        let rule = if all_day {
            rule.for_dates()
        } else {
            rule.clone()
        };
        locals.extend(rule.expand_with(local_start, Some(skip_to), horizon, generous, &instant)?);
    }
    if series.rules.is_empty() {
        locals.push(local_start);
    }
    for rdate in &series.rdates {
        locals.push(match rdate {
            Moment::Utc(at) => to_local(*at, zone),
            Moment::Local(c, Some(tz)) => to_local(to_instant(*c, tz), zone),
            Moment::Local(c, None) => *c,
            Moment::Date(day) => Civil {
                day: *day,
                second: local_start.second,
            },
        });
    }
    let mut excluded: Vec<Civil> = Vec::new();
    for rule in &series.exrules {
        let rule = if all_day {
            rule.for_dates()
        } else {
            rule.clone()
        };
        excluded.extend(rule.expand_with(
            local_start,
            Some(skip_to),
            horizon,
            usize::MAX / 2,
            &instant,
        )?);
    }
    let excluded_instants: Vec<i64> = series
        .exdates
        .iter()
        .filter_map(|m| match m {
            Moment::Utc(at) => Some(*at),
            Moment::Local(c, Some(tz)) => Some(to_instant(*c, tz)),
            Moment::Local(c, None) => Some(instant(*c)),
            Moment::Date(_) => None,
        })
        .collect();
    let excluded_days: Vec<i32> = series
        .exdates
        .iter()
        .filter_map(|m| {
            if let Moment::Date(d) = m {
                Some(*d)
            } else {
                None
            }
        })
        .collect();

    locals.sort_unstable();
    locals.dedup();
    let mut expansion = Expansion::default();
    for local in locals {
        let start = instant(local);
        let overlaps = start < to && (start + duration > from || (duration == 0 && start >= from));
        if !overlaps
            || excluded.contains(&local)
            || excluded_days.contains(&local.day)
            || excluded_instants.contains(&start)
        {
            continue;
        }
        if expansion.instances.len() >= max {
            expansion.capped = true;
            break;
        }
        expansion.instances.push(Instance { start, local });
    }
    Ok(expansion)
}

#[cfg(test)]
mod series_tests {
    use super::*;

    fn zone(name: &str) -> jiff::tz::TimeZone {
        crate::time::zone(name).unwrap()
    }

    fn expand(lines: &[&str], local: Civil, tz: &str, from: &str, to: &str) -> Vec<String> {
        let series =
            Series::parse(&lines.iter().map(|l| l.to_string()).collect::<Vec<_>>()).unwrap();
        let tz = zone(tz);
        let (from, to): (jiff::Timestamp, jiff::Timestamp) =
            (from.parse().unwrap(), to.parse().unwrap());
        let start = SeriesStart::Timed {
            local,
            zone: tz.clone(),
        };
        let found =
            expand_series(&series, &start, 3600, from.as_second(), to.as_second(), 100).unwrap();
        found
            .instances
            .iter()
            .map(|i| {
                jiff::Timestamp::from_second(i.start)
                    .unwrap()
                    .to_zoned_datetime(tz.clone())
                    .strftime("%Y-%m-%dT%H:%M%:z")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn wall_clock_holds_across_dst_and_gaps_move_forward() {
        // New York springs forward on 2027-03-14 at 02:00.
        let got = expand(
            &["RRULE:FREQ=DAILY;COUNT=3"],
            Civil::new(2027, 3, 13, 2 * 3600 + 1800),
            "America/New_York",
            "2027-03-01T00:00:00Z",
            "2027-04-01T00:00:00Z",
        );
        assert_eq!(
            got,
            [
                "2027-03-13T02:30-05:00",
                "2027-03-14T03:30-04:00",
                "2027-03-15T02:30-04:00"
            ]
        );
        // Berlin falls back on 2026-10-25 at 03:00: 02:30 happens twice; the first is taken.
        let got = expand(
            &["RRULE:FREQ=DAILY;COUNT=2"],
            Civil::new(2026, 10, 24, 2 * 3600 + 1800),
            "Europe/Berlin",
            "2026-10-01T00:00:00Z",
            "2026-11-01T00:00:00Z",
        );
        assert_eq!(got, ["2026-10-24T02:30+02:00", "2026-10-25T02:30+02:00"]);
    }

    #[test]
    fn exdates_and_rdates_in_every_form() {
        let got = expand(
            &[
                "RRULE:FREQ=DAILY;COUNT=6",
                "EXDATE;TZID=America/New_York:20261202T090000",
                "EXDATE:20261203T140000Z,20261204T140000Z",
                "RDATE;TZID=Europe/London:20261210T140000",
            ],
            Civil::new(2026, 12, 1, 9 * 3600),
            "America/New_York",
            "2026-11-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        );
        assert_eq!(
            got,
            [
                "2026-12-01T09:00-05:00",
                "2026-12-05T09:00-05:00",
                "2026-12-06T09:00-05:00",
                "2026-12-10T09:00-05:00"
            ]
        );
    }
}
