//! What the emulated domain starts with: users, rooms, the service account,
//! ACL rules, events and vacation settings.
//!
//! A seed directory holds
//! - `domain.json`: `{"domain", "seed", "service_account": {"project_id",
//!   "client_email", "client_id", "private_key_id"}, "delegated_scopes": [..],
//!   "users": [{"email","name","time_zone","locale","admin"}],
//!   "rooms": [{"email","name","capacity","time_zone"}],
//!   "acl": [{"calendar","role","scope":{"type","value"}}],
//!   "webex": {"site", "bot_tokens": [..], "service_apps": [{"name", "client_id", "client_secret", "refresh_token", "access_token", "scopes"}], "without_personal_room": [..]},
//!   "oauth_clients": [{"client_id","client_secret","redirect_uris":[..],"name"}]}`
//!   (OAuth clients for OpenID Connect sign-in; `name` is what the account
//!   chooser says the user continues to, `hcal` if absent);
//! - `service-account.pem`: the service account's PKCS#8 RSA private key (the
//!   emulator verifies assertions with its public half and writes it into the
//!   key file it hands out);
//! - `events/<calendar id>.json`: a JSON array of events or an `events.list`
//!   page, stored as given (events whose organizer or attendees are in the
//!   domain also land in those calendars, as invitations do);
//! - `vacation/<email>.json`: Gmail vacation settings.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::EmulatorError;

/// The emulated domain's starting state.
#[derive(Debug, Clone)]
pub struct Seed {
    pub(crate) domain: DomainSeed,
    pub(crate) private_key_pem: Option<String>,
    pub(crate) events: Vec<(String, Vec<Value>)>,
    pub(crate) vacations: Vec<(String, Value)>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DomainSeed {
    pub domain: String,
    /// Makes generated ids and fault dice repeatable.
    #[serde(default)]
    pub seed: u64,
    pub service_account: ServiceAccountSeed,
    #[serde(default)]
    pub delegated_scopes: Vec<String>,
    #[serde(default)]
    pub users: Vec<UserSeed>,
    #[serde(default)]
    pub rooms: Vec<RoomSeed>,
    #[serde(default)]
    pub acl: Vec<AclSeed>,
    /// The Webex site, its bot tokens, who has no Personal Room.
    #[serde(default)]
    pub webex: crate::webex::WebexSeed,
    /// OAuth clients that may sign people in with OpenID Connect.
    #[serde(default)]
    pub oauth_clients: Vec<OAuthClientSeed>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct OAuthClientSeed {
    pub client_id: String,
    pub client_secret: String,
    /// Matched exactly, except that a loopback URI without a port matches
    /// any port (RFC 8252 §7.3).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ServiceAccountSeed {
    pub project_id: String,
    pub client_email: String,
    pub client_id: String,
    pub private_key_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UserSeed {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "utc")]
    pub time_zone: String,
    #[serde(default = "english")]
    pub locale: String,
    #[serde(default)]
    pub admin: bool,
    /// `false`: the service account may not act as this user (as when the
    /// user sits in an organisational unit delegation does not cover).
    #[serde(default = "yes")]
    pub delegation: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RoomSeed {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub capacity: Option<u32>,
    #[serde(default = "utc")]
    pub time_zone: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AclSeed {
    pub calendar: String,
    pub role: String,
    pub scope: AclScopeSeed,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AclScopeSeed {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub value: Option<String>,
}

fn utc() -> String {
    "UTC".into()
}

fn english() -> String {
    "en".into()
}

impl Seed {
    /// The built-in demo organisation: `example.com`, with alice's calendar
    /// (a weekly standup with a moved and a cancelled instance, Webex and Meet
    /// meetings, a room), bob (in focus time, working from home), carol (on
    /// vacation: her Gmail responder), dan (out of office in Calendar), rooms
    /// and an admin.
    pub fn demo() -> Result<Seed, EmulatorError> {
        let domain = parse_domain(include_str!("../seed/demo/domain.json"), "demo/domain.json")?;
        let alice = events_of(
            include_str!("../../fixtures/demo/events.json"),
            "fixtures/demo/events.json",
        )?;
        let carol: Value =
            serde_json::from_str(include_str!("../seed/demo/vacation/carol@example.com.json"))
                .map_err(|e| seed_error(&"demo/vacation", e))?;
        // Presence from Calendar: dan out of office all week, bob in focus
        // time (working from home).
        let mut events = vec![("alice@example.com".to_string(), alice)];
        for (user, text) in [
            (
                "bob@example.com",
                include_str!("../seed/demo/events/bob@example.com.json"),
            ),
            (
                "dan@example.com",
                include_str!("../seed/demo/events/dan@example.com.json"),
            ),
        ] {
            events.push((user.to_string(), events_of(text, "demo/events")?));
        }
        Ok(Seed {
            domain,
            private_key_pem: Some(include_str!("../seed/demo/service-account.pem").to_string()),
            events,
            vacations: vec![("carol@example.com".into(), carol)],
        })
    }

    /// The same organisation with its calendars moved by whole weeks so that
    /// the demo week (2026-11-30, a Monday, in the seed) is the week of
    /// `now`: its meetings still lie ahead whatever the date. Event times,
    /// instance ids (`standup_20261202T080000Z`), recurrence rules and
    /// vacation dates all move together; weekdays and wall-clock times stay.
    pub fn shifted_to_week_of(mut self, now: jiff::Timestamp) -> Seed {
        let base: jiff::Timestamp = "2026-11-30T00:00:00Z".parse().expect("a fixed instant");
        let weeks = (now.as_second() - base.as_second()).div_euclid(7 * 86_400);
        if weeks == 0 {
            return self;
        }
        let days = weeks * 7;
        for (_, events) in &mut self.events {
            for event in events.iter_mut() {
                shift_value(event, days);
            }
        }
        for (_, vacation) in &mut self.vacations {
            for field in ["startTime", "endTime"] {
                if let Some(ms) = vacation[field].as_str().and_then(|t| t.parse::<i64>().ok()) {
                    vacation[field] = Value::String((ms + days * 86_400_000).to_string());
                }
            }
        }
        self
    }

    /// Read a seed directory (see the module documentation for its layout).
    pub fn from_dir(dir: &Path) -> Result<Seed, EmulatorError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|e| EmulatorError::Seed {
                path: path.display().to_string(),
                message: e.to_string(),
            })
        };
        let domain_path = dir.join("domain.json");
        let domain = parse_domain(&read(&domain_path)?, &domain_path.display().to_string())?;
        let key_path = dir.join("service-account.pem");
        let private_key_pem = if key_path.exists() {
            Some(read(&key_path)?)
        } else {
            None
        };
        let mut events = Vec::new();
        for (name, path) in json_files(&dir.join("events"))? {
            events.push((name, events_of(&read(&path)?, &path.display().to_string())?));
        }
        let mut vacations = Vec::new();
        for (name, path) in json_files(&dir.join("vacation"))? {
            let value =
                serde_json::from_str(&read(&path)?).map_err(|e| seed_error(&path.display(), e))?;
            vacations.push((name, value));
        }
        Ok(Seed {
            domain,
            private_key_pem,
            events,
            vacations,
        })
    }

    /// Add a user to the domain before starting (benchmarks, tests): UTC,
    /// English, delegation granted.
    pub fn with_user(mut self, email: &str, name: &str) -> Seed {
        self.domain.users.push(UserSeed {
            email: email.to_ascii_lowercase(),
            name: Some(name.to_string()),
            time_zone: utc(),
            locale: english(),
            admin: false,
            delegation: true,
        });
        self
    }

    /// Register an OAuth client for OpenID Connect sign-in (after the seed's
    /// own; one with the same `client_id` is replaced). A loopback redirect
    /// URI without a port (`http://127.0.0.1/cb`) matches any port.
    pub fn with_oauth_client(
        mut self,
        client_id: &str,
        client_secret: &str,
        redirect_uris: &[&str],
    ) -> Seed {
        let client = OAuthClientSeed {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            redirect_uris: redirect_uris.iter().map(|u| u.to_string()).collect(),
            name: None,
        };
        match self
            .domain
            .oauth_clients
            .iter_mut()
            .find(|c| c.client_id == client_id)
        {
            Some(existing) => *existing = client,
            None => self.domain.oauth_clients.push(client),
        }
        self
    }

    /// Add events to a calendar before starting (benchmarks, tests).
    pub fn with_events(mut self, calendar_id: &str, events: Vec<Value>) -> Seed {
        self.events.push((calendar_id.to_string(), events));
        self
    }

    /// The events seeded, as given (before invitations are copied into
    /// invitees' calendars).
    pub fn event_count(&self) -> usize {
        self.events.iter().map(|(_, events)| events.len()).sum()
    }
}

fn parse_domain(text: &str, path: &str) -> Result<DomainSeed, EmulatorError> {
    serde_json::from_str(text).map_err(|e| seed_error(&path, e))
}

/// A calendar's seeded events: an array, or an `events.list` page's `items`.
fn events_of(text: &str, path: &str) -> Result<Vec<Value>, EmulatorError> {
    let value: Value = serde_json::from_str(text).map_err(|e| seed_error(&path, e))?;
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(mut page) => match page.remove("items") {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(seed_error(
                &path,
                "expected an array of events or a page with \"items\"",
            )),
        },
        _ => Err(seed_error(
            &path,
            "expected an array of events or a page with \"items\"",
        )),
    }
}

/// `(file stem, path)` of each `*.json` in `dir`, sorted; none if `dir` is absent.
fn json_files(dir: &Path) -> Result<Vec<(String, std::path::PathBuf)>, EmulatorError> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| seed_error(&dir.display(), e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| seed_error(&dir.display(), e))?.path();
        if path.extension().is_some_and(|ext| ext == "json")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            files.push((stem.to_string(), path.clone()));
        }
    }
    files.sort();
    Ok(files)
}

fn seed_error(path: &dyn std::fmt::Display, message: impl std::fmt::Display) -> EmulatorError {
    EmulatorError::Seed {
        path: path.to_string(),
        message: message.to_string(),
    }
}

/// Move every date in an event by `days`: `date` and `dateTime` values,
/// ids and recurrence lines with `YYYYMMDD` in them.
fn shift_value(value: &mut Value, days: i64) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                match (key.as_str(), &*item) {
                    ("date" | "dateTime", Value::String(text)) => {
                        *item = Value::String(shift_iso(text, days));
                    }
                    ("id" | "recurringEventId", Value::String(text)) => {
                        *item = Value::String(shift_compact(text, days));
                    }
                    _ => shift_value(item, days),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if let Value::String(text) = item {
                    // Recurrence lines: RRULE UNTIL=, EXDATE and RDATE values.
                    if text.starts_with("RRULE")
                        || text.starts_with("EXDATE")
                        || text.starts_with("RDATE")
                    {
                        *text = shift_compact(text, days);
                    }
                } else {
                    shift_value(item, days);
                }
            }
        }
        _ => {}
    }
}

/// `2026-12-01` or `2026-12-01T10:00:00+01:00`: the date part moved.
fn shift_iso(text: &str, days: i64) -> String {
    let Some(date) = text
        .get(..10)
        .and_then(|d| d.parse::<jiff::civil::Date>().ok())
    else {
        return text.to_string();
    };
    match date.checked_add(jiff::Span::new().days(days)) {
        Ok(moved) => format!("{moved}{}", &text[10..]),
        Err(_) => text.to_string(),
    }
}

/// Every run of eight digits that is a date (`20261202`) moved.
fn shift_compact(text: &str, days: i64) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if run == 0 {
            let c = text[i..].chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8().max(1);
            continue;
        }
        let digits = &text[i..i + run];
        let moved = (run == 8)
            .then(|| {
                let iso = format!("{}-{}-{}", &digits[..4], &digits[4..6], &digits[6..]);
                let date: jiff::civil::Date = iso.parse().ok()?;
                let moved = date.checked_add(jiff::Span::new().days(days)).ok()?;
                Some(moved.strftime("%Y%m%d").to_string())
            })
            .flatten();
        out.push_str(moved.as_deref().unwrap_or(digits));
        i += run;
    }
    out
}

#[cfg(test)]
mod shift_tests {
    use super::*;

    #[test]
    fn the_demo_week_moves_to_this_week() {
        let now: jiff::Timestamp = "2027-03-10T12:00:00Z".parse().unwrap();
        let seed = Seed::demo().unwrap().shifted_to_week_of(now);
        let text = serde_json::to_string(&seed.events).unwrap();
        assert!(!text.contains("2026-12-01"), "{text}");
        // 2026-11-30 + 14 weeks = 2027-03-08, a Monday.
        assert!(text.contains("standup_20270310T080000Z"), "{text}");
        assert!(text.contains("2027-03-"), "{text}");
        assert_eq!(
            shift_iso("2026-12-01T10:00:00+01:00", 7),
            "2026-12-08T10:00:00+01:00"
        );
        assert_eq!(
            shift_compact("EXDATE;TZID=Europe/Berlin:20261127T090000", 7),
            "EXDATE;TZID=Europe/Berlin:20261204T090000"
        );
        assert_eq!(
            shift_compact("RRULE:FREQ=WEEKLY;COUNT=10", 7),
            "RRULE:FREQ=WEEKLY;COUNT=10"
        );
        let same = Seed::demo()
            .unwrap()
            .shifted_to_week_of("2026-12-02T00:00:00Z".parse().unwrap());
        assert_eq!(
            serde_json::to_string(&same.events).unwrap(),
            serde_json::to_string(&Seed::demo().unwrap().events).unwrap()
        );
    }
}
